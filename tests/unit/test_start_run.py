"""StartRun: submit a run and hand it to the dispatcher, in one call, on the fakes."""

from __future__ import annotations

import pytest

from flwd.adapters.fake_runtime import FakeRuntime
from flwd.adapters.fakes import FakeRunDispatcher
from flwd.domain.errors import ArgsInvalidError, PolicyDeniedError
from flwd.domain.plan.use_cases import RunRequest
from flwd.domain.run.start import StartRun
from flwd.ports.store import EventRecord
from tests.unit.fake_engine import FakeEngine

HELLO = """\
executor: container
image: alpine:3.20
command: [echo, hello]
args:
  - {name: name, type: string, required: true}
"""
DENIED = "executor: container\nimage: alpine:3.20\ncontainer: {network: host}\n"


@pytest.fixture
def dispatcher() -> FakeRunDispatcher:
    return FakeRunDispatcher()


@pytest.fixture
def start(fake_engine: FakeEngine, dispatcher: FakeRunDispatcher) -> StartRun:
    fake_engine.add_job("hello", HELLO)
    fake_engine.add_job("denied", DENIED)
    return StartRun(submit=fake_engine.submit_run(), dispatcher=dispatcher, store=fake_engine.runs)


def test_start_hands_the_recorded_run_to_the_dispatcher_when_the_request_is_valid(
        start: StartRun, dispatcher: FakeRunDispatcher, fake_engine: FakeEngine) -> None:
    started = start(RunRequest(job="hello", args={"name": "Ada"}))

    stored = fake_engine.runs.get(started.run_id)
    assert stored is not None and stored.status == started.record.status == "queued"
    assert [q.record.run_id for q in dispatcher.handed] == [started.run_id]
    assert not started.replayed and dispatcher.stops[started.run_id] == []


def test_listeners_hear_the_submission_events_before_the_hand_over_when_given(
        start: StartRun, dispatcher: FakeRunDispatcher) -> None:
    heard: list[EventRecord] = []

    started = start(RunRequest(job="hello", args={"name": "Ada"}), listeners=[heard.append])

    assert [e.type for e in heard][:1] == ["run.created"]
    assert {e.type for e in heard[1:]} == {"policy.decision"}
    assert dispatcher.listeners[started.run_id] == (heard.append,)


def test_the_run_is_handed_over_canceled_when_a_stop_was_requested_during_submission(
        start: StartRun, dispatcher: FakeRunDispatcher) -> None:
    started = start(RunRequest(job="hello", args={"name": "Ada"}), stop_requested=lambda: True)

    assert dispatcher.stops[started.run_id] == ["cancel"]


def test_cancel_and_kill_of_the_started_run_reach_its_dispatcher_until_it_ends(
        start: StartRun, dispatcher: FakeRunDispatcher) -> None:
    started = start(RunRequest(job="hello", args={"name": "Ada"}))

    canceled, killed = started.cancel(), started.kill()
    dispatcher.finish(started.record.evolve(status="canceled"))

    assert (canceled, killed, started.cancel()) == (True, True, False)
    assert dispatcher.stops[started.run_id] == ["cancel", "kill"]
    assert started.result(timeout=0).status == "canceled"


def test_a_repeated_idempotent_request_starts_nothing_and_answers_with_the_stored_run(
        start: StartRun, dispatcher: FakeRunDispatcher) -> None:
    first = start(RunRequest(job="hello", args={"name": "Ada"}), idempotency_key="k1")

    again = start(RunRequest(job="hello", args={"name": "Ada"}), idempotency_key="k1")

    assert again.replayed and again.run_id == first.run_id
    assert again.result(timeout=0).run_id == first.run_id
    assert len(dispatcher.handed) == 1


def test_a_policy_denial_raises_with_the_run_id_and_hands_nothing_over(
        start: StartRun, dispatcher: FakeRunDispatcher, fake_engine: FakeEngine) -> None:
    heard: list[EventRecord] = []

    with pytest.raises(PolicyDeniedError) as err:
        start(RunRequest(job="denied"), listeners=[heard.append])

    run = fake_engine.runs.get(str(err.value.context["run_id"]))
    assert run is not None and (run.status, run.code) == ("error", "policy.override.denied")
    assert dispatcher.handed == [] and heard == []


def test_invalid_arguments_record_and_hand_over_nothing(
        start: StartRun, dispatcher: FakeRunDispatcher, fake_engine: FakeEngine) -> None:
    with pytest.raises(ArgsInvalidError):
        start(RunRequest(job="hello", args={}))

    assert fake_engine.runs.runs == {} and dispatcher.handed == []


def test_a_job_argument_reaches_the_container_environment_through_one_call_when_started(
        fake_engine: FakeEngine, fake_runtime: FakeRuntime) -> None:
    """The done-criterion of the dispatch seam: entrypoints make this one call; the
    supervisor executes the run to its end."""
    fake_engine.add_job("hello", HELLO)

    started = fake_engine.start_run()(RunRequest(job="hello", args={"name": "Ada"}))

    assert started.result(timeout=10).status == "succeeded"
    assert fake_runtime.created[0].env["ARG_NAME"] == "Ada"
