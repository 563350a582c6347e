"""The docker-py ``containers.create`` keywords for a ContainerSpec: what the Docker adapter asks to create."""

from __future__ import annotations

from typing import Any, Sequence

from docker.types import Mount as DockerMount
from docker.types import Ulimit

from flwd.ports.runtime import ContainerSpec


# Docker has no --image-volume ignore: an image's VOLUME would be a writable, unbounded host
# directory in a read-only container. An empty read-only tmpfs covers it instead.
MASKED_VOLUME = "ro,nosuid,nodev,noexec"


def create_kwargs(spec: ContainerSpec, image_volumes: Sequence[str] = ()) -> dict[str, Any]:
    """ContainerSpec -> docker-py ``containers.create`` keywords; nothing from the host beyond
    mounts. Under a read-only root, each of *image_volumes* (the image's VOLUME paths) that no
    mount of the spec covers gets an empty read-only tmpfs."""
    tmpfs = {target: _explicit_tmpfs_options(o) for target, o in spec.tmpfs.items()}
    if spec.read_only_rootfs:
        taken = {*tmpfs, *(m.target for m in spec.mounts)}
        tmpfs.update({path: MASKED_VOLUME for path in image_volumes if path not in taken})
    return {
        "image": spec.image,
        # A command replaces the image's entrypoint too (as on Podman): the job's script or
        # exec form runs as written, whatever ENTRYPOINT the image carries.
        "entrypoint": list(spec.command[:1]) if spec.command else None,
        "command": list(spec.command[1:]) if spec.command else None,
        "name": spec.name,
        "environment": dict(spec.env),
        "labels": dict(spec.labels),
        "mounts": [
            DockerMount(target=m.target, source=m.source, type="bind", read_only=m.read_only)
            for m in spec.mounts
        ],
        "working_dir": spec.workdir,
        "read_only": spec.read_only_rootfs,
        "tmpfs": tmpfs or None,
        "cap_drop": list(spec.cap_drop) or None,
        "cap_add": list(spec.cap_add) or None,
        "security_opt": ["no-new-privileges"] if spec.no_new_privileges else None,
        "network_mode": spec.network,
        "pids_limit": spec.pids_limit,
        "mem_limit": spec.memory_bytes,
        "memswap_limit": spec.memory_bytes,  # no swap beyond the memory ceiling
        "nano_cpus": spec.nano_cpus,
        "init": spec.init,
        "ulimits": [Ulimit(name=k, soft=v, hard=v) for k, v in spec.ulimits.items()] or None,
        "user": spec.user,
        "privileged": False,
        "detach": True,
        "stdin_open": False,
        "tty": False,
    }


def _explicit_tmpfs_options(options: str) -> str:
    """Docker silently adds noexec/nosuid/nodev unless told otherwise: say exec/suid/dev
    where the plan did not ask for the restriction, so the mount has exactly its flags."""
    flags = [f for f in options.split(",") if f]
    for permissive in ("exec", "suid", "dev"):
        if permissive not in flags and f"no{permissive}" not in flags:
            flags.append(permissive)
    return ",".join(flags)
