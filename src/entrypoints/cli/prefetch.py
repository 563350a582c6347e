"""A run's runtime found ahead: the runtime is looked for (a private Podman service started)
and its SDK imported in a background thread while the CLI parses, plans and records the run,
so that the waits for the runtime overlap the work that needs none."""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING, Callable, Mapping

if TYPE_CHECKING:
    from flwd.adapters.runtime_detect import RuntimeEndpoint

_JOIN_SECONDS = 15.0  # past the detection budget and a private service's start-up


class RuntimePrefetch:
    """``endpoint()`` answers what *find* answered (or raises what it raised), when it is
    first needed: errors keep their place after validation. An endpoint never asked for is
    released by ``close()`` (a private service stopped). A fork (``--detach``) waits for the
    thread first (a child forked mid-import would inherit half-initialised modules), and the
    child looks again itself: the parent's service is the parent's."""

    def __init__(self, find: Callable[[], RuntimeEndpoint],
                 warm: Callable[[RuntimeEndpoint], None]) -> None:
        self._find = find
        self._future: Future[RuntimeEndpoint] = Future()
        self._pid = os.getpid()
        self._taken = False
        self._thread = threading.Thread(target=self._work, args=(warm,), daemon=True,
                                        name="flwd-runtime-prefetch")
        self._thread.start()
        os.register_at_fork(before=self._settle)

    def _settle(self) -> None:
        if threading.current_thread() is not self._thread:
            self._thread.join(_JOIN_SECONDS)

    def _work(self, warm: Callable[[RuntimeEndpoint], None]) -> None:
        try:
            endpoint = self._find()
        except BaseException as exc:  # noqa: BLE001 - handed to whoever asks, unchanged
            self._future.set_exception(exc)
            return
        self._future.set_result(endpoint)
        try:
            warm(endpoint)
        except Exception:  # noqa: BLE001, S110 - warming is an optimisation; the real import reports
            pass

    def endpoint(self) -> RuntimeEndpoint:
        if os.getpid() != self._pid:
            return self._find()
        self._taken = True
        return self._future.result()

    def close(self) -> None:
        if os.getpid() != self._pid or self._taken:
            return
        try:  # only the finding: the SDK import may go on (a daemon thread)
            failed = self._future.exception(_JOIN_SECONDS) is not None
        except TimeoutError:
            return
        if not failed:
            service = self._future.result().service
            if service is not None:
                service.stop()


def prefetch_runtime(kind: str, env: Mapping[str, str]) -> RuntimePrefetch:
    """Start looking for the runtime of setting *kind* (auto|podman|docker) in *env*."""
    from flwd.adapters import runtime_detect

    return RuntimePrefetch(lambda: runtime_detect.find_runtime(kind, env=env), _import_sdk)


def _import_sdk(endpoint: RuntimeEndpoint) -> None:
    """The SDK the adapter will import (a module is imported once, whichever thread asks)."""
    if endpoint.kind.value == "docker":
        import docker  # noqa: F401
    else:
        import podman  # noqa: F401
