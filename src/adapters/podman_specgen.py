"""The libpod SpecGenerator JSON for a ContainerSpec: what the Podman adapter asks to create."""

from __future__ import annotations

from typing import Any, Mapping

from flwd.ports.runtime import ContainerSpec

# Root Podman's own defaults exceed this kind of host's hard limits and runc then fails with
# "setrlimit: operation not permitted" once capabilities are dropped: always send both.
DEFAULT_NPROC = 4096
CPU_PERIOD_US = 100_000
PODMAN_DEFAULT_ENV = ("TERM", "container")


def build_specgen(spec: ContainerSpec) -> dict[str, Any]:
    """The libpod SpecGenerator JSON for *spec*: every field, no Podman-only extras."""
    body: dict[str, Any] = {
        "name": spec.name,
        "image": spec.image,
        "env": dict(spec.env),
        "labels": dict(spec.labels),
        "work_dir": spec.workdir,
        "read_only_filesystem": spec.read_only_rootfs,
        # Podman would add writable tmpfs on /run, /tmp, /var/tmp under --read-only; Docker
        # does not, and flwd promises exactly one writable tmpfs, /tmp.
        "read_write_tmpfs": False,
        # an image's VOLUME stays part of the root filesystem (read-only under secure): no
        # writable, unbounded anonymous volume, which Podman 4.3 also kept after the removal
        "image_volume_mode": "ignore",
        "mounts": _mounts(spec),
        "cap_drop": list(spec.cap_drop),
        "cap_add": list(spec.cap_add),
        "no_new_privileges": spec.no_new_privileges,
        "privileged": False,
        "devices": [],
        "netns": {"nsmode": spec.network},
        "pidns": {"nsmode": "private"},
        "ipcns": {"nsmode": "private"},
        "utsns": {"nsmode": "private"},
        "init": spec.init,
        "r_limits": _rlimits(spec.ulimits),
        "resource_limits": _resources(spec),
        "stdin": False,
        "terminal": False,
    }
    # Podman adds these on its own (containers.conf's TERM, its container= marker); Docker
    # does not, and the environment must be the same on both: only what the job is given.
    unset = [name for name in PODMAN_DEFAULT_ENV if name not in spec.env]
    if unset:
        body["unsetenv"] = unset
    if spec.command is not None:
        # exec form replaces the image's entrypoint and cmd alike, as `--entrypoint` would
        body["entrypoint"] = [spec.command[0]] if spec.command else []
        body["command"] = list(spec.command[1:])
    if spec.user:
        body["user"] = spec.user
    return body


def _mounts(spec: ContainerSpec) -> list[dict[str, Any]]:
    mounts: list[dict[str, Any]] = []
    for target, options in spec.tmpfs.items():
        opts = [o.strip() for o in options.split(",") if o.strip()] or ["rw", "nosuid", "nodev"]
        mounts.append({"destination": target, "type": "tmpfs", "source": "tmpfs", "options": opts})
    for mount in spec.mounts:
        mode = "ro" if mount.read_only else "rw"
        mounts.append({
            "destination": mount.target, "type": "bind", "source": mount.source,
            # no z/Z: relabelling is for SELinux hosts and would touch the host's labels
            "options": ["rbind", mode, "nosuid", "nodev"],
        })
    return mounts


def _rlimits(ulimits: Mapping[str, int]) -> list[dict[str, Any]]:
    limits = {"nproc": DEFAULT_NPROC, **ulimits}
    return [{"type": name, "soft": value, "hard": value} for name, value in limits.items()]


def _resources(spec: ContainerSpec) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if spec.pids_limit is not None:
        resources["pids"] = {"limit": spec.pids_limit}
    if spec.memory_bytes is not None:
        # memory plus swap, as Docker's memswap_limit: no swap beyond the limit (unset,
        # Podman allows as much swap again, doubling what the job may use)
        resources["memory"] = {"limit": spec.memory_bytes, "swap": spec.memory_bytes}
    if spec.nano_cpus is not None:
        quota = max(1000, spec.nano_cpus * CPU_PERIOD_US // 1_000_000_000)
        resources["cpu"] = {"quota": quota, "period": CPU_PERIOD_US}
    return resources
