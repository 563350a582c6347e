#!/usr/bin/env bash
# Prepare this machine (as root, idempotent) for flwd's integration tests and for development:
#   * packages: podman, runc, docker.io, busybox-static, rootless helpers, docker-registry
#     (the CNCF registry; tests/integration/oci_registry.py starts its own on loopback per session),
#     postgresql-15, redis-server, rabbitmq-server (tests/integration/{pg,redis,rabbit}_support.py
#     start private servers of their own and stop them)
#   * Podman uses runc (crun fails on this cgroup-v1/hybrid host)
#   * a Docker daemon listening on /var/run/docker.sock
#   * a rootless Podman API service run by user `flwdrun`
#   * the offline test image (busybox) in root Podman, flwdrun's Podman and Docker,
#     tagged localhost/flwd-test:latest + docker.io/library/alpine:3.20 (Docker: flwd-test:latest, alpine:3.20)
# Writes /run/flwd-ci.env (FLWD_TEST_DOCKER_SOCKET, FLWD_TEST_PODMAN_SOCKET) for tests to source.
# Re-runs skip everything already in place; a warm re-run takes about a second.
set -euo pipefail

RUN_USER=${FLWD_RUN_USER:-flwdrun}
ENV_FILE=/run/flwd-ci.env
DOCKER_LOG=/var/log/flwd-dockerd.log
# zsh, fish: the completion scripts are loaded in those shells by tests/unit/test_completion_shells.py
# docker-registry: tests/integration/oci_registry.py serves a local registry with it
# postgresql-15: tests start private clusters of their own (tests/integration/pg_support.py);
# redis-server: tests start private servers of their own (tests/integration/redis_support.py)
# rabbitmq-server (with Erlang): tests start private nodes of their own, each with its own epmd
# (tests/integration/rabbit_support.py)
# policy-rc.d below keeps the packages' default cluster, server and node stopped
PACKAGES=(podman runc uidmap slirp4netns fuse-overlayfs busybox-static docker.io iproute2 curl catatonit
          zsh fish docker-registry postgresql-15 redis-server chromium rabbitmq-server)
IMAGE=localhost/flwd-test:latest
ALIAS=docker.io/library/alpine:3.20
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
START=$SECONDS

log() { printf '[setup-runtimes %3ss] %s\n' "$((SECONDS - START))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2 deadline=$((SECONDS + $1)); shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.5
  done
  log "$what is up"
}

[ "$(id -u)" = 0 ] || die "run me as root (sudo $0)"

install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ]; then log "packages already installed"; return; fi
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
  local guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    # no service starts from package scripts: this script starts dockerd itself
    guard=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$guard"; chmod 0755 "$guard"
  fi
  apt-get update -qq
  # with Recommends: podman needs catatonit (--init) and the CNI plugins from them
  apt-get install -y -qq "${PACKAGES[@]}" >/dev/null || { [ -z "$guard" ] || rm -f "$guard"; exit 1; }
  [ -z "$guard" ] || rm -f "$guard"
}

set_engine() { # set_engine FILE KEY VALUE: KEY = VALUE under [engine], keeping everything else
  local f=$1 key=$2 value=$3
  mkdir -p "$(dirname "$f")"
  [ -f "$f" ] || : >"$f"
  if grep -Eq "^[[:space:]]*$key[[:space:]]*=[[:space:]]*$value\$" "$f"; then return; fi
  if grep -Eq "^[[:space:]]*$key[[:space:]]*=" "$f"; then
    sed -Ei "s/^[[:space:]]*$key[[:space:]]*=.*/$key = $value/" "$f"
  elif grep -Eq '^\[engine\]' "$f"; then
    sed -i "/^\[engine\]/a $key = $value" "$f"
  else
    printf '\n[engine]\n%s = %s\n' "$key" "$value" >>"$f"
  fi
  log "set $key = $value in $f"
}

set_runc() { # set_runc FILE: Podman's engine settings for this host in FILE
  set_engine "$1" runtime '"runc"'
  # the file event logger rotates at 1 MB by default (16 MB fits on the 64 MB XDG tmpfs), dropping the events that tests read back
  # (`podman events --since`) once a suite has created a few hundred containers
  set_engine "$1" events_logfile_max_size '"16m"'
}

configure_podman() {
  set_runc /etc/containers/containers.conf
  # rootless bridge networking (slirp4netns) needs a usable tun device
  if [ -e /dev/net/tun ]; then chmod 0666 /dev/net/tun; fi
}

docker_up() { curl -sf --max-time 2 --unix-socket /var/run/docker.sock http://d/_ping; }

start_docker() {
  if docker_up >/dev/null 2>&1; then log "dockerd already answering"; return; fi
  if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid   # stale pid file from a dead daemon blocks a new one
  fi
  log "starting dockerd (log: $DOCKER_LOG)"
  setsid nohup dockerd >"$DOCKER_LOG" 2>&1 </dev/null &
  wait_for 60 dockerd docker_up || { tail -20 "$DOCKER_LOG" >&2; die "dockerd did not come up"; }
}

ensure_run_user() {
  if ! id "$RUN_USER" >/dev/null 2>&1; then
    useradd -m -s /bin/sh "$RUN_USER"
    log "created user $RUN_USER"
  fi
  local f
  for f in /etc/subuid /etc/subgid; do
    touch "$f"
    if ! grep -q "^$RUN_USER:" "$f"; then
      # next free 65536 range after the highest one already given out
      local start
      start=$(awk -F: 'BEGIN{m=100000} {e=$2+$3; if (e>m) m=e} END{print m}' "$f")
      echo "$RUN_USER:$start:65536" >>"$f"
      log "added $RUN_USER:$start:65536 to $f"
    fi
  done
  RUN_UID=$(id -u "$RUN_USER"); RUN_GID=$(id -g "$RUN_USER")
  RUN_HOME=$(getent passwd "$RUN_USER" | cut -d: -f6)
  RUN_XDG=/run/user/$RUN_UID
  PODMAN_SOCK=$RUN_XDG/podman/podman.sock
  mkdir -p "$RUN_XDG"
  if ! mountpoint -q "$RUN_XDG"; then
    mount -t tmpfs -o "mode=0700,uid=$RUN_UID,gid=$RUN_GID,size=64m" tmpfs "$RUN_XDG" \
      || log "tmpfs mount on $RUN_XDG failed; using a plain directory"
  fi
  chown "$RUN_UID:$RUN_GID" "$RUN_XDG"; chmod 0700 "$RUN_XDG"
  local conf=$RUN_HOME/.config/containers/containers.conf
  if [ ! -f "$conf" ] || ! grep -q 'events_logfile_max_size = "16m"' "$conf"; then
    su -s /bin/sh "$RUN_USER" -c "mkdir -p '$(dirname "$conf")'"
    set_runc "$conf"
    chown "$RUN_UID:$RUN_GID" "$conf"
  fi
}

as_run_user() { # run a shell snippet as the rootless user with its runtime dir
  su -s /bin/sh "$RUN_USER" -c "export XDG_RUNTIME_DIR='$RUN_XDG' HOME='$RUN_HOME'; cd; $1"
}

podman_rootless_up() { curl -sf --max-time 2 --unix-socket "$PODMAN_SOCK" http://d/_ping; }

start_rootless_podman() {
  if podman_rootless_up >/dev/null 2>&1; then log "rootless podman service already answering"; return; fi
  log "starting rootless podman service for $RUN_USER on $PODMAN_SOCK"
  as_run_user "mkdir -p '$RUN_XDG/podman'; setsid nohup podman system service --time=0 \
    'unix://$PODMAN_SOCK' >'$RUN_XDG/podman-service.log' 2>&1 </dev/null &"
  wait_for 60 "rootless podman service" podman_rootless_up \
    || { tail -20 "$RUN_XDG/podman-service.log" >&2; die "rootless podman service did not come up"; }
}

write_env() {
  local tmp
  tmp=$(mktemp /run/flwd-ci.env.XXXXXX)
  cat >"$tmp" <<EOF
FLWD_TEST_DOCKER_SOCKET=unix:///var/run/docker.sock
FLWD_TEST_PODMAN_SOCKET=unix://$PODMAN_SOCK
FLWD_TEST_PODMAN_USER=$RUN_USER
EOF
  chmod 0644 "$tmp"; mv "$tmp" "$ENV_FILE"
  log "wrote $ENV_FILE"
}

build_images() {
  local archive ctx
  if podman image exists "$IMAGE"; then
    log "root podman: $IMAGE present"
  else
    ctx=$(mktemp -d /tmp/flwd-image.XXXXXX)
    "$HERE/images/busybox-context.sh" "$ctx/ctx"
    podman build -q -t "$IMAGE" -f "$ctx/ctx/Containerfile" "$ctx/ctx" >/dev/null
    rm -rf "$ctx"
    log "root podman: built $IMAGE"
  fi
  podman image exists "$ALIAS" || podman tag "$IMAGE" "$ALIAS"

  archive=$(mktemp /tmp/flwd-image.XXXXXX.tar)
  chmod 0644 "$archive"
  podman save -q --format docker-archive -o "$archive" "$IMAGE" 2>/dev/null \
    || podman save --format docker-archive -o "$archive" "$IMAGE"

  if as_run_user "podman image exists '$IMAGE'"; then
    log "rootless podman: $IMAGE present"
  else
    as_run_user "podman load -q -i '$archive' >/dev/null"
    log "rootless podman: loaded $IMAGE"
  fi
  as_run_user "podman image exists '$ALIAS' || podman tag '$IMAGE' '$ALIAS'"

  if docker image inspect flwd-test:latest >/dev/null 2>&1; then
    log "docker: flwd-test:latest present"
  else
    docker load -q -i "$archive" >/dev/null
    docker tag "$IMAGE" flwd-test:latest
    docker rmi "$IMAGE" >/dev/null   # only drops the extra name
    log "docker: loaded flwd-test:latest"
  fi
  docker image inspect alpine:3.20 >/dev/null 2>&1 || docker tag flwd-test:latest alpine:3.20
  rm -f "$archive"
}

install_packages
configure_podman
ensure_run_user
start_rootless_podman
write_env
start_docker
build_images
log "done: $(tr '\n' ' ' <"$ENV_FILE")"
