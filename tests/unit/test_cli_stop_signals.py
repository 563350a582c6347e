"""Stopping a CLI run by signal (SPEC 6-7): SIGTERM/SIGHUP act as Ctrl-C, locally and against a
server, and a signal before the run is handed over still ends it canceled, never queued."""

from __future__ import annotations

import io as stdio
import os
import signal
import threading
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from flwd.adapters.fake_runtime import FakeRuntime
from flwd.entrypoints.cli.local import local_backend
from flwd.entrypoints.cli.main import main
from flwd.entrypoints.cli.render import Io
from flwd.entrypoints.container import Container
from flwd.ports.store import EventRecord
from tests.conftest import write_job
from tests.unit.http_support import ADMIN, auth, slow_server  # noqa: F401 - slow_server: a fixture

SLOW = "executor: container\nimage: alpine:3.20\nscript: main.sh\n"


@pytest.fixture
def ignored_sigterm() -> Iterator[list[int]]:
    """SIGTERM and SIGHUP recorded and otherwise ignored unless flwd handles them itself (the
    default action would end the test process)."""
    seen: list[int] = []
    previous = {sig: signal.signal(sig, lambda s, _f: seen.append(s))
                for sig in (signal.SIGTERM, signal.SIGHUP)}
    yield seen
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def _signal_once_started(runtime: FakeRuntime, sig: int) -> threading.Thread:
    def send() -> None:
        deadline = time.monotonic() + 10
        while not runtime.started and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), sig)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_run_is_canceled_and_exits_130_when_the_cli_gets_sigterm_or_sighup(
        engine: Container, jobs_root: Path, fake_runtime: FakeRuntime,
        ignored_sigterm: list[int], sig: int) -> None:
    write_job(jobs_root, "slow", SLOW, "sleep 60\n")
    fake_runtime.run_seconds = 5.0
    out, err = stdio.StringIO(), stdio.StringIO()
    sender = _signal_once_started(fake_runtime, sig)

    started = time.monotonic()
    code = main(["slow"], Io(out=out, err=err), {"HOME": "/nonexistent"}, container=engine)

    sender.join()
    assert (code, ignored_sigterm) == (130, []), err.getvalue()
    assert time.monotonic() - started < 4.0
    assert fake_runtime.containers == {}  # stopped and removed
    assert signal.getsignal(sig) is not signal.SIG_DFL  # the caller's handler is back


def test_a_remote_run_is_canceled_on_the_server_when_the_cli_gets_sigterm(
        slow_server: str, ignored_sigterm: list[int]) -> None:
    def send() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not httpx.get(
                f"{slow_server}/runs?status=running", headers=auth()).json()["runs"]:
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGTERM)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    out, err = stdio.StringIO(), stdio.StringIO()

    code = main(["--server", slow_server, "--token", ADMIN, "hello", "--name", "A"],
                Io(out=out, err=err), {"HOME": "/nonexistent"})

    sender.join()
    runs = httpx.get(f"{slow_server}/runs", headers=auth()).json()["runs"]
    assert (code, ignored_sigterm) == (130, []), err.getvalue()
    assert [r["status"] for r in runs] == ["canceled"]


def test_a_run_interrupted_before_it_reaches_the_supervisor_ends_canceled_not_queued(
        engine: Container, jobs_root: Path, fake_runtime: FakeRuntime) -> None:
    """Ctrl-C while the recorded run's first events are printed (before the supervisor holds
    the run) used to leave it ``queued`` for ever."""
    write_job(jobs_root, "slow", SLOW, "sleep 60\n")
    fake_runtime.run_seconds = 5.0
    seen: list[EventRecord] = []

    def printer(event: EventRecord) -> None:
        seen.append(event)
        if len(seen) == 1:
            os.kill(os.getpid(), signal.SIGINT)  # Python's handler raises KeyboardInterrupt

    backend = local_backend(engine, Io(out=stdio.StringIO(), err=stdio.StringIO()))
    try:
        backend.run(backend.get_job("slow"), {}, None, printer=printer, detach=False)
    except KeyboardInterrupt:
        pass
    finally:
        backend.close()

    record = engine.store().get(seen[0].run_id)
    assert record is not None and record.status == "canceled"
    assert fake_runtime.started == []
    assert seen[-1].type == "run.finished"
