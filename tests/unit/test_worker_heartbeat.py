"""Heartbeat, ReclaimContainers and WorkerLiveness with fakes (no sleeping: steps are called)."""

from __future__ import annotations

from flwd.adapters.fake_runtime import FakeRuntime
from flwd.adapters.fakes import FakeClock, FakeRunRequeue, FakeRunStore, FakeSecretWriter
from flwd.domain.errors import RunStoreError
from flwd.domain.run.pending import PendingCleanup
from flwd.domain.worker.heartbeat import Heartbeat
from flwd.domain.worker.liveness import WorkerLiveness
from flwd.domain.worker.reclaim import ReclaimContainers
from flwd.ports.workers import RunBeat
from tests.unit.worker_support import WORKER, add_container, add_run, identity

import pytest


def heartbeat(store: FakeRunStore, runtime: FakeRuntime, clock: FakeClock, **kwargs: object
              ) -> Heartbeat:
    return Heartbeat(identity=identity(), registry=store, store=store, runtime=lambda: runtime,
                     clock=clock, **kwargs)  # type: ignore[arg-type]


def test_heartbeat_records_worker_and_its_active_runs_when_called(
        fake_store: FakeRunStore, fake_runtime: FakeRuntime, fake_clock: FakeClock) -> None:
    add_run(fake_store, "mine-running", status="running")
    add_run(fake_store, "mine-pulling", status="pulling")
    add_run(fake_store, "mine-created", status="pulling")
    add_run(fake_store, "mine-done", status="succeeded")
    add_run(fake_store, "theirs", owner="hostB:5")
    add_container(fake_runtime, "mine-created")

    beats = heartbeat(fake_store, fake_runtime, fake_clock)()

    now = fake_clock.now_iso()
    assert {b.run_id: b.container_started for b in beats} == {
        "mine-running": True, "mine-pulling": False, "mine-created": True}
    (worker,) = fake_store.workers()
    assert (worker.worker_id, worker.host, worker.runtime, worker.rootless) == (
        WORKER, "hostA", "podman 4.3.1", True)
    assert set(worker.active_runs) == set(fake_store.run_beats) and worker.last_heartbeat == now
    assert fake_store.run_beats["mine-pulling"] == RunBeat(
        run_id="mine-pulling", worker_id=WORKER, container_started=False, beat_at=now)


def test_heartbeat_uses_the_store_alone_when_the_runtime_is_away(
        fake_store: FakeRunStore, fake_runtime: FakeRuntime, fake_clock: FakeClock) -> None:
    add_run(fake_store, "r1", status="pulling")
    fake_runtime.unavailable = True

    beats = heartbeat(fake_store, fake_runtime, fake_clock)()

    assert [(b.run_id, b.container_started) for b in beats] == [("r1", False)]


def test_heartbeat_calls_on_return_when_it_succeeds_after_failing(
        fake_store: FakeRunStore, fake_runtime: FakeRuntime, fake_clock: FakeClock) -> None:
    returns: list[int] = []
    beat = heartbeat(fake_store, fake_runtime, fake_clock, on_return=lambda: returns.append(1))
    beat()
    fake_store.full = True
    with pytest.raises(RunStoreError):
        beat()
    assert returns == []
    fake_store.full = False

    beat()
    beat()

    assert returns == [1]


def test_heartbeat_reports_disowned_runs_when_a_sweeper_took_them(
        fake_store: FakeRunStore, fake_runtime: FakeRuntime, fake_clock: FakeClock) -> None:
    add_run(fake_store, "r1")
    add_run(fake_store, "r2")
    disowned: list[set[str]] = []
    beat = heartbeat(fake_store, fake_runtime, fake_clock, local_runs=lambda: ("r1", "r2"),
                     on_disowned=lambda runs: disowned.append(set(runs)))
    beat()
    fake_store.claim("r1", WORKER, "sweeper:1")

    beat()

    assert disowned == [{"r1"}]
    assert set(fake_store.run_beats) == {"r2"}


def reclaim(store: FakeRunStore, runtime: FakeRuntime, local: tuple[str, ...] = ()
            ) -> ReclaimContainers:
    return ReclaimContainers(store=store, runtime=lambda: runtime, owner=WORKER,
                             local_runs=lambda: local)


def test_reclaim_removes_containers_when_their_runs_ended_or_went_elsewhere(
        fake_store: FakeRunStore, fake_runtime: FakeRuntime) -> None:
    add_run(fake_store, "lost", status="error", owner="sweeper:1")
    add_run(fake_store, "moved", owner="hostB:5", container_id="other-container")
    add_run(fake_store, "taken", owner="sweeper:1")
    gone = [add_container(fake_runtime, r) for r in ("lost", "moved", "taken")]
    kept = [add_container(fake_runtime, r) for r in ("mine", "creating", "unknown")]
    add_run(fake_store, "mine")
    add_run(fake_store, "creating", owner="hostB:5")  # no container recorded yet: left alone
    add_run(fake_store, "theirs", owner="hostB:5", container_id="")
    theirs = add_container(fake_runtime, "theirs")
    fake_store.runs["theirs"] = fake_store.runs["theirs"].evolve(container_id=theirs)

    removed = reclaim(fake_store, fake_runtime, local=("taken", "mine"))()

    assert sorted(removed) == sorted(gone)
    assert set(fake_runtime.containers) == {*kept, theirs}


def test_reclaim_keeps_a_finishing_run_when_this_worker_still_owns_it(
        fake_store: FakeRunStore, fake_runtime: FakeRuntime) -> None:
    add_run(fake_store, "ending", status="succeeded")
    container = add_container(fake_runtime, "ending")

    assert reclaim(fake_store, fake_runtime, local=("ending",))() == []
    assert reclaim(fake_store, fake_runtime)() == [container]


def test_reclaim_removes_secrets_left_by_ended_runs_when_given_the_writer(
        fake_store: FakeRunStore, fake_runtime: FakeRuntime) -> None:
    secrets = FakeSecretWriter()
    for run_id, status in (("ended", "error"), ("running", "running"), ("mine", "succeeded")):
        add_run(fake_store, run_id, status=status, owner="sweeper:1")
        secrets.materialise(run_id, ())
    secrets.materialise("unknown", ())

    ReclaimContainers(store=fake_store, runtime=lambda: fake_runtime, owner=WORKER,
                      local_runs=lambda: ("mine",), secrets=secrets)()

    assert secrets.removed == ["ended"]


def liveness(store: FakeRunStore, runtime: FakeRuntime, clock: FakeClock) -> WorkerLiveness:
    return WorkerLiveness(registry=store, store=store, runtime=lambda: runtime, clock=clock,
                          interval=3600, timeout=7200, requeue=FakeRunRequeue(),
                          pending=PendingCleanup())


def test_liveness_beats_and_reclaims_when_started_and_forgets_worker_when_stopped(
        fake_store: FakeRunStore, fake_runtime: FakeRuntime, fake_clock: FakeClock) -> None:
    add_run(fake_store, "old", status="error", owner="sweeper:1")
    old = add_container(fake_runtime, "old")
    hook = liveness(fake_store, fake_runtime, fake_clock)

    hook.started(identity(), lambda: ())
    try:
        assert [w.worker_id for w in fake_store.workers()] == [WORKER]
        assert fake_runtime.removed == [old]
    finally:
        hook.stopped(identity())

    assert fake_store.workers() == []


def test_liveness_starts_its_loops_when_the_store_is_away(
        fake_store: FakeRunStore, fake_runtime: FakeRuntime, fake_clock: FakeClock) -> None:
    fake_store.full = True
    hook = liveness(fake_store, fake_runtime, fake_clock)

    hook.started(identity(), lambda: ())  # the loops retry
    running = [loop.running for loop in hook._loops]
    hook.stopped(identity())  # does not raise either: the worker ages out

    assert running == [True, True, True] and fake_store.workers() == []
