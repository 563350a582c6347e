"""SweepLostRuns: lost runs end worker.lost, or are queued again once before their start."""

from __future__ import annotations

from flwd.adapters.fakes import FakeClock, FakeRunRequeue, FakeRunStore
from flwd.domain.errors import QueueUnavailableError
from flwd.domain.run.pending import PendingCleanup
from flwd.domain.worker.requeue import NoRequeue
from flwd.domain.worker.sweep import SweepLostRuns
from flwd.ports.owner import QUEUED_OWNER
from flwd.ports.workers import RunBeat, WorkerBeat
from tests.unit.worker_support import WORKER, add_run

TIMEOUT = 30.0


def sweeper(store: FakeRunStore, clock: FakeClock, requeue: object = None,
            claimant: str = "hostB:7") -> SweepLostRuns:
    return SweepLostRuns(registry=store, store=store, clock=clock, claimant=claimant,
                         timeout=TIMEOUT, requeue=requeue or FakeRunRequeue(),  # type: ignore[arg-type]
                         pending=PendingCleanup())


def beat(store: FakeRunStore, clock: FakeClock, *runs: tuple[str, bool]) -> None:
    now = clock.now_iso()
    store.beat(WorkerBeat(worker_id=WORKER, host="hostA", queues=("default",), runtime="docker",
                          rootless=False, concurrency=2, active_runs=tuple(r for r, _ in runs),
                          last_heartbeat=now),
               [RunBeat(run_id=r, worker_id=WORKER, container_started=s, beat_at=now)
                for r, s in runs])


def lost(store: FakeRunStore, clock: FakeClock, run_id: str, status: str, started: bool) -> None:
    """*run_id* executed by WORKER, whose last heartbeat is now past the timeout."""
    add_run(store, run_id, status=status)
    beat(store, clock, (run_id, started))
    clock.advance(TIMEOUT + 1)


def finished(store: FakeRunStore, run_id: str) -> dict[str, object]:
    last = store.events(run_id)[-1]
    assert last.type == "run.finished"
    return dict(last.data)


def test_sweep_ends_run_worker_lost_when_its_container_had_started(
        fake_store: FakeRunStore, fake_clock: FakeClock) -> None:
    lost(fake_store, fake_clock, "r1", "running", True)

    report = sweeper(fake_store, fake_clock)()

    assert report.lost == ["r1"]
    run = fake_store.get("r1")
    assert run is not None and (run.status, run.code, run.owner) == ("error", "worker.lost", "hostB:7")
    assert finished(fake_store, "r1")["code"] == "worker.lost"
    assert fake_store.run_beats == {}


def test_sweep_leaves_runs_alone_when_heartbeat_is_within_timeout(
        fake_store: FakeRunStore, fake_clock: FakeClock) -> None:
    add_run(fake_store, "r1")
    beat(fake_store, fake_clock, ("r1", True))
    fake_clock.advance(TIMEOUT - 1)

    report = sweeper(fake_store, fake_clock)()

    assert report.lost == [] and report.requeued == []
    assert fake_store.get("r1").status == "running"  # type: ignore[union-attr]
    assert [e.type for e in fake_store.events("r1")] == ["run.created"]


def test_sweep_requeues_once_when_no_container_had_started(
        fake_store: FakeRunStore, fake_clock: FakeClock) -> None:
    lost(fake_store, fake_clock, "r1", "pulling", False)
    requeue = FakeRunRequeue()

    report = sweeper(fake_store, fake_clock, requeue)()

    assert report.requeued == ["r1"]
    run = fake_store.get("r1")
    assert run is not None and (run.status, run.owner) == ("queued", QUEUED_OWNER)
    assert [r.run_id for r in requeue.requeued] == ["r1"]
    assert requeue.requeued[0].status == "queued"
    requeued = fake_store.events("r1")[-1]
    assert requeued.type == "run.requeued" and requeued.data["worker"] == WORKER


def test_sweep_ends_run_worker_lost_when_it_was_requeued_before(
        fake_store: FakeRunStore, fake_clock: FakeClock) -> None:
    lost(fake_store, fake_clock, "r1", "pulling", False)
    requeue = FakeRunRequeue()
    sweeper(fake_store, fake_clock, requeue)()
    fake_store.claim("r1", QUEUED_OWNER, WORKER)  # a worker takes it again, and is lost too
    beat(fake_store, fake_clock, ("r1", False))
    fake_clock.advance(TIMEOUT + 1)

    report = sweeper(fake_store, fake_clock, requeue)()

    assert report.lost == ["r1"]
    assert len(requeue.requeued) == 1
    assert "queued again once" in str(finished(fake_store, "r1")["detail"])


def test_sweep_requeues_a_run_when_its_worker_was_lost_before_naming_it(
        fake_store: FakeRunStore, fake_clock: FakeClock) -> None:
    add_run(fake_store, "r1", status="pulling")  # taken by WORKER...
    beat(fake_store, fake_clock)  # ...whose last heartbeat came before it named the run
    fake_clock.advance(TIMEOUT + 1)
    requeue = FakeRunRequeue()

    report = sweeper(fake_store, fake_clock, requeue)()

    assert report.requeued == ["r1"] and [r.run_id for r in requeue.requeued] == ["r1"]


def test_sweep_ends_run_with_the_queue_code_when_requeue_fails(
        fake_store: FakeRunStore, fake_clock: FakeClock) -> None:
    lost(fake_store, fake_clock, "r1", "queued", False)

    report = sweeper(fake_store, fake_clock, NoRequeue())()

    assert report.failed == ["r1"]
    assert fake_store.get("r1").code == QueueUnavailableError.code  # type: ignore[union-attr]
    assert [e.type for e in fake_store.events("r1")][-2:] == ["run.requeued", "run.finished"]


def test_sweep_ends_run_canceled_when_a_cancel_was_asked(
        fake_store: FakeRunStore, fake_clock: FakeClock) -> None:
    add_run(fake_store, "r1", status="pulling")
    fake_store.append("r1", "run.cancel.requested", {}, fake_clock.now_iso())
    beat(fake_store, fake_clock, ("r1", False))
    fake_clock.advance(TIMEOUT + 1)
    requeue = FakeRunRequeue()

    report = sweeper(fake_store, fake_clock, requeue)()

    assert report.canceled == ["r1"] and requeue.requeued == []
    assert fake_store.get("r1").status == "canceled"  # type: ignore[union-attr]


def test_sweep_acts_once_when_two_sweepers_see_the_same_lost_run(
        fake_store: FakeRunStore, fake_clock: FakeClock) -> None:
    lost(fake_store, fake_clock, "r1", "running", True)
    first, second = sweeper(fake_store, fake_clock), sweeper(fake_store, fake_clock, claimant="c:2")

    reports = [first(), second()]

    assert [r.lost for r in reports] == [["r1"], []]
    assert [e.type for e in fake_store.events("r1")].count("run.finished") == 1


def test_sweep_forgets_workers_when_silent_for_ten_timeouts(
        fake_store: FakeRunStore, fake_clock: FakeClock) -> None:
    beat(fake_store, fake_clock)
    fake_clock.advance(TIMEOUT * 5)
    sweeper(fake_store, fake_clock)()
    assert [w.worker_id for w in fake_store.workers()] == [WORKER]

    fake_clock.advance(TIMEOUT * 5 + 1)
    sweeper(fake_store, fake_clock)()

    assert fake_store.workers() == []


def test_executor_records_nothing_more_when_a_sweeper_ended_its_run_meanwhile(
        fake_engine: object) -> None:
    """A worker back after a sweeper ended its run worker.lost: killing the run (the
    disowned hook) stops and removes its container, and run.finished stays the sweeper's."""
    import threading

    from flwd.domain.plan.use_cases import RunRequest
    from flwd.domain.run.control import RunControl
    from flwd.domain.run.execution import QueuedRun
    from tests.unit.fake_engine import FakeEngine

    assert isinstance(fake_engine, FakeEngine)
    fake_engine.add_job("sleeper", "executor: container\nimage: alpine:3.20\n")
    fake_engine.runtime.run_seconds = 30
    queued = fake_engine.submit_run()(RunRequest(job="sleeper", args={}))
    assert isinstance(queued, QueuedRun)
    store, control = fake_engine.store(), RunControl()

    def sweeper_ends_it_then_worker_kills_it() -> None:
        run = store.get(queued.record.run_id)
        assert run is not None
        store.append(run.run_id, "run.finished", {"status": "error", "code": "worker.lost"},
                     "2026-01-01T00:01:00.000Z", run.evolve(status="error", code="worker.lost"))
        control.kill()

    timer = threading.Timer(0.3, sweeper_ends_it_then_worker_kills_it)
    timer.start()
    fake_engine.execute_run()(queued, control)
    timer.join()

    types = [e.type for e in store.events(queued.record.run_id)]
    assert types.count("run.finished") == 1 and types[-1] == "run.finished"
    assert store.get(queued.record.run_id).code == "worker.lost"  # type: ignore[union-attr]
    assert fake_engine.runtime.containers == {}


def test_sweep_ends_run_queue_unavailable_when_the_requeue_fails_with_an_uncoded_error(
        fake_store: FakeRunStore, fake_clock: FakeClock) -> None:
    """A broker client's own exception (not a coded error) must not leave the run recorded
    queued with no message that would ever bring it to a worker."""
    lost(fake_store, fake_clock, "r1", "pulling", False)

    report = sweeper(fake_store, fake_clock, FakeRunRequeue(RuntimeError("channel closed")))()

    run = fake_store.get("r1")
    assert report.failed == ["r1"]
    assert run is not None and (run.status, run.code) == ("error", "queue.unavailable")
    assert "RuntimeError: channel closed" in finished(fake_store, "r1")["detail"]  # type: ignore[operator]
