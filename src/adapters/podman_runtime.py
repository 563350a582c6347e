"""Podman adapter of the ContainerRuntime port, speaking libpod's REST API through podman-py.

The SpecGenerator it sends is built in ``podman_specgen``, the service is described in
``podman_probe``, requests and their failures go through ``podman_api`` and the log stream is
taken apart in ``podman_logs``: this module is what the port asks of the service.
"""

from __future__ import annotations

import json
import math
import threading
import time
from typing import Any, Callable, Iterator, Sequence

from flwd.adapters._runtime_common import (
    PULL_POLICIES,
    check_reachable,
    managed_container,
    never_pull_error,
    split_lines,
)
from flwd.adapters._attach import AttachedStream, frames, response_socket
from flwd.adapters.podman_api import REMOVE_VOLUMES, LibpodApi, error_message, not_running
from flwd.adapters.podman_logs import (
    INIT_ERROR_MAX_BYTES,
    SinceCursor,
    init_exec_failure,
    stamped,
)
from flwd.adapters.podman_probe import info_from_api, local_socket_info
from flwd.adapters.podman_service import PrivatePodmanService
from flwd.adapters.podman_specgen import build_specgen
from flwd.domain.errors import ContainerNameConflictError, OciError, RuntimeUnavailableError
from flwd.ports.runtime import (
    LABEL_RUN_ID,
    ContainerSpec,
    ManagedContainer,
    OutputLine,
    PullProgress,
    RuntimeInfo,
)

_NAME_IN_USE = "name is already in use"
_GONE = (304, 404)
LOG_POLL_SECONDS = 0.2
# how often the service checks a waited-for container (libpod's default, 250ms, made every run
# end ~0.2 s late on average; a state check is cheap)
WAIT_POLL_INTERVAL = "50ms"
_ENDED = ("exited", "stopped", "dead", "removing", None)


class PodmanRuntime:
    """A Podman API service (rootless or not) as flwd's container runtime."""

    name = "podman"

    def __init__(
        self, url: str, timeout: float = 30.0, *, service: PrivatePodmanService | None = None,
        fast_probe: bool = True,
    ) -> None:
        self.url = url
        self._api = LibpodApi(url, timeout)
        self._service = service
        self._fast_probe = fast_probe
        self._info: RuntimeInfo | None = None
        # set when wait() sees a container stop: its log poll reads the rest at once
        self._stopped: dict[str, threading.Event] = {}
        self._stopped_lock = threading.Lock()

    @property
    def api(self) -> LibpodApi:
        """This adapter's lazily connected libpod client, for adapters of other ports on the
        same service (add-on images)."""
        return self._api

    # --- the port -------------------------------------------------------------------

    def probe(self) -> RuntimeInfo:
        """Described once per adapter. A local socket is described from the socket itself
        (``GET /info`` costs ~0.5 s on rootless Podman 4.3); anything else asks ``/info``.
        The service is checked to answer connections on every call: a service that died
        since is unavailable, not described from memory (health checks ask this)."""
        check_reachable(self.url, "Podman")
        if self._info is None:
            local = local_socket_info(self.url) if self._fast_probe else None
            self._info = local or self._probe_info()
        return self._info

    def _probe_info(self) -> RuntimeInfo:
        response = self._api.call("get", "/info", "probe")
        if response.status_code != 200:
            raise RuntimeUnavailableError(
                f"Podman at {self.url} answered {response.status_code}: {error_message(response)}",
                runtime="podman", socket=self.url,
            )
        return info_from_api(self.url, response.json())

    def ensure_image(
        self, image: str, policy: str, progress: Callable[[PullProgress], None]
    ) -> bool:
        if policy not in PULL_POLICIES:
            raise ValueError(f"unknown pull policy {policy!r}")
        if policy != "always" and self.has_image(image):
            return False
        if policy == "never":
            raise never_pull_error(image)
        self._pull(image, progress)
        return True

    def has_image(self, image: str) -> bool:
        """Whether *image* is in the service's image store (also for the add-on adapter)."""
        response = self._api.call("get", f"/images/{image}/exists", "pull")
        if response.status_code not in (204, 404):
            raise self._api.fail(response, "pull", image=image)
        return bool(response.status_code == 204)

    def _pull(self, image: str, progress: Callable[[PullProgress], None]) -> None:
        progress(PullProgress(image=image, status="pulling"))
        response = self._api.call("post", "/images/pull", "pull", params={"reference": image},
                              stream=True, timeout=(2.0, None))
        if response.status_code != 200:
            raise self._api.fail(response, "pull", image=image)
        for raw in self._api.streamed(response.iter_lines(), "pull"):
            if not raw:
                continue
            report = json.loads(raw)
            if report.get("error"):
                raise OciError(f"pull failed: {report['error']}", action="pull", image=image)
            if report.get("stream"):
                progress(PullProgress(image=image, status=report["stream"].strip()))
        progress(PullProgress(image=image, status="pulled"))

    def create(self, spec: ContainerSpec) -> str:
        response = self._api.call("post", "/containers/create", "create",
                              data=json.dumps(build_specgen(spec)),
                              headers={"Content-Type": "application/json"})
        if response.status_code == 201:
            return str(response.json()["Id"])
        message = error_message(response)
        if response.status_code == 409 or _NAME_IN_USE in message:
            raise ContainerNameConflictError(
                f"container name {spec.name} is already in use: {message}", name=spec.name)
        raise self._api.fail(response, "create", name=spec.name, image=spec.image)

    def attach(self, container_id: str) -> AttachedStream:
        """libpod's attach, as the remote ``podman run`` does before its start: the service
        readies the container (conmon) and joins conmon's attach socket before it answers."""
        response = self._api.call("post", f"/containers/{container_id}/attach", "attach",
                                  params={"stream": True, "stdout": True, "stderr": True},
                                  headers={"Connection": "Upgrade", "Upgrade": "tcp"},
                                  stream=True, timeout=(2.0, None))
        if response.status_code not in (101, 200):
            try:
                raise self._api.fail(response, "attach", container=container_id)
            finally:
                response.close()
        read, sock = response_socket(response)
        return AttachedStream(read, sock, running=lambda: self._is_running(container_id),
                              recover=lambda: self.output(container_id), release=response.close,
                              name=f"flwd-attach-{container_id[:12]}",
                              confirm=lambda since: self._log_since(container_id, since))

    def start(self, container_id: str) -> None:
        response = self._api.call("post", f"/containers/{container_id}/start", "start")
        if response.status_code not in (204, 304):
            raise self._api.fail(response, "start", container=container_id)

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
        cursor = SinceCursor()
        while True:
            running = self._is_running(container_id)
            yield from cursor.new_frames(self._log_frames(container_id, since=cursor.second))
            if not running:
                return
            stopped = self._stop_signal(container_id)
            if stopped.is_set():  # wait() failed while it still runs: poll at the usual pace
                time.sleep(LOG_POLL_SECONDS)
            else:
                stopped.wait(LOG_POLL_SECONDS)  # woken when wait() sees it stop

    def _log_since(self, container_id: str, since: float) -> Iterator[OutputLine]:
        """The log's lines stamped at or after *since* (wall clock, to the microsecond: the
        service compares it with the log's nanosecond stamps), in one plain read."""
        read = self._log_frames(container_id, since=f"{since:.6f}")
        yield from split_lines((stream, payload) for _, stream, payload in read)

    def _is_running(self, container_id: str) -> bool:
        response = self._api.call("get", f"/containers/{container_id}/json", "output")
        if response.status_code == 404:
            return False  # removed: it runs no more
        if response.status_code != 200:
            raise self._api.fail(response, "output", container=container_id)
        state = response.json().get("State") or {}
        return bool(state.get("Running")) or state.get("Status") not in _ENDED

    def _log_frames(self, container_id: str, *, since: str | None
                    ) -> Iterator[tuple[str, str, bytes]]:
        """``(second, stream, payload)`` of each frame of one plain (non-follow) log read."""
        params: dict[str, Any] = {"follow": False, "stdout": True, "stderr": True,
                                  "timestamps": True}
        if since is not None:
            params["since"] = since
        response = self._api.call("get", f"/containers/{container_id}/logs", "output", stream=True,
                              params=params, timeout=(2.0, None))
        if response.status_code != 200:
            raise self._api.fail(response, "output", container=container_id)
        try:
            yield from stamped(self._api.streamed(response.iter_content(chunk_size=None),
                                                  "output"))
        finally:
            response.close()

    def wait(self, container_id: str) -> int:
        try:
            response = self._api.call("post", f"/containers/{container_id}/wait", "wait",
                                  params={"condition": ["stopped", "exited"],
                                          "interval": WAIT_POLL_INTERVAL},
                                  timeout=(2.0, None))
        finally:
            self._stop_signal(container_id).set()  # stopped, or gone: the log poll re-checks
        if response.status_code != 200:
            raise self._api.fail(response, "wait", container=container_id)
        code = int(response.text.strip())
        return (self._init_exec_failure(container_id) or code) if code == 1 else code

    def _init_exec_failure(self, container_id: str) -> int | None:
        """127 or 126 when the container's init could not exec the command, else None."""
        return init_exec_failure(self._last_stderr(container_id) or ())

    def _last_stderr(self, container_id: str) -> list[bytes] | None:
        """The stderr frames of a container that wrote at most a few lines there, else None.

        Not ``tail``: catatonit writes its line in pieces, and Podman's tail drops the pieces
        before the last. A job that wrote more than catatonit ever does is not read further."""
        response = self._api.call("get", f"/containers/{container_id}/logs", "output", stream=True,
                              params={"follow": False, "stdout": False, "stderr": True},
                              timeout=(2.0, self._api.timeout))
        try:
            if response.status_code != 200:
                return None
            payloads: list[bytes] = []
            for _, payload in frames(self._api.streamed(response.iter_content(chunk_size=None),
                                                        "wait")):
                payloads.append(payload)
                if sum(map(len, payloads)) > INIT_ERROR_MAX_BYTES:
                    return None
            return payloads
        finally:
            response.close()

    def _stop_signal(self, container_id: str) -> threading.Event:
        with self._stopped_lock:
            return self._stopped.setdefault(container_id, threading.Event())

    def stop(self, container_id: str, grace_seconds: float) -> None:
        grace = max(0, math.ceil(grace_seconds))
        response = self._api.call("post", f"/containers/{container_id}/stop", "stop",
                              params={"timeout": grace}, timeout=(2.0, grace + self._api.timeout))
        if response.status_code not in (204, *_GONE) and not not_running(response):
            raise self._api.fail(response, "stop", container=container_id)

    def kill(self, container_id: str) -> None:
        response = self._api.call("post", f"/containers/{container_id}/kill", "kill",
                              params={"signal": "SIGKILL"})
        if response.status_code not in (204, *_GONE) and not not_running(response):
            raise self._api.fail(response, "kill", container=container_id)

    def remove(self, container_id: str) -> None:
        with self._stopped_lock:
            self._stopped.pop(container_id, None)
        response = self._api.call("delete", f"/containers/{container_id}", "remove",
                              params={**REMOVE_VOLUMES, "timeout": 0})
        if response.status_code not in (200, 204, 404):
            raise self._api.fail(response, "remove", container=container_id)

    def managed(self) -> Sequence[ManagedContainer]:
        response = self._api.call("get", "/containers/json", "list", params={
            "all": True, "filters": json.dumps({"label": [LABEL_RUN_ID]})})
        if response.status_code != 200:
            raise self._api.fail(response, "list")
        found = []
        for entry in response.json() or []:
            names = entry.get("Names") or [entry["Id"]]
            item = managed_container(entry["Id"], names[0], entry.get("Labels"),
                                     entry.get("State") == "running")
            if item is not None:
                found.append(item)
        return found

    def close(self) -> None:
        self._api.close()
        if self._service is not None:
            self._service.stop()

