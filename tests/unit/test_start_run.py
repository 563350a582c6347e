"""StartRun: submit a run and hand it to the dispatcher, in one call, on the fakes."""

from __future__ import annotations

import pytest

from flwd.adapters.fake_runtime import FakeRuntime
from flwd.adapters.fakes import FakeRunDispatcher
from flwd.domain.errors import (
    ArgsInvalidError,
    JobNotFoundError,
    PolicyDeniedError,
    RuntimeUnavailableError,
)
from flwd.domain.plan.use_cases import RunRequest
from flwd.domain.run.start import NoRuntimeDispatcher, StartRun
from flwd.ports.store import EventRecord
from tests.job_specs import HELLO
from tests.unit.fake_engine import FakeEngine

DENIED = "executor: container\nimage: alpine:3.20\ncontainer: {network: host}\n"


@pytest.fixture
def dispatcher() -> FakeRunDispatcher:
    return FakeRunDispatcher()


@pytest.fixture
def start(fake_engine: FakeEngine, dispatcher: FakeRunDispatcher) -> StartRun:
    fake_engine.add_job("hello", HELLO)
    fake_engine.add_job("denied", DENIED)
    return StartRun(submit=fake_engine.submit_run(), dispatcher=dispatcher, store=fake_engine.runs,
                    clock=fake_engine.clock, pending=fake_engine.pending)


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


# --- validation before the runtime: a dispatcher that cannot take runs ----------------


def test_a_refused_run_is_recorded_and_ended_error_with_the_refusal_code_when_the_dispatcher_refuses(
        start: StartRun, dispatcher: FakeRunDispatcher, fake_engine: FakeEngine) -> None:
    dispatcher.refuse = RuntimeUnavailableError("no runtime here")
    heard: list[EventRecord] = []

    with pytest.raises(RuntimeUnavailableError) as err:
        start(RunRequest(job="hello", args={"name": "Ada"}), listeners=[heard.append])

    run = fake_engine.runs.get(str(err.value.context["run_id"]))
    assert run is not None
    assert (run.status, run.code, run.detail) == ("error", "container.runtime.unavailable",
                                                  "no runtime here")
    assert run.finished_at is not None and dispatcher.handed == []
    stored = list(fake_engine.runs.events(run.run_id))
    assert [e.type for e in heard] == [e.type for e in stored]
    assert stored[0].type == "run.created" and stored[-1].type == "run.finished"
    assert stored[-1].data["code"] == "container.runtime.unavailable"


def test_an_uncoded_refusal_still_ends_the_recorded_run_error_when_the_dispatcher_fails(
        start: StartRun, dispatcher: FakeRunDispatcher, fake_engine: FakeEngine) -> None:
    dispatcher.refuse = OSError("broken pipe")

    with pytest.raises(OSError):
        start(RunRequest(job="hello", args={"name": "Ada"}))

    (run,) = fake_engine.runs.runs.values()
    assert (run.status, run.code, run.detail) == ("error", "flwd.internal", "OSError: broken pipe")


@pytest.mark.parametrize(("request_", "error"), [
    (RunRequest(job="nope"), JobNotFoundError),
    (RunRequest(job="../../etc/passwd"), JobNotFoundError),
    (RunRequest(job="hello", args={"name": 3, "extra": 1}), ArgsInvalidError),
    (RunRequest(job="denied"), PolicyDeniedError),
])
def test_validation_and_plan_denials_come_before_the_dispatcher_when_it_would_refuse(
        start: StartRun, dispatcher: FakeRunDispatcher, request_: RunRequest,
        error: type[Exception]) -> None:
    dispatcher.refuse = RuntimeUnavailableError("no runtime here")

    with pytest.raises(error):
        start(request_)


def test_the_plan_only_dispatcher_refuses_every_run_with_runtime_unavailable(
        fake_engine: FakeEngine) -> None:
    fake_engine.add_job("hello", HELLO)
    start = StartRun(submit=fake_engine.submit_run(), store=fake_engine.runs,
                     clock=fake_engine.clock, pending=fake_engine.pending,
                     dispatcher=NoRuntimeDispatcher(detail="plan-only"))

    with pytest.raises(RuntimeUnavailableError, match="plan-only") as err:
        start(RunRequest(job="hello", args={"name": "Ada"}))

    run = fake_engine.runs.get(str(err.value.context["run_id"]))
    assert run is not None and (run.status, run.code) == ("error", "container.runtime.unavailable")
    assert not NoRuntimeDispatcher(detail="x").cancel(run.run_id)


def test_a_refused_runs_end_is_kept_and_shown_when_the_store_refuses_to_record_it(
        start: StartRun, dispatcher: FakeRunDispatcher, fake_engine: FakeEngine) -> None:
    dispatcher.refuse = RuntimeUnavailableError("no runtime here")
    fake_engine.runs.refused_events = {"run.finished"}

    with pytest.raises(RuntimeUnavailableError) as err:
        start(RunRequest(job="hello", args={"name": "Ada"}))

    run_id = str(err.value.context["run_id"])
    shown = fake_engine.query_runs().get(run_id)
    assert (shown.status, shown.code) == ("error", "container.runtime.unavailable")
    assert fake_engine.pending.unrecorded(run_id) is not None
    fake_engine.runs.refused_events = set()  # the disk has room again
    fake_engine.pending.retry_now()
    stored = fake_engine.runs.get(run_id)
    assert stored is not None and (stored.status, stored.code) == (
        "error", "container.runtime.unavailable")
    assert list(fake_engine.runs.events(run_id))[-1].type == "run.finished"
