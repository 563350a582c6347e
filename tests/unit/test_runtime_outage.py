"""A container runtime that goes away mid-run: the run ends ``error``
``container.runtime.unavailable`` at once, its secrets go, and its container (which lives on in
the runtime) is removed as soon as the runtime answers again."""

from __future__ import annotations

import io as stdio
import threading
import time
from pathlib import Path

import pytest

from flwd.adapters.fake_runtime import FakeRuntime
from flwd.adapters.fakes import FakeSecretWriter
from flwd.domain.plan.use_cases import RunRequest
from flwd.domain.run.control import RunControl
from flwd.domain.run.execution import QueuedRun
from flwd.domain.run.pending import PendingCleanup
from flwd.entrypoints.cli.main import main
from flwd.entrypoints.cli.render import Io
from flwd.entrypoints.container import Container
from flwd.ports.runtime import OutputLine
from flwd.ports.store import RunRecord
from tests.conftest import write_job
from tests.unit.fake_engine import FakeEngine

UNAVAILABLE = "container.runtime.unavailable"
JOB = ("executor: container\nimage: alpine:3.20\ncommand: [/bin/sh, -c, sleep 60]\n"
       "args: [{name: token, type: string, format: secret}]\n")


@pytest.fixture
def sleeper(fake_runtime: FakeRuntime) -> FakeRuntime:
    fake_runtime.output_lines = [OutputLine(stream="stdout", line="started")]
    fake_runtime.run_seconds = 30.0
    return fake_runtime


@pytest.fixture
def job(fake_engine: FakeEngine, sleeper: FakeRuntime) -> FakeEngine:
    fake_engine.add_job("job", JOB)
    return fake_engine


@pytest.fixture
def cli_job(engine: Container, jobs_root: Path, sleeper: FakeRuntime) -> Container:
    write_job(jobs_root, "job", JOB)
    return engine


def _outage_when_running(runtime: FakeRuntime) -> threading.Thread:
    """Takes the runtime away once the run's container has started."""
    def cut() -> None:
        deadline = time.monotonic() + 10
        while not runtime.started and time.monotonic() < deadline:
            time.sleep(0.01)
        runtime.unavailable = True

    thread = threading.Thread(target=cut, daemon=True)
    thread.start()
    return thread


def _run(engine: FakeEngine) -> RunRecord:
    queued = engine.submit_run()(RunRequest(job="job", args={"token": "s3cret"}))
    assert isinstance(queued, QueuedRun)
    return engine.execute_run()(queued, RunControl())


def test_run_ends_runtime_unavailable_when_runtime_goes_away_mid_run(
        job: FakeEngine, fake_runtime: FakeRuntime, fake_secrets: FakeSecretWriter) -> None:
    _outage_when_running(fake_runtime)
    started = time.monotonic()

    record = _run(job)

    assert (record.status, record.code) == ("error", UNAVAILABLE)
    assert time.monotonic() - started < 20, "the run waited for the job, not for the runtime"
    assert job.runs.get(record.run_id).status == "error"  # type: ignore[union-attr]
    assert fake_secrets.files == {}


def test_container_is_removed_when_runtime_answers_again(
        job: FakeEngine, fake_runtime: FakeRuntime) -> None:
    _outage_when_running(fake_runtime)
    _run(job)
    left_running = list(fake_runtime.containers)

    fake_runtime.unavailable = False
    left = job.pending.retry_now()

    assert left_running, "the container should outlive the runtime's outage"
    assert left == 0 and fake_runtime.containers == {}
    assert fake_runtime.removed == left_running


def test_container_is_removed_in_background_when_runtime_returns(
        job: FakeEngine, fake_runtime: FakeRuntime) -> None:
    job.pending = PendingCleanup(first_delay=0.02, max_delay=0.05)
    _outage_when_running(fake_runtime)
    _run(job)

    fake_runtime.unavailable = False

    deadline = time.monotonic() + 10
    while fake_runtime.containers:
        assert time.monotonic() < deadline, "the container was never removed"
        time.sleep(0.02)


def test_cli_exits_125_runtime_unavailable_without_traceback_when_runtime_goes_away(
        cli_job: Container, fake_runtime: FakeRuntime) -> None:
    _outage_when_running(fake_runtime)
    out, err = stdio.StringIO(), stdio.StringIO()

    code = main(["job", "--token", "s3cret"], Io(out=out, err=err), {"HOME": "/nonexistent"},
                container=cli_job)

    assert code == 125
    assert f"error[{UNAVAILABLE}]" in err.getvalue() and "Traceback" not in err.getvalue()


def test_run_ends_runtime_unavailable_not_failed_when_runtime_stops_it_going_down(
        job: FakeEngine, fake_runtime: FakeRuntime) -> None:
    """A daemon shutting down stops its containers (143) before its socket goes away."""
    fake_runtime.exit_code, fake_runtime.run_seconds = 143, 0.2
    fake_runtime.outage_on_exit = True

    record = _run(job)

    assert (record.status, record.code) == ("error", UNAVAILABLE)
