"""Cancel while the image is being pulled (SPEC 6): the run ends canceled without a container,
whether the registry answers, fails or stalls."""

from __future__ import annotations

import threading
from typing import Callable, Iterator

import pytest

from flwd.adapters.fake_runtime import FakeRuntime
from flwd.domain.run.control import RunControl
from flwd.domain.run.execution import QueuedRun
from flwd.domain.plan.use_cases import RunRequest
from flwd.ports.runtime import PullProgress
from flwd.ports.store import RunRecord
from tests.unit.fake_engine import FakeEngine

JOB = "executor: container\nimage: alpine:3.20\nscript: main.sh\n"


def _cancel_on_first_progress(runtime: FakeRuntime, control: RunControl) -> None:
    original = runtime.ensure_image

    def ensure_image(image: str, policy: str, progress: Callable[[PullProgress], None]) -> bool:
        def hooked(step: PullProgress) -> None:
            control.cancel()  # Ctrl-C / :cancel while the registry is still answering
            progress(step)

        return original(image, policy, hooked)

    runtime.ensure_image = ensure_image  # type: ignore[method-assign]


@pytest.mark.parametrize("pull_fails", [True, False])
def test_a_run_canceled_while_pulling_ends_canceled_without_a_container(
        fake_engine: FakeEngine, fake_runtime: FakeRuntime, pull_fails: bool) -> None:
    fake_engine.add_job("pulled", JOB, "echo hi\n")
    fake_runtime.images.clear()
    fake_runtime.pull_fails = pull_fails
    control = RunControl()
    _cancel_on_first_progress(fake_runtime, control)
    queued = fake_engine.submit_run()(RunRequest(job="pulled", args={}))
    assert isinstance(queued, QueuedRun)

    record = fake_engine.execute_run()(queued, control)

    types = [e.type for e in fake_engine.store().events(record.run_id)]
    assert (record.status, record.code) == ("canceled", None)
    assert "run.canceled" in types and types[-1] == "run.finished"
    assert fake_runtime.created == []
    assert fake_runtime.pulled == []  # the pull was abandoned at its first progress report


@pytest.fixture
def stalled_pull(fake_runtime: FakeRuntime) -> Iterator[threading.Event]:
    """The fake's pulls block, reporting nothing, like a registry that never answers; the
    returned event is set once a pull has begun. Released at teardown, so no thread lingers."""
    fake_runtime.images.clear()
    fake_runtime.pull_stall = threading.Event()
    began = threading.Event()
    original = fake_runtime.ensure_image

    def ensure_image(image: str, policy: str, progress: Callable[[PullProgress], None]) -> bool:
        began.set()
        return original(image, policy, progress)

    fake_runtime.ensure_image = ensure_image  # type: ignore[method-assign]
    yield began
    fake_runtime.pull_stall.set()


def test_a_run_canceled_while_its_pull_stalls_ends_canceled_without_waiting_for_the_pull(
        fake_engine: FakeEngine, fake_runtime: FakeRuntime,
        stalled_pull: threading.Event) -> None:
    """The cancel must not wait for a progress report that a stalled registry never sends."""
    fake_engine.add_job("stalled", JOB, "echo hi\n")
    control = RunControl()
    queued = fake_engine.submit_run()(RunRequest(job="stalled", args={}))
    assert isinstance(queued, QueuedRun)
    ended: list[RunRecord] = []
    run = threading.Thread(target=lambda: ended.append(fake_engine.execute_run()(queued, control)),
                           daemon=True)
    run.start()
    assert stalled_pull.wait(10)

    control.cancel()
    run.join(10)  # generous: a regression fails here instead of hanging

    assert ended, "the cancel waited for the stalled pull"
    types = [e.type for e in fake_engine.store().events(ended[0].run_id)]
    assert (ended[0].status, ended[0].code) == ("canceled", None)
    assert "run.canceled" in types and types[-1] == "run.finished"
    assert fake_runtime.created == [] and fake_runtime.pulled == []
