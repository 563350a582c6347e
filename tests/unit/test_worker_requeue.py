"""QueueRequeue: a lost run goes back onto its job's queue, unless its secrets went with it."""

from __future__ import annotations

import pytest

from flwd.adapters.fakes import FakeRunQueue
from flwd.domain.errors import QueueUnavailableError, WorkerLostError
from flwd.domain.worker.requeue import NoRequeue, QueueRequeue
from flwd.ports.store import RunRecord
from tests.unit.fake_engine import FakeEngine

GPU_JOB = "executor: container\nimage: alpine:3.20\nqueue: gpu\n"
SECRET_JOB = """\
executor: container
image: alpine:3.20
args:
  - {name: token, type: string, format: secret}
"""


def run(job_id: str, **args: object) -> RunRecord:
    return RunRecord(run_id="r1", job_id=job_id, status="queued", profile="secure",
                     created_at="2026-01-01T00:00:00.000Z", args=args)


def test_requeue_sends_the_run_id_to_its_jobs_queue_when_it_has_no_secret(
        fake_engine: FakeEngine) -> None:
    fake_engine.add_job("gpu-job", GPU_JOB)
    queue = FakeRunQueue()

    QueueRequeue(queue=queue, jobs=fake_engine.list_jobs()).requeue(run("gpu-job"))

    assert queue.messages == {"gpu": [("r1", None)]}


def test_requeue_hands_back_the_lost_workers_own_message_when_the_run_had_a_secret_value(
        fake_engine: FakeEngine) -> None:
    fake_engine.add_job("secret", SECRET_JOB)
    queue = FakeRunQueue()
    queue.enqueue("default", "r1", b"sealed")
    queue.deliver("default")  # taken by the worker since lost, never acknowledged

    QueueRequeue(queue=queue, jobs=fake_engine.list_jobs()).requeue(
        run("secret", token="<secret>"))

    assert queue.messages == {"default": [("r1", b"sealed")]} and queue.held["default"] == []


def test_requeue_refuses_with_worker_lost_when_the_queue_no_longer_holds_the_secret_message(
        fake_engine: FakeEngine) -> None:
    fake_engine.add_job("secret", SECRET_JOB)
    queue = FakeRunQueue()

    with pytest.raises(WorkerLostError) as err:
        QueueRequeue(queue=queue, jobs=fake_engine.list_jobs()).requeue(
            run("secret", token="<secret>"))

    assert "token" in err.value.detail and queue.messages == {}


def test_requeue_leaves_a_secret_runs_message_to_a_broker_that_redelivers_it_itself(
        fake_engine: FakeEngine) -> None:
    fake_engine.add_job("secret", SECRET_JOB)
    queue = FakeRunQueue(redelivers_itself=True)

    QueueRequeue(queue=queue, jobs=fake_engine.list_jobs()).requeue(
        run("secret", token="<secret>"))

    assert queue.messages == {}  # no new message: it would carry no secret


def test_requeue_raises_queue_unavailable_when_the_broker_is_down(
        fake_engine: FakeEngine) -> None:
    fake_engine.add_job("secret", SECRET_JOB)  # no value given for the secret: nothing lost

    with pytest.raises(QueueUnavailableError):
        QueueRequeue(queue=FakeRunQueue(unavailable=True),
                     jobs=fake_engine.list_jobs()).requeue(run("secret"))
    with pytest.raises(QueueUnavailableError):
        NoRequeue().requeue(run("secret"))
