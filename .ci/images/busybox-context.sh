#!/usr/bin/env bash
# Generate an offline build context for the flwd test image from the host's static busybox.
# Usage: .ci/images/busybox-context.sh DIR   -> DIR/Containerfile + DIR/rootfs/
# The image is FROM scratch with busybox and one symlink per applet (COPY only, no RUN step,
# so building needs no container run and works with `podman build` and `docker build`).
set -euo pipefail
out=${1:?usage: busybox-context.sh DIR}
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || busybox=/usr/bin/busybox
if ldd "$busybox" >/dev/null 2>&1; then
  echo "busybox-context: $busybox is dynamically linked (install busybox-static)" >&2; exit 1
fi
rm -rf "$out"
mkdir -p "$out/rootfs/bin" "$out/rootfs/etc" "$out/rootfs/tmp" "$out/rootfs/root" \
  "$out/rootfs/usr/bin" "$out/rootfs/usr/sbin" "$out/rootfs/sbin"
chmod 1777 "$out/rootfs/tmp"
cp "$busybox" "$out/rootfs/bin/busybox"
chmod 0755 "$out/rootfs/bin/busybox"
"$busybox" --list-full | while read -r applet; do
  case "$applet" in bin/busybox|"") continue ;; esac
  mkdir -p "$out/rootfs/$(dirname "$applet")"
  ln -sf /bin/busybox "$out/rootfs/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
  >"$out/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$out/rootfs/etc/group"
cat >"$out/Containerfile" <<'CF'
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin
CMD ["/bin/sh"]
CF
