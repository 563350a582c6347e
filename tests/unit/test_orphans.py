"""Runs whose flwd died (a CLI killed mid-run, a server down while their container exited):
adopted by the next process that reads the store, ended as they really ended, cleaned up."""

from __future__ import annotations

import time

import pytest

from flwd.adapters.fake_runtime import FakeRuntime
from flwd.adapters.fakes import FakeSecretWriter
from flwd.domain.plan.use_cases import RunRequest
from flwd.domain.run.execution import QueuedRun
from flwd.domain.run.orphans import AdoptOrphans
from flwd.domain.run.reconcile import ReconcileRuns
from flwd.entrypoints.orphans import OrphanWatch
from flwd.ports.store import RunRecord
from tests.unit.fake_engine import FakeEngine
from tests.unit.orphan_support import DEAD_OWNER, OUTPUT, SLEEPER, make_orphan, output_of


@pytest.fixture(autouse=True)
def sleeper(fake_engine: FakeEngine) -> str:
    return fake_engine.add_job("sleeper", SLEEPER)


def _run(engine: FakeEngine, run_id: str) -> RunRecord:
    run = engine.store().get(run_id)
    assert run is not None
    return run


def test_reconcile_records_exit_code_and_unrecorded_output_once_when_orphans_container_exited(
        fake_engine: FakeEngine, fake_runtime: FakeRuntime, fake_secrets: FakeSecretWriter) -> None:
    run_id = make_orphan(fake_engine, fake_runtime, fake_secrets, run_seconds=0, exit_code=3,
                         recorded=2)

    report = fake_engine.reconcile_runs()()

    run = _run(fake_engine, run_id)
    assert report.collected == [run_id] and report.lost == []
    assert (run.status, run.exit_code, run.code) == ("failed", 3, None)
    assert output_of(fake_engine, run_id) == [("stdout", "one"), ("stderr", "warn ***"),
                                              ("stdout", "two"), ("stdout", "three")]
    assert fake_runtime.containers == {} and fake_secrets.files == {}
    events = fake_engine.store().events(run_id)
    assert events[-1].type == "run.finished" and events[-1].data["exit_code"] == 3


def test_reconcile_keeps_the_cancel_its_flwd_had_begun_when_the_orphan_exited(
        fake_engine: FakeEngine, fake_runtime: FakeRuntime, fake_secrets: FakeSecretWriter) -> None:
    run_id = make_orphan(fake_engine, fake_runtime, fake_secrets, run_seconds=0, exit_code=143)
    fake_engine.store().append(run_id, "run.canceled", {"grace_seconds": 1},
                               "2026-01-01T00:00:02.000Z")

    fake_engine.reconcile_runs()()

    assert (_run(fake_engine, run_id).status, _run(fake_engine, run_id).exit_code) == (
        "canceled", 143)


def test_cancel_ends_an_orphan_with_its_real_status_when_its_container_already_exited(
        fake_engine: FakeEngine, fake_runtime: FakeRuntime, fake_secrets: FakeSecretWriter) -> None:
    run_id = make_orphan(fake_engine, fake_runtime, fake_secrets, run_seconds=0, exit_code=0)

    returned = fake_engine.cancel_run()(run_id)

    assert (returned.status, returned.exit_code) == ("succeeded", 0)
    assert len(output_of(fake_engine, run_id)) == len(OUTPUT)
    assert fake_runtime.containers == {} and fake_secrets.files == {}


def test_reconcile_hands_off_a_running_orphan_claimed_for_this_process_when_asked_to(
        fake_engine: FakeEngine, fake_runtime: FakeRuntime, fake_secrets: FakeSecretWriter) -> None:
    run_id = make_orphan(fake_engine, fake_runtime, fake_secrets, run_seconds=30)
    handed: list[RunRecord] = []

    report = fake_engine.reconcile_runs()(handed.extend)

    assert report.handed_off == [run_id] and [r.run_id for r in handed] == [run_id]
    assert handed[0].owner == fake_engine.owners.me() == _run(fake_engine, run_id).owner
    assert fake_engine.supervisor().active_ids() == () and len(fake_runtime.containers) == 1


def test_take_over_follows_a_handed_off_run_to_its_end_only_from_the_owner_that_holds_it(
        fake_engine: FakeEngine, fake_runtime: FakeRuntime, fake_secrets: FakeSecretWriter) -> None:
    run_id = make_orphan(fake_engine, fake_runtime, fake_secrets, run_seconds=0.5, recorded=1)
    reconcile = fake_engine.reconcile_runs()

    wrong = reconcile.take_over(run_id, "someone-else:1")
    taken = reconcile.take_over(run_id, DEAD_OWNER)
    fake_engine.supervisor().shutdown(cancel=False, wait=True)

    assert (wrong, taken) == (None, "reattached")
    assert (_run(fake_engine, run_id).status, _run(fake_engine, run_id).exit_code) == (
        "succeeded", 0)
    assert len(output_of(fake_engine, run_id)) == len(OUTPUT) and fake_secrets.files == {}


def test_an_adopted_orphan_is_stopped_timed_out_when_its_timeout_has_passed(
        fake_engine: FakeEngine, fake_runtime: FakeRuntime, fake_secrets: FakeSecretWriter) -> None:
    run_id = make_orphan(fake_engine, fake_runtime, fake_secrets, run_seconds=30, timeout=60)

    report = fake_engine.reconcile_runs()()
    fake_engine.supervisor().shutdown(cancel=False, wait=True)

    run = _run(fake_engine, run_id)
    assert report.reattached == [run_id]
    assert (run.status, run.exit_code) == ("timed_out", 143) and fake_runtime.stopped
    assert fake_runtime.containers == {} and fake_secrets.files == {}


def test_an_adopted_orphan_without_a_timeout_runs_to_its_own_end(
        fake_engine: FakeEngine, fake_runtime: FakeRuntime, fake_secrets: FakeSecretWriter) -> None:
    run_id = make_orphan(fake_engine, fake_runtime, fake_secrets, run_seconds=0.8, exit_code=5)

    fake_engine.reconcile_runs()()
    fake_engine.supervisor().shutdown(cancel=False, wait=True)

    assert (_run(fake_engine, run_id).status, _run(fake_engine, run_id).exit_code) == ("failed", 5)


def test_run_started_records_the_timeout_an_adopter_needs_when_the_job_has_one(
        fake_engine: FakeEngine) -> None:
    fake_engine.add_job("bounded", SLEEPER + "timeout: 5m\n")
    queued = fake_engine.submit_run()(RunRequest(job="bounded"))
    assert isinstance(queued, QueuedRun)

    fake_engine.supervisor().submit(queued).result(10)

    [started] = [e for e in fake_engine.store().events(queued.record.run_id)
                 if e.type == "run.started"]
    assert started.data["timeout_seconds"] == 300


def test_adopt_orphans_builds_no_reconcile_when_no_run_is_orphaned(
        fake_engine: FakeEngine, fake_runtime: FakeRuntime, fake_secrets: FakeSecretWriter) -> None:
    run_id = make_orphan(fake_engine, fake_runtime, fake_secrets, run_seconds=30)
    record = _run(fake_engine, run_id)
    fake_engine.store().append(run_id, "run.note", {}, "2026-01-01T00:00:03.000Z",
                               run=record.evolve(owner=fake_engine.owners.me()))
    built: list[object] = []

    def reconcile() -> ReconcileRuns:  # would reach the runtime
        built.append(1)
        return fake_engine.reconcile_runs()

    adopt = AdoptOrphans(store=fake_engine.store(), owners=fake_engine.owners,
                         reconcile=reconcile)

    assert adopt() is None and built == []
    assert not adopt.orphaned(_run(fake_engine, run_id))


def test_a_server_adopts_an_orphan_that_appears_while_it_runs(
        fake_engine: FakeEngine, fake_runtime: FakeRuntime, fake_secrets: FakeSecretWriter) -> None:
    watch = OrphanWatch(fake_engine.adopt_orphans, every=0.05)
    watch.start()
    try:
        run_id = make_orphan(fake_engine, fake_runtime, fake_secrets, run_seconds=0, exit_code=2)
        deadline = time.monotonic() + 10
        while _run(fake_engine, run_id).status == "running" and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        watch.stop()

    assert (_run(fake_engine, run_id).status, _run(fake_engine, run_id).exit_code) == ("failed", 2)
    assert fake_runtime.containers == {} and fake_secrets.files == {}
