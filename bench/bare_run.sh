#!/usr/bin/env bash
# The baseline for bench/run_bench.py: one hardened container run straight through the runtime
# CLI, with the flags flwd's secure profile produces. Usage:
#   bench/bare_run.sh podman|podman-rootful|docker SOCKET_URL IMAGE JOB_DIR RUN_BASE
set -euo pipefail
runtime=$1 socket=$2 image=$3 job_dir=$4 run_base=$5
run_id=$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
run_dir="$run_base/$run_id"
mkdir -m 0755 "$run_dir"
flags=(run --rm --name "bare-$run_id" --read-only
       --tmpfs /tmp:rw,nosuid,nodev,size=64m --cap-drop ALL
       --security-opt no-new-privileges --network none --pids-limit 256 --init
       --ulimit nofile=1024:1024
       -v "$job_dir:/flwd/job:ro" -v "$run_dir:/flwd/run:rw" -w /flwd/run
       -e FLWD_RUN_ID="$run_id" -e FLWD_JOB_ID=echo -e FLWD_JOB_DIR=/flwd/job
       -e FLWD_RUN_DIR=/flwd/run -e FLWD_SECRETS_DIR=/run/secrets -e FLWD_ARGS_JSON='{}')
if [ "$runtime" = podman-rootful ]; then  # root's own storage, no service (SOCKET_URL empty)
  exec podman "${flags[@]}" --ulimit nproc=4096:4096 --read-only-tmpfs=false "$image" /bin/sh /flwd/job/main.sh
elif [ "$runtime" = podman ]; then
  exec podman --url "$socket" "${flags[@]}" --read-only-tmpfs=false "$image" /bin/sh /flwd/job/main.sh
else
  exec docker -H "$socket" "${flags[@]}" "$image" /bin/sh /flwd/job/main.sh
fi
