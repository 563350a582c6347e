"""The CLI finds runs whose flwd died when it reads the store (``:runs``, ``:logs``,
``:cancel``, a run), with the container's runtime and secrets replaced by fakes."""

from __future__ import annotations

import io as stdio
import json
import os
from pathlib import Path

import pytest
from dependency_injector import providers

from flwd.adapters.fake_runtime import FakeRuntime
from flwd.adapters.fakes import FakeSecretWriter
from flwd.entrypoints.cli.main import main
from flwd.entrypoints.cli.render import Io
from flwd.entrypoints.container import Container
from flwd.ports.store import RunRecord
from tests.conftest import write_job
from tests.unit.orphan_support import DEAD_OWNER, SLEEPER, make_orphan


@pytest.fixture(autouse=True)
def sleeper(jobs_root: Path) -> Path:
    return write_job(jobs_root, "sleeper", SLEEPER)


@pytest.fixture
def handed(engine: Container) -> list[RunRecord]:
    """What the CLI hands to a detached adopter (no process is started in unit tests)."""
    records: list[RunRecord] = []
    engine.orphan_hand_off.override(providers.Object(records.extend))
    return records


def _cli(engine: Container, *argv: str) -> tuple[int, str, str]:
    out, err = stdio.StringIO(), stdio.StringIO()
    code = main(list(argv), Io(out=out, err=err), {"HOME": "/nonexistent"}, container=engine)
    return code, out.getvalue(), err.getvalue()


def _run(engine: Container, run_id: str) -> RunRecord:
    run = engine.store().get(run_id)
    assert run is not None
    return run


def test_runs_shows_an_orphan_ended_with_its_exit_code_when_its_flwd_was_killed(
        engine: Container, fake_runtime: FakeRuntime, fake_secrets: FakeSecretWriter,
        handed: list[RunRecord]) -> None:
    run_id = make_orphan(engine, fake_runtime, fake_secrets, run_seconds=0, exit_code=3,
                         recorded=1)

    code, out, _ = _cli(engine, ":runs", "--json")

    [run] = json.loads(out)
    assert code == 0 and (run["run_id"], run["status"], run["exit_code"]) == (run_id, "failed", 3)
    assert fake_runtime.containers == {} and fake_secrets.files == {} and handed == []


def test_runs_hands_off_an_orphan_whose_container_still_runs(
        engine: Container, fake_runtime: FakeRuntime, fake_secrets: FakeSecretWriter,
        handed: list[RunRecord]) -> None:
    run_id = make_orphan(engine, fake_runtime, fake_secrets, run_seconds=30)

    _, out, _ = _cli(engine, ":runs", "--json")

    [run] = json.loads(out)
    assert [r.run_id for r in handed] == [run_id]
    assert run["status"] == "running" and "orphaned" not in run


def test_runs_marks_an_orphan_it_could_not_adopt_when_the_runtime_is_down(
        engine: Container, fake_runtime: FakeRuntime, fake_secrets: FakeSecretWriter,
        handed: list[RunRecord]) -> None:
    run_id = make_orphan(engine, fake_runtime, fake_secrets, run_seconds=30)
    fake_runtime.unavailable = True

    code, out, err = _cli(engine, ":runs", "--json")
    _, text, _ = _cli(engine, ":runs")

    [run] = json.loads(out)
    assert code == 0 and (run["status"], run.get("orphaned")) == ("running", True)
    assert "warning[container.runtime.unavailable]" in err
    assert run_id in text and "running (orphaned)" in text
    assert _run(engine, run_id).owner == DEAD_OWNER  # nobody claimed it: the next try may


def test_logs_ends_an_orphan_whose_container_exited_before_printing_it(
        engine: Container, fake_runtime: FakeRuntime, fake_secrets: FakeSecretWriter,
        handed: list[RunRecord]) -> None:
    run_id = make_orphan(engine, fake_runtime, fake_secrets, run_seconds=0, recorded=1)

    code, out, err = _cli(engine, ":logs", run_id)

    assert code == 0 and out == "one\ntwo\nthree\n" and "warn ***" in err
    assert _run(engine, run_id).status == "succeeded"


def test_cancel_of_an_orphan_that_already_exited_says_it_had_ended(
        engine: Container, fake_runtime: FakeRuntime, fake_secrets: FakeSecretWriter,
        handed: list[RunRecord]) -> None:
    run_id = make_orphan(engine, fake_runtime, fake_secrets, run_seconds=0, exit_code=0)

    code, _, err = _cli(engine, ":cancel", run_id)

    assert code != 0 and "error[run.not.active]" in err and "succeeded" in err
    assert _run(engine, run_id).status == "succeeded"


def test_runs_touches_no_runtime_when_no_run_is_orphaned(
        engine: Container, fake_runtime: FakeRuntime, fake_secrets: FakeSecretWriter) -> None:
    run_id = make_orphan(engine, fake_runtime, fake_secrets, run_seconds=30)
    record = _run(engine, run_id)
    alive = f"{os.uname().nodename}:{os.getppid()}"  # the process that started pytest
    engine.store().append(run_id, "run.note", {}, "2026-01-01T00:00:03.000Z",
                          run=record.evolve(owner=alive))
    fake_runtime.unavailable = True  # any runtime call would warn

    code, out, err = _cli(engine, ":runs", "--json")

    assert (code, err) == (0, "") and json.loads(out)[0]["status"] == "running"
