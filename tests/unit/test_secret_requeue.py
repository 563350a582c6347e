"""A secret run whose worker was lost before its container started runs again elsewhere from
its own queue message (the only copy of its sealed secrets), once; a message for a run another
worker holds is kept for later, never dropped while it may still be needed."""

from __future__ import annotations

import pytest

from flwd.adapters.fakes import FakeClock, FakeRunQueue, FakeSecretSealer
from flwd.domain.plan.use_cases import RunRequest
from flwd.domain.run.pending import PendingCleanup
from flwd.domain.run.start import StartRun
from flwd.domain.run.take import MessageStillNeeded
from flwd.domain.worker.requeue import QueueRequeue
from flwd.domain.worker.sweep import SweepLostRuns, SweepReport
from flwd.ports.owner import QUEUED_OWNER
from flwd.ports.runtime import OutputLine
from flwd.ports.workers import RunBeat, WorkerBeat
from tests.unit.fake_engine import FakeEngine
from tests.unit.test_queue_dispatch import KEY, SECRET, SECRET_JOB

LOST = "hostA:1"
TIMEOUT = 30.0


@pytest.fixture
def sealer() -> FakeSecretSealer:
    return FakeSecretSealer(KEY)


def _submitted(engine: FakeEngine, queue: FakeRunQueue, sealer: FakeSecretSealer) -> str:
    engine.add_job("secret", SECRET_JOB)
    engine.runtime.output_lines = [OutputLine(stream="stdout", line=SECRET)]
    start = StartRun(submit=engine.cluster_submit_run(),
                     dispatcher=engine.queue_dispatcher(queue, sealer), store=engine.runs,
                     clock=engine.clock, pending=engine.pending)
    return start(RunRequest(job="secret", args={"who": "ada", "token": SECRET})).run_id


def _lost_while_pulling(engine: FakeEngine, clock: FakeClock, run_id: str,
                        status: str = "pulling") -> None:
    """Worker LOST claimed the run, heartbeat it (no container yet), then went silent."""
    claimed = engine.runs.claim(run_id, QUEUED_OWNER, LOST)
    assert claimed is not None
    if status != "queued":
        engine.runs.append(run_id, "image.pull" if status == "pulling" else "run.started", {},
                           clock.now_iso(), run=claimed.evolve(status=status))
    now = clock.now_iso()
    engine.runs.beat(WorkerBeat(worker_id=LOST, host="hostA", queues=("gpu",), runtime="docker",
                                rootless=False, concurrency=1, active_runs=(run_id,),
                                last_heartbeat=now),
                     [RunBeat(run_id=run_id, worker_id=LOST, container_started=False,
                              beat_at=now)])
    clock.advance(TIMEOUT + 1)


def _sweep(engine: FakeEngine, clock: FakeClock, queue: FakeRunQueue) -> SweepReport:
    return SweepLostRuns(registry=engine.runs, store=engine.runs, clock=clock,
                         claimant="replica:9", timeout=TIMEOUT,
                         requeue=QueueRequeue(queue=queue, jobs=engine.list_jobs()),
                         pending=PendingCleanup())()


def test_a_lost_workers_secret_run_runs_once_elsewhere_from_its_own_message_when_swept(
        fake_engine: FakeEngine, sealer: FakeSecretSealer, fake_clock: FakeClock) -> None:
    queue = FakeRunQueue()
    run_id = _submitted(fake_engine, queue, sealer)
    message = queue.deliver("gpu")  # the lost worker's, never acknowledged
    _lost_while_pulling(fake_engine, fake_clock, run_id)

    report = _sweep(fake_engine, fake_clock, queue)
    again = queue.deliver("gpu")
    ended = fake_engine.take_queued_run(sealer)(*again)

    assert report.requeued == [run_id] and again == message
    assert ended is not None and ended.status == "succeeded"
    assert len(fake_engine.runtime.started) == 1
    events = fake_engine.runs.events(run_id)
    assert [e.type for e in events].count("run.requeued") == 1
    assert [e.data["line"] for e in events if e.type == "run.output"] == ["***"]  # had it


def test_a_message_redelivered_before_the_sweep_is_kept_then_runs_the_requeued_run(
        fake_engine: FakeEngine, sealer: FakeSecretSealer, fake_clock: FakeClock) -> None:
    """RabbitMQ's way: the broker hands the dead worker's message to another worker at once,
    while the run is still the lost worker's; it must wait, not be dropped."""
    queue = FakeRunQueue(redelivers_itself=True)
    run_id = _submitted(fake_engine, queue, sealer)
    message = queue.deliver("gpu")
    _lost_while_pulling(fake_engine, fake_clock, run_id)
    take = fake_engine.take_queued_run(sealer)

    with pytest.raises(MessageStillNeeded):
        take(*message)
    report = _sweep(fake_engine, fake_clock, queue)
    ended = take(*message)

    assert report.requeued == [run_id] and queue.messages == {"gpu": []}
    assert ended is not None and ended.status == "succeeded"
    assert len(fake_engine.runtime.started) == 1


def test_the_run_ends_worker_lost_when_the_queue_no_longer_holds_its_secret_message(
        fake_engine: FakeEngine, sealer: FakeSecretSealer, fake_clock: FakeClock) -> None:
    queue = FakeRunQueue()
    run_id = _submitted(fake_engine, queue, sealer)
    queue.messages["gpu"].clear()  # acknowledged, or put back by its visibility timeout
    _lost_while_pulling(fake_engine, fake_clock, run_id)

    report = _sweep(fake_engine, fake_clock, queue)

    run = fake_engine.runs.get(run_id)
    assert report.failed == [run_id]
    assert run is not None and (run.status, run.code) == ("error", "worker.lost")


def test_a_second_loss_of_a_requeued_secret_run_ends_it_worker_lost(
        fake_engine: FakeEngine, sealer: FakeSecretSealer, fake_clock: FakeClock) -> None:
    queue = FakeRunQueue()
    run_id = _submitted(fake_engine, queue, sealer)
    queue.deliver("gpu")
    _lost_while_pulling(fake_engine, fake_clock, run_id)
    _sweep(fake_engine, fake_clock, queue)
    queue.deliver("gpu")  # taken again, and that worker is lost too
    _lost_while_pulling(fake_engine, fake_clock, run_id)

    report = _sweep(fake_engine, fake_clock, queue)

    run = fake_engine.runs.get(run_id)
    assert report.lost == [run_id] and queue.messages["gpu"] == []
    assert run is not None and (run.status, run.code) == ("error", "worker.lost")


@pytest.mark.parametrize("status", ["queued", "pulling"])
def test_a_message_is_kept_for_later_when_another_worker_holds_its_run_before_its_start(
        fake_engine: FakeEngine, sealer: FakeSecretSealer, fake_clock: FakeClock,
        status: str) -> None:
    queue = FakeRunQueue()
    run_id = _submitted(fake_engine, queue, sealer)
    message = queue.deliver("gpu")
    _lost_while_pulling(fake_engine, fake_clock, run_id, status=status)

    with pytest.raises(MessageStillNeeded):
        fake_engine.take_queued_run(sealer)(*message)

    assert fake_engine.runtime.created == []


def test_a_message_is_dropped_when_another_worker_runs_its_run(
        fake_engine: FakeEngine, sealer: FakeSecretSealer, fake_clock: FakeClock) -> None:
    queue = FakeRunQueue()
    run_id = _submitted(fake_engine, queue, sealer)
    message = queue.deliver("gpu")
    _lost_while_pulling(fake_engine, fake_clock, run_id, status="running")

    taken = fake_engine.take_queued_run(sealer)(*message)

    assert taken is None and fake_engine.runtime.created == []
