"""Describing a Podman service: rootless or not, limits enforced or not, who container root is."""

from __future__ import annotations

import os
import pwd
from typing import Any, Mapping, Sequence
from urllib.parse import urlparse

from flwd.adapters.podman_service import ping
from flwd.ports.runtime import RuntimeInfo


def describe(url: str, version: str, rootless: bool, enforces: bool, uid: int, gid: int
             ) -> RuntimeInfo:
    """The RuntimeInfo of a Podman service, with the problems its settings imply."""
    problems = []
    if not rootless:
        problems.append("the Podman service runs as root: containers are not rootless")
    if not enforces:
        problems.append("rootless Podman on cgroup v1 ignores pids/memory/cpu limits")
    return RuntimeInfo(name="podman", version=version, rootless=rootless, socket=url,
                       enforces_limits=enforces, root_uid=uid, root_gid=gid,
                       problems=tuple(problems))


def local_socket_info(url: str) -> RuntimeInfo | None:
    """Describe a Podman service on a unix socket of this host without ``GET /info``.

    The service runs as the user who owns its socket: rootless when that is not root, and
    rootless Podman maps container root to that user and its primary group. The version is
    in the ``/_ping`` answer; the cgroup version is this host's. ``None`` when any of that
    cannot be read (the caller then asks ``/info``).
    """
    parsed = urlparse(url)
    if parsed.scheme not in ("unix", "http+unix"):
        return None
    try:
        headers = ping(url, timeout=2.0)
        owner = os.stat(parsed.path).st_uid
        group = pwd.getpwuid(owner).pw_gid if owner else 0
    except (OSError, KeyError):
        return None
    version = headers.get("libpod-api-version")
    if not version:
        return None
    rootless = owner != 0
    cgroup_v1 = not os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    return describe(url, version, rootless, not (rootless and cgroup_v1), owner, group)


def root_ids(host: Mapping[str, Any]) -> tuple[int, int]:
    """Host uid/gid that container root maps to, from ``info.host.idMappings`` (0 if unmapped)."""
    mappings = host.get("idMappings") or {}

    def host_id(entries: Sequence[Mapping[str, int]] | None) -> int:
        for entry in entries or ():
            if entry.get("container_id") == 0:
                return int(entry.get("host_id", 0))
        return 0

    return host_id(mappings.get("uidmap")), host_id(mappings.get("gidmap"))


def info_from_api(url: str, info: Mapping[str, Any]) -> RuntimeInfo:
    """The RuntimeInfo in a libpod ``GET /info`` answer."""
    host = info.get("host", {})
    rootless = bool(host.get("security", {}).get("rootless"))
    enforces = not (rootless and host.get("cgroupVersion") == "v1")
    uid, gid = root_ids(host)
    return describe(url, str(info.get("version", {}).get("Version", "?")), rootless, enforces,
                    uid, gid)
