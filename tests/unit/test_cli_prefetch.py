"""The runtime looked for ahead of a run: its answer (or error) comes when first asked for,
and a private service nobody asked for is stopped at close."""

from __future__ import annotations

from typing import Any, cast

import pytest

from flwd.adapters.runtime_detect import RuntimeEndpoint
from flwd.domain.errors import RuntimeUnavailableError
from flwd.entrypoints.cli.prefetch import RuntimePrefetch
from flwd.ports.kinds import RuntimeKind


class StoppableService:
    """Stands in for a PrivatePodmanService: records whether it was stopped."""

    def __init__(self) -> None:
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True


def _endpoint(service: StoppableService | None = None) -> RuntimeEndpoint:
    return RuntimeEndpoint(kind=RuntimeKind.PODMAN, url="unix:///x.sock",
                           service=cast(Any, service))


def _nothing(_: RuntimeEndpoint) -> None:
    return None


def test_endpoint_answers_what_was_found_when_asked() -> None:
    found = _endpoint()

    ahead = RuntimePrefetch(lambda: found, _nothing)

    assert ahead.endpoint() is found


def test_endpoint_raises_the_error_when_asked_not_before() -> None:
    def fail() -> RuntimeEndpoint:
        raise RuntimeUnavailableError("no container runtime is reachable")

    ahead = RuntimePrefetch(fail, _nothing)
    ahead.close()  # the error is nobody's until asked for

    with pytest.raises(RuntimeUnavailableError):
        ahead.endpoint()


def test_close_stops_private_service_when_nobody_asked_for_it() -> None:
    service = StoppableService()
    ahead = RuntimePrefetch(lambda: _endpoint(service), _nothing)

    ahead.close()

    assert service.stopped


def test_close_leaves_private_service_when_the_run_took_it() -> None:
    service = StoppableService()
    ahead = RuntimePrefetch(lambda: _endpoint(service), _nothing)
    ahead.endpoint()

    ahead.close()

    assert not service.stopped


def test_endpoint_answers_even_when_warming_fails() -> None:
    def warm(_: RuntimeEndpoint) -> None:
        raise ImportError("no SDK")

    found = _endpoint()
    ahead = RuntimePrefetch(lambda: found, warm)

    assert ahead.endpoint() is found


def test_fork_waits_for_the_prefetch_when_it_is_still_running() -> None:
    """A child forked mid-import would inherit half-initialised modules (``--detach``)."""
    import os
    import threading

    release = threading.Event()
    finished = threading.Event()

    def slow() -> RuntimeEndpoint:
        release.wait(10)
        finished.set()
        return _endpoint()

    ahead = RuntimePrefetch(slow, _nothing)
    threading.Timer(0.2, release.set).start()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child only reports
        os._exit(0)
    os.waitpid(pid, 0)

    assert finished.is_set()
    ahead.close()
