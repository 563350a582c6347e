"""Podman adapter of the ContainerRuntime port, speaking libpod's REST API through podman-py."""

from __future__ import annotations

import json
import math
import os
import pwd
import re
import threading
import time
from typing import Any, Callable, Iterator, Mapping, Sequence
from urllib.parse import urlparse

from flwd.adapters._runtime_common import (
    NEVER_PULL_MESSAGE,
    PULL_POLICIES,
    check_reachable,
    managed_container,
    split_lines,
)
from flwd.adapters.podman_service import CRUN_HINT, PrivatePodmanService, ping
from flwd.domain.errors import (
    ContainerNameConflictError,
    FlwdError,
    OciError,
    RuntimeUnavailableError,
)
from flwd.ports.runtime import (
    LABEL_RUN_ID,
    ContainerSpec,
    ManagedContainer,
    OutputLine,
    PullProgress,
    RuntimeInfo,
)

# Root Podman's own defaults exceed this kind of host's hard limits and runc then fails with
# "setrlimit: operation not permitted" once capabilities are dropped: always send both.
DEFAULT_NPROC = 4096
CPU_PERIOD_US = 100_000
_NAME_IN_USE = "name is already in use"
_GONE = (304, 404)
LOG_POLL_SECONDS = 0.2
# how often the service checks a waited-for container (libpod's default, 250ms, made every run
# end ~0.2 s late on average; a state check is cheap)
WAIT_POLL_INTERVAL = "50ms"
# Podman's --init (catatonit) exits 1 when it cannot exec the job's command; Docker's (tini)
# exits as a shell does, 127 for a command not found and 126 for one that cannot run. The same
# job gives the same exit code on both: catatonit's last stderr line says which it was.
_CATATONIT_EXEC_FAILED = re.compile(rb"ERROR \(catatonit:\d+\): failed to exec pid1: (.+)")
_NOT_FOUND = b"No such file or directory"
_INIT_ERROR_MAX_BYTES = 1024  # catatonit's line is ~70 bytes: more stderr is the job's own
_ENDED = ("exited", "stopped", "dead", "removing", None)
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
        resources["memory"] = {"limit": spec.memory_bytes}
    if spec.nano_cpus is not None:
        quota = max(1000, spec.nano_cpus * CPU_PERIOD_US // 1_000_000_000)
        resources["cpu"] = {"quota": quota, "period": CPU_PERIOD_US}
    return resources


def _info(url: str, version: str, rootless: bool, enforces: bool, uid: int, gid: int) -> RuntimeInfo:
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
    return _info(url, version, rootless, not (rootless and cgroup_v1), owner, group)


def root_ids(host: Mapping[str, Any]) -> tuple[int, int]:
    """Host uid/gid that container root maps to, from ``info.host.idMappings`` (0 if unmapped)."""
    mappings = host.get("idMappings") or {}

    def host_id(entries: Sequence[Mapping[str, int]] | None) -> int:
        for entry in entries or ():
            if entry.get("container_id") == 0:
                return int(entry.get("host_id", 0))
        return 0

    return host_id(mappings.get("uidmap")), host_id(mappings.get("gidmap"))


def _frames(chunks: Iterator[bytes]) -> Iterator[tuple[str, bytes]]:
    """Demultiplex the 8-byte-header log stream into ``(stream, payload)`` pairs."""
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        while len(buffer) >= 8:
            size = int.from_bytes(buffer[4:8], "big")
            if len(buffer) < 8 + size:
                break
            kind, payload, buffer = buffer[0], buffer[8:8 + size], buffer[8 + size:]
            yield ("stderr" if kind == 2 else "stdout"), payload


class PodmanRuntime:
    """A Podman API service (rootless or not) as flwd's container runtime."""

    name = "podman"

    def __init__(
        self, url: str, timeout: float = 30.0, *, service: PrivatePodmanService | None = None,
        fast_probe: bool = True,
    ) -> None:
        self.url = url
        self._timeout = timeout
        self._service = service
        self._client: Any = None
        self._fast_probe = fast_probe
        self._info: RuntimeInfo | None = None
        # set when wait() sees a container stop: its log poll reads the rest at once
        self._stopped: dict[str, threading.Event] = {}
        self._stopped_lock = threading.Lock()

    # --- plumbing -------------------------------------------------------------------

    def _api(self) -> Any:
        if self._client is None:
            check_reachable(self.url, "Podman")
            from podman import PodmanClient  # heavy import: only when a runtime is used

            self._client = PodmanClient(base_url=self.url, timeout=self._timeout)
        return self._client.api

    def _call(self, method: str, path: str, action: str, **kwargs: Any) -> Any:
        """One libpod request; connection failures become RuntimeUnavailableError."""
        kwargs.setdefault("timeout", (2.0, self._timeout))
        try:
            return getattr(self._api(), method)(path, **kwargs)
        except FlwdError:
            raise
        except OSError as exc:
            raise self._unavailable(action, exc) from exc
        except Exception as exc:  # podman-py wraps socket errors in APIError
            if isinstance(exc.__cause__, OSError):
                raise self._unavailable(action, exc.__cause__) from exc
            raise OciError(f"{action} failed: {exc}", action=action, socket=self.url) from exc

    def _unavailable(self, action: str, exc: BaseException) -> RuntimeUnavailableError:
        return RuntimeUnavailableError(
            f"Podman at {self.url} failed during {action}: {exc}", runtime="podman",
            socket=self.url, action=action,
        )

    def _fail(self, response: Any, action: str, **context: object) -> OciError:
        message = _message(response)
        if "crun" in message and action in ("create", "start"):
            message = f"{message} ({CRUN_HINT})"
        return OciError(f"{action} failed: {message}", action=action,
                        status=response.status_code, socket=self.url, **context)

    # --- the port -------------------------------------------------------------------

    def probe(self) -> RuntimeInfo:
        """Described once per adapter. A local socket is described from the socket itself
        (``GET /info`` costs ~0.5 s on rootless Podman 4.3); anything else asks ``/info``."""
        if self._info is None:
            local = local_socket_info(self.url) if self._fast_probe else None
            self._info = local or self._probe_info()
        return self._info

    def _probe_info(self) -> RuntimeInfo:
        response = self._call("get", "/info", "probe")
        if response.status_code != 200:
            raise RuntimeUnavailableError(
                f"Podman at {self.url} answered {response.status_code}: {_message(response)}",
                runtime="podman", socket=self.url,
            )
        info = response.json()
        host = info.get("host", {})
        rootless = bool(host.get("security", {}).get("rootless"))
        enforces = not (rootless and host.get("cgroupVersion") == "v1")
        uid, gid = root_ids(host)
        return _info(self.url, str(info.get("version", {}).get("Version", "?")), rootless,
                     enforces, uid, gid)

    def ensure_image(
        self, image: str, policy: str, progress: Callable[[PullProgress], None]
    ) -> bool:
        if policy not in PULL_POLICIES:
            raise ValueError(f"unknown pull policy {policy!r}")
        if policy != "always" and self._image_exists(image):
            return False
        if policy == "never":
            raise OciError(f"{NEVER_PULL_MESSAGE}: {image}", action="pull", image=image)
        self._pull(image, progress)
        return True

    def _image_exists(self, image: str) -> bool:
        response = self._call("get", f"/images/{image}/exists", "pull")
        if response.status_code not in (204, 404):
            raise self._fail(response, "pull", image=image)
        return bool(response.status_code == 204)

    def _pull(self, image: str, progress: Callable[[PullProgress], None]) -> None:
        progress(PullProgress(image=image, status="pulling"))
        response = self._call("post", "/images/pull", "pull", params={"reference": image},
                              stream=True, timeout=(2.0, None))
        if response.status_code != 200:
            raise self._fail(response, "pull", image=image)
        for raw in response.iter_lines():
            if not raw:
                continue
            report = json.loads(raw)
            if report.get("error"):
                raise OciError(f"pull failed: {report['error']}", action="pull", image=image)
            if report.get("stream"):
                progress(PullProgress(image=image, status=report["stream"].strip()))
        progress(PullProgress(image=image, status="pulled"))

    def create(self, spec: ContainerSpec) -> str:
        response = self._call("post", "/containers/create", "create",
                              data=json.dumps(build_specgen(spec)),
                              headers={"Content-Type": "application/json"})
        if response.status_code == 201:
            return str(response.json()["Id"])
        message = _message(response)
        if response.status_code == 409 or _NAME_IN_USE in message:
            raise ContainerNameConflictError(
                f"container name {spec.name} is already in use: {message}", name=spec.name)
        raise self._fail(response, "create", name=spec.name, image=spec.image)

    def start(self, container_id: str) -> None:
        response = self._call("post", f"/containers/{container_id}/start", "start")
        if response.status_code not in (204, 304):
            raise self._fail(response, "start", container=container_id)

    def output(self, container_id: str) -> Iterator[OutputLine]:
        yield from split_lines(self._complete_frames(container_id))

    def _complete_frames(self, container_id: str) -> Iterator[tuple[str, bytes]]:
        """Every log frame once, in log order, while the container runs and after it exits.

        Podman 4.x's ``follow`` stream drops chunks of a k8s-file log, in the middle and at
        the end, when a job writes fast (podman issue 21914); plain reads are complete. So
        the log is read without ``follow`` every ``LOG_POLL_SECONDS`` from the second of the
        last frame seen (``since`` has one-second resolution; the frames of that second
        already delivered are skipped), until a read made after the container stopped; when
        ``wait()`` sees the container stop, the pause is cut short.
        """
        second: str | None = None
        delivered = 0  # frames of *second* already yielded
        while True:
            running = self._is_running(container_id)
            seen_in_second = 0
            for stamp, stream, payload in self._log_frames(container_id, since=second):
                if stamp == second:
                    seen_in_second += 1
                    if seen_in_second <= delivered:
                        continue
                    delivered += 1
                else:
                    second, delivered, seen_in_second = stamp, 1, 1
                yield stream, payload
            if not running:
                return
            stopped = self._stop_signal(container_id)
            if stopped.is_set():  # wait() failed while it still runs: poll at the usual pace
                time.sleep(LOG_POLL_SECONDS)
            else:
                stopped.wait(LOG_POLL_SECONDS)  # woken when wait() sees it stop

    def _is_running(self, container_id: str) -> bool:
        response = self._call("get", f"/containers/{container_id}/json", "output")
        if response.status_code != 200:
            raise self._fail(response, "output", container=container_id)
        state = response.json().get("State") or {}
        return bool(state.get("Running")) or state.get("Status") not in _ENDED

    def _log_frames(self, container_id: str, *, since: str | None
                    ) -> Iterator[tuple[str, str, bytes]]:
        """``(second, stream, payload)`` of each frame of one plain (non-follow) log read."""
        params: dict[str, Any] = {"follow": False, "stdout": True, "stderr": True,
                                  "timestamps": True}
        if since is not None:
            params["since"] = since
        response = self._call("get", f"/containers/{container_id}/logs", "output", stream=True,
                              params=params, timeout=(2.0, None))
        if response.status_code != 200:
            raise self._fail(response, "output", container=container_id)
        try:
            for stream, framed in _frames(response.iter_content(chunk_size=None)):
                stamp, _, payload = framed.partition(b" ")
                yield stamp.decode("ascii", "replace"), stream, payload
        finally:
            response.close()

    def wait(self, container_id: str) -> int:
        try:
            response = self._call("post", f"/containers/{container_id}/wait", "wait",
                                  params={"condition": ["stopped", "exited"],
                                          "interval": WAIT_POLL_INTERVAL},
                                  timeout=(2.0, None))
        finally:
            self._stop_signal(container_id).set()  # stopped, or gone: the log poll re-checks
        if response.status_code != 200:
            raise self._fail(response, "wait", container=container_id)
        code = int(response.text.strip())
        return (self._init_exec_failure(container_id) or code) if code == 1 else code

    def _init_exec_failure(self, container_id: str) -> int | None:
        """127 or 126 when the container's init could not exec the command, else None."""
        payloads = self._last_stderr(container_id)
        # catatonit writes its line in pieces, which the log keeps as separate frames
        lines = b"".join(payloads or ()).strip().splitlines()
        failed = _CATATONIT_EXEC_FAILED.fullmatch(lines[-1].strip()) if lines else None
        if failed is None:
            return None
        return 127 if failed.group(1) == _NOT_FOUND else 126

    def _last_stderr(self, container_id: str) -> list[bytes] | None:
        """The stderr frames of a container that wrote at most a few lines there, else None.

        Not ``tail``: catatonit writes its line in pieces, and Podman's tail drops the pieces
        before the last. A job that wrote more than catatonit ever does is not read further."""
        response = self._call("get", f"/containers/{container_id}/logs", "output", stream=True,
                              params={"follow": False, "stdout": False, "stderr": True},
                              timeout=(2.0, self._timeout))
        try:
            if response.status_code != 200:
                return None
            payloads: list[bytes] = []
            for _, payload in _frames(response.iter_content(chunk_size=None)):
                payloads.append(payload)
                if sum(map(len, payloads)) > _INIT_ERROR_MAX_BYTES:
                    return None
            return payloads
        finally:
            response.close()

    def _stop_signal(self, container_id: str) -> threading.Event:
        with self._stopped_lock:
            return self._stopped.setdefault(container_id, threading.Event())

    def stop(self, container_id: str, grace_seconds: float) -> None:
        grace = max(0, math.ceil(grace_seconds))
        response = self._call("post", f"/containers/{container_id}/stop", "stop",
                              params={"timeout": grace}, timeout=(2.0, grace + self._timeout))
        if response.status_code not in (204, *_GONE) and not _not_running(response):
            raise self._fail(response, "stop", container=container_id)

    def kill(self, container_id: str) -> None:
        response = self._call("post", f"/containers/{container_id}/kill", "kill",
                              params={"signal": "SIGKILL"})
        if response.status_code not in (204, *_GONE) and not _not_running(response):
            raise self._fail(response, "kill", container=container_id)

    def remove(self, container_id: str) -> None:
        with self._stopped_lock:
            self._stopped.pop(container_id, None)
        response = self._call("delete", f"/containers/{container_id}", "remove",
                              params={"force": True, "v": True, "timeout": 0})
        if response.status_code not in (200, 204, 404):
            raise self._fail(response, "remove", container=container_id)

    def managed(self) -> Sequence[ManagedContainer]:
        response = self._call("get", "/containers/json", "list", params={
            "all": True, "filters": json.dumps({"label": [LABEL_RUN_ID]})})
        if response.status_code != 200:
            raise self._fail(response, "list")
        found = []
        for entry in response.json() or []:
            names = entry.get("Names") or [entry["Id"]]
            item = managed_container(entry["Id"], names[0], entry.get("Labels"),
                                     entry.get("State") == "running")
            if item is not None:
                found.append(item)
        return found

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()
        if self._service is not None:
            self._service.stop()


def _message(response: Any) -> str:
    try:
        body = response.json()
        return str(body.get("message") or body.get("cause") or response.text).strip()
    except ValueError:
        return str(response.text).strip() or f"HTTP {response.status_code}"


def _not_running(response: Any) -> bool:
    return "state improper" in _message(response) or "not running" in _message(response)
