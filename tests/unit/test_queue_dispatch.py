"""Cluster mode on the fakes: a replica enqueues (QueueDispatcher), a worker takes the run
(TakeQueuedRun) from the shared store, and cancel reaches the run wherever it is."""

from __future__ import annotations

import json
import threading

import pytest

from flwd.adapters.fakes import FakeRunQueue, FakeSecretSealer
from flwd.domain.errors import QueueUnavailableError, SecretKeyMissingError
from flwd.domain.plan.use_cases import RunRequest
from flwd.domain.run.queue_dispatch import QueueDispatcher
from flwd.domain.run.start import StartedRun, StartRun
from flwd.ports.owner import QUEUED_OWNER
from flwd.ports.runtime import OutputLine
from flwd.ports.sealing import SecretKey
from flwd.ports.store import EventRecord
from tests.job_specs import HELLO
from tests.unit.fake_engine import FakeEngine

KEY = SecretKey(text="k" * 16 + "correct-horse-battery", source="test")
SECRET_JOB = """\
executor: container
image: alpine:3.20
command: [cat, /run/secrets/token]
queue: gpu
args:
  - {name: who, type: string, required: true}
  - {name: token, type: string, format: secret, required: true}
"""
SECRET = "s3cr3t-value"


@pytest.fixture
def queue() -> FakeRunQueue:
    return FakeRunQueue()


@pytest.fixture
def sealer() -> FakeSecretSealer:
    return FakeSecretSealer(KEY)


@pytest.fixture
def dispatcher(fake_engine: FakeEngine, queue: FakeRunQueue,
               sealer: FakeSecretSealer) -> QueueDispatcher:
    fake_engine.add_job("hello", HELLO)
    fake_engine.add_job("secret", SECRET_JOB)
    return fake_engine.queue_dispatcher(queue, sealer)


def _start(engine: FakeEngine, dispatcher: QueueDispatcher) -> StartRun:
    return StartRun(submit=engine.cluster_submit_run(), dispatcher=dispatcher, store=engine.runs,
                    clock=engine.clock, pending=engine.pending)


def _secret_run(engine: FakeEngine, dispatcher: QueueDispatcher, **kwargs: object) -> StartedRun:
    request = RunRequest(job="secret", args={"who": "ada", "token": SECRET})
    return _start(engine, dispatcher)(request, **kwargs)  # type: ignore[arg-type]


def test_submit_enqueues_only_the_run_id_and_sealed_secrets_on_the_jobs_queue_when_started(
        fake_engine: FakeEngine, dispatcher: QueueDispatcher, queue: FakeRunQueue,
        sealer: FakeSecretSealer) -> None:
    started = _secret_run(fake_engine, dispatcher)

    [(run_id, sealed)] = queue.messages["gpu"]
    assert run_id == started.run_id and sealed is not None and SECRET.encode() not in sealed
    assert json.loads(sealer.open(run_id, sealed)["token"]) == SECRET
    stored = fake_engine.runs.get(run_id)
    assert stored is not None and stored.owner == QUEUED_OWNER and stored.status == "queued"
    assert SECRET not in repr(stored) + repr(fake_engine.runs.events(run_id))


def test_a_run_without_secrets_is_enqueued_on_the_default_queue_with_nothing_sealed(
        fake_engine: FakeEngine, dispatcher: QueueDispatcher, queue: FakeRunQueue,
        sealer: FakeSecretSealer) -> None:
    started = _start(fake_engine, dispatcher)(RunRequest(job="hello", args={"name": "Ada"}))

    assert queue.messages == {"default": [(started.run_id, None)]}
    assert sealer.sealed_count == 0


def test_the_run_ends_error_queue_unavailable_when_the_broker_does_not_answer(
        fake_engine: FakeEngine, dispatcher: QueueDispatcher, queue: FakeRunQueue) -> None:
    queue.unavailable = True

    with pytest.raises(QueueUnavailableError) as caught:
        _start(fake_engine, dispatcher)(RunRequest(job="hello", args={"name": "Ada"}))

    stored = fake_engine.runs.get(str(caught.value.context["run_id"]))
    assert stored is not None and (stored.status, stored.code) == ("error", "queue.unavailable")
    assert fake_engine.runs.events(stored.run_id)[-1].type == "run.finished"


def test_a_secret_run_ends_error_secret_key_missing_when_the_replica_has_no_key(
        fake_engine: FakeEngine, queue: FakeRunQueue) -> None:
    fake_engine.add_job("secret", SECRET_JOB)
    keyless = fake_engine.queue_dispatcher(queue, FakeSecretSealer(None))

    with pytest.raises(SecretKeyMissingError) as caught:
        _secret_run(fake_engine, keyless)

    stored = fake_engine.runs.get(str(caught.value.context["run_id"]))
    assert stored is not None and stored.code == "secret.key.missing" and queue.messages == {}


def test_the_worker_runs_the_taken_run_with_its_secret_as_a_file_when_delivered(
        fake_engine: FakeEngine, dispatcher: QueueDispatcher, queue: FakeRunQueue,
        sealer: FakeSecretSealer) -> None:
    fake_engine.runtime.output_lines = [OutputLine(stream="stdout", line=SECRET)]
    _secret_run(fake_engine, dispatcher)
    [(run_id, sealed)] = queue.messages["gpu"]

    ended = fake_engine.take_queued_run(sealer)(run_id, sealed)

    assert ended is not None and ended.status == "succeeded"
    assert ended.owner == fake_engine.owners.me()
    [spec] = fake_engine.runtime.created
    assert "/run/secrets" in [m.target for m in spec.mounts]
    assert [e.data["line"] for e in fake_engine.runs.events(run_id)
            if e.type == "run.output"] == ["***"]  # redacted: the worker had the value


def test_a_message_delivered_twice_runs_the_run_once(
        fake_engine: FakeEngine, dispatcher: QueueDispatcher, queue: FakeRunQueue,
        sealer: FakeSecretSealer) -> None:
    _secret_run(fake_engine, dispatcher)
    [(run_id, sealed)] = queue.messages["gpu"]
    take = fake_engine.take_queued_run(sealer)

    first, again = take(run_id, sealed), take(run_id, sealed)

    assert first is not None and again is None
    assert len(fake_engine.runtime.started) == 1


def test_a_queued_run_canceled_on_a_replica_ends_canceled_and_never_starts_on_a_worker(
        fake_engine: FakeEngine, dispatcher: QueueDispatcher, queue: FakeRunQueue,
        sealer: FakeSecretSealer) -> None:
    started = _secret_run(fake_engine, dispatcher)
    [(run_id, sealed)] = queue.messages["gpu"]

    assert dispatcher.cancel(run_id)
    taken = fake_engine.take_queued_run(sealer)(run_id, sealed)

    assert taken is None and fake_engine.runtime.created == []
    assert started.result(timeout=5).status == "canceled"
    assert [e.type for e in fake_engine.runs.events(run_id)][-2:] == ["run.canceled",
                                                                      "run.finished"]


def test_a_run_a_worker_holds_gets_a_stored_request_when_canceled_or_killed_elsewhere(
        fake_engine: FakeEngine, dispatcher: QueueDispatcher) -> None:
    started = _start(fake_engine, dispatcher)(RunRequest(job="hello", args={"name": "Ada"}))
    fake_engine.runs.claim(started.run_id, QUEUED_OWNER, "worker-host:42")

    canceled, killed = dispatcher.cancel(started.run_id), dispatcher.kill(started.run_id)

    requests = [e.data for e in fake_engine.runs.events(started.run_id)
                if e.type == "run.cancel.requested"]
    assert (canceled, killed) == (True, True) and requests == [{}, {"kill": True}]
    stored = fake_engine.runs.get(started.run_id)
    assert stored is not None and stored.status == "queued"


def test_a_run_handed_over_canceled_ends_canceled_without_being_enqueued(
        fake_engine: FakeEngine, dispatcher: QueueDispatcher, queue: FakeRunQueue) -> None:
    heard: list[EventRecord] = []

    started = _start(fake_engine, dispatcher)(RunRequest(job="hello", args={"name": "Ada"}),
                                              listeners=[heard.append],
                                              stop_requested=lambda: True)

    assert queue.messages == {} and started.result(timeout=0).status == "canceled"
    assert heard[-1].type == "run.finished"


def test_the_replicas_future_feeds_listeners_every_event_the_worker_records_until_the_end(
        fake_engine: FakeEngine, dispatcher: QueueDispatcher, queue: FakeRunQueue,
        sealer: FakeSecretSealer) -> None:
    heard: list[EventRecord] = []
    started = _secret_run(fake_engine, dispatcher, listeners=[heard.append])
    [(run_id, sealed)] = queue.messages["gpu"]

    fake_engine.take_queued_run(sealer)(run_id, sealed)
    ended = started.result(timeout=10)

    assert ended.status == "succeeded"
    seqs = [e.seq for e in heard]
    assert seqs == list(range(1, len(seqs) + 1)) and heard[-1].type == "run.finished"
    assert "run.started" in [e.type for e in heard]


def test_a_taken_run_ends_error_job_not_found_when_the_worker_does_not_have_the_job(
        fake_engine: FakeEngine, dispatcher: QueueDispatcher, queue: FakeRunQueue,
        sealer: FakeSecretSealer) -> None:
    _secret_run(fake_engine, dispatcher)
    [(run_id, sealed)] = queue.messages["gpu"]
    fake_engine.catalog.docs.clear()

    ended = fake_engine.take_queued_run(sealer)(run_id, sealed)

    assert ended is not None and (ended.status, ended.code) == ("error", "job.not.found")
    assert fake_engine.runtime.created == []


def test_a_taken_run_ends_error_secret_key_invalid_when_the_worker_has_another_key(
        fake_engine: FakeEngine, dispatcher: QueueDispatcher, queue: FakeRunQueue) -> None:
    _secret_run(fake_engine, dispatcher)
    [(run_id, sealed)] = queue.messages["gpu"]
    other = FakeSecretSealer(SecretKey(text="o" * 40, source="test"))

    ended = fake_engine.take_queued_run(other)(run_id, sealed)

    assert ended is not None and (ended.status, ended.code) == ("error", "secret.key.invalid")
    assert fake_engine.runtime.created == []


def test_a_replica_follows_no_run_until_someone_waits_for_it(
        fake_engine: FakeEngine, dispatcher: QueueDispatcher) -> None:
    def following() -> int:
        return sum(t.name == "flwd-follow" and t.is_alive() for t in threading.enumerate())

    before = following()
    started = _start(fake_engine, dispatcher)(RunRequest(job="hello", args={"name": "Ada"}))
    idle = following()
    with pytest.raises(TimeoutError):
        started.result(timeout=0.05)

    assert (idle, following()) == (before, before + 1)
    dispatcher.cancel(started.run_id)
    assert started.result(timeout=10).status == "canceled"
