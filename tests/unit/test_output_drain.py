"""The output drain after a container's exit: it waits for the log read in flight, and a run
whose output could not be read to its end ends error run.output.incomplete (SPEC section 6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flwd.adapters.fake_runtime import FakeRuntime
from flwd.adapters.fakes import FakeClock, FakeRunStore
from flwd.domain.errors import FlwdError, RunOutputIncompleteError
from flwd.domain.model import RunStatus
from flwd.domain.plan.use_cases import RunRequest
from flwd.domain.run import events as ev
from flwd.domain.run.control import RunControl
from flwd.domain.run.execution import QueuedRun
from flwd.domain.run.follow import ContainerWatch, Outcome
from flwd.entrypoints.container import Container
from flwd.ports.runtime import ContainerSpec, OutputLine
from flwd.ports.store import RunRecord
from tests.conftest import TEST_IMAGE, write_job

LINES = [OutputLine(stream="stdout", line="one"), OutputLine(stream="stderr", line="two"),
         OutputLine(stream="stdout", line="three")]
SLOWER_THAN_THE_OLD_DRAIN = 6.0  # the drain used to give up 5 s after the exit


def _watched(runtime: FakeRuntime, stall_seconds: float
             ) -> tuple[FakeRunStore, Outcome, FlwdError | None]:
    store, clock = FakeRunStore(), FakeClock()
    record = RunRecord(run_id="r1", job_id="job", status="running", profile="secure",
                       created_at=clock.now_iso())
    store.create(record, ev.RUN_CREATED, {})
    container_id = runtime.create(ContainerSpec(
        name="flwd-r1", image=TEST_IMAGE, command=("true",), env={}, labels={}, mounts=(),
        workdir="/"))
    runtime.start(container_id)
    recorder = ev.RunRecorder(store=store, clock=clock, record=record, redact=lambda x: x)
    watch = ContainerWatch(runtime=runtime, store=store, clock=clock, grace=1.0,
                           stall_seconds=stall_seconds)
    outcome = Outcome()
    try:
        watch(container_id, recorder, RunControl(), outcome, None)
    except FlwdError as exc:
        return store, outcome, exc
    return store, outcome, None


def _output(store: FakeRunStore) -> list[tuple[str, str]]:
    return [(e.data["stream"], e.data["line"]) for e in store.events("r1")
            if e.type == ev.RUN_OUTPUT]


def test_run_keeps_every_line_when_the_log_read_answers_after_the_old_drain_gave_up(
        engine: Container, jobs_root: Path, fake_runtime: FakeRuntime) -> None:
    write_job(jobs_root, "chatty", f"executor: container\nimage: {TEST_IMAGE}\nscript: main.sh\n",
              "echo hi\n")
    fake_runtime.output_lines = list(LINES)
    fake_runtime.output_delay = SLOWER_THAN_THE_OLD_DRAIN
    queued = engine.submit_run()(RunRequest(job="chatty", args={}))
    assert isinstance(queued, QueuedRun)

    record = engine.execute_run()(queued, RunControl())

    events = engine.store().events(record.run_id)
    output = [(e.data["stream"], e.data["line"]) for e in events if e.type == ev.RUN_OUTPUT]
    assert (record.status, record.exit_code, record.code) == ("succeeded", 0, None)
    assert output == [(line.stream, line.line) for line in LINES]
    assert events[-1].type == ev.RUN_FINISHED


def test_watch_raises_output_incomplete_when_the_log_read_stalls_past_the_bound() -> None:
    runtime = FakeRuntime(images={TEST_IMAGE}, output_lines=LINES, output_delay=30.0,
                          exit_code=0)

    store, outcome, error = _watched(runtime, stall_seconds=0.3)

    assert error is not None and error.code == "run.output.incomplete"
    assert "no new line for 0.3 s" in error.detail
    assert outcome.exit_code == 0 and outcome.status is not RunStatus.SUCCEEDED
    assert _output(store) == []


def test_watch_raises_the_runtimes_error_when_the_log_read_fails_midway() -> None:
    runtime = FakeRuntime(images={TEST_IMAGE}, output_lines=LINES, output_fails=True,
                          exit_code=0)

    store, outcome, error = _watched(runtime, stall_seconds=30.0)

    assert error is not None and error.code == "container.runtime.unavailable"
    assert "fake runtime lost while reading the log" in error.detail
    assert outcome.exit_code == 0
    assert _output(store) == [(line.stream, line.line) for line in LINES]


def test_watch_ends_succeeded_when_the_log_is_read_to_its_end() -> None:
    runtime = FakeRuntime(images={TEST_IMAGE}, output_lines=LINES, exit_code=0)

    store, outcome, error = _watched(runtime, stall_seconds=30.0)

    assert error is None
    assert (outcome.status, outcome.exit_code) == (RunStatus.SUCCEEDED, 0)
    assert _output(store) == [(line.stream, line.line) for line in LINES]


def test_incomplete_output_maps_to_exit_125_and_http_502() -> None:
    from flwd.entrypoints.cli.exit_codes import exit_for_run
    from flwd.entrypoints.http.problems import STATUS_FOR_CODE

    assert exit_for_run("error", 0, RunOutputIncompleteError.code) == 125
    assert STATUS_FOR_CODE[RunOutputIncompleteError.code] == 502
