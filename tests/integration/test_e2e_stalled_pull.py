"""SPEC section 6 end to end: a cancel while the image pull stalls (the registry accepts the
connection and never answers, so the runtime reports no progress) ends the run ``canceled``
at once, not at the runtime's own pull timeout (~24 s on Docker, longer on Podman), and
leaves no container and no secrets behind."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import pytest

from tests.integration.e2e_support import (  # noqa: F401 - fixtures
    Result,
    Runtime,
    Running,
    Sandbox,
    cancel_running,
    rt,
    sandbox,
    secrets_dir,
)

STALLED_JOB = """\
    executor: container
    image: 127.0.0.1:{port}/stall/never:1
    script: main.sh
    container:
      pull_policy: if-not-present
    args:
      - {{name: api_token, type: string, format: secret, required: true}}
    """
PROMPT_SECONDS = 15.0  # generous, and still well before either runtime gives up on the pull


class StalledRegistry:
    """A TCP server on 127.0.0.1 that accepts connections and never sends a byte."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)  # so the accept loop sees the stop request
        self.port: int = self._server.getsockname()[1]
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._clients: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True,
                                        name="stalled-registry")
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._clients.append(client)  # held open, never answered
            self.connected.set()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._server.close()
        for client in self._clients:
            client.close()


@contextmanager
def stalled_registry() -> Iterator[StalledRegistry]:
    server = StalledRegistry()
    try:
        yield server
    finally:
        server.close()


@dataclass(frozen=True, slots=True)
class Canceled:
    """A run canceled during its stalled pull, as flwd and the runtime left it."""

    result: Result
    run_id: str
    status_while_pulling: str
    cancel_seconds: float  # from the cancel request to flwd's exit
    containers_after: list[str]
    created_events: list[str]


def cancel_during_stalled_pull(rt: Runtime, sandbox: Sandbox, how: str) -> Canceled:
    since = time.time()
    with stalled_registry() as registry:
        job = sandbox.write_job(f"stalled-{how}", STALLED_JOB.format(port=registry.port),
                                {"main.sh": "echo never\n"})
        running = sandbox.start(job, "--api-token", "t0ken-value", "--json")
        try:
            return _cancel(rt, sandbox, registry, running, job, how, since)
        finally:
            running.kill()


def _cancel(rt: Runtime, sandbox: Sandbox, registry: StalledRegistry, running: Running,
            job: str, how: str, since: float) -> Canceled:
    # the runtime reaching the registry is what says the pull is under way
    assert registry.connected.wait(30), "the runtime never reached the stalled registry"
    run = sandbox.only_run(job)
    run_id, status = str(run["run_id"]), str(run["status"])
    result, seconds = cancel_running(sandbox, running, run_id, how, timeout=120)
    return Canceled(result, run_id, status, seconds, rt.containers(run_id),
                    rt.created_since(run_id, since))


@pytest.fixture(scope="module", params=["sigint", "cancel"])
def canceled(request: pytest.FixtureRequest, rt: Runtime, sandbox: Sandbox) -> Canceled:
    """Ctrl-C in the running flwd, or ``flwd :cancel`` from another process."""
    return cancel_during_stalled_pull(rt, sandbox, request.param)


def test_cancel_ends_a_stalled_pull_promptly_when_the_registry_never_answers(
    canceled: Canceled,
) -> None:
    assert canceled.status_while_pulling == "pulling"
    assert canceled.cancel_seconds < PROMPT_SECONDS, canceled.result.describe()


def test_run_ends_canceled_with_130_when_canceled_during_a_stalled_pull(
    sandbox: Sandbox, canceled: Canceled,
) -> None:
    events = canceled.result.events()
    types = [e["type"] for e in events]
    run = next(r for r in sandbox.runs() if r["run_id"] == canceled.run_id)

    assert canceled.result.code == 130, canceled.result.describe()
    assert "run.canceled" in types and "run.started" not in types
    assert types[-1] == "run.finished" and events[-1]["data"]["status"] == "canceled"
    assert run["status"] == "canceled"


def test_no_container_or_secrets_remain_when_canceled_during_a_stalled_pull(
    canceled: Canceled,
) -> None:
    assert canceled.containers_after == []
    assert canceled.created_events == [], "a container was created for a run canceled while pulling"
    assert not secrets_dir(canceled.run_id).exists()
