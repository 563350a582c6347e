"""SPEC section 6 end to end: timeout, Ctrl-C and `:cancel` stop the container, remove it and
the run's secrets, and end the run with the right status and exit code."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.integration.e2e_support import (  # noqa: F401 - fixtures
    Result,
    Runtime,
    Sandbox,
    cancel_running,
    rt,
    sandbox,
    secrets_dir,
)

SLEEPER = """\
    executor: container
    image: alpine:3.20
    script: main.sh
    {extra}
    args:
      - {{name: api_token, type: string, format: secret, required: true}}
    """
TIMEOUT, SHORT_GRACE, LONG_GRACE = 2.0, 2.0, 10.0


@dataclass(frozen=True, slots=True)
class Stopped:
    """A run stopped from outside, with when the stop was asked and when flwd returned."""

    result: Result
    run_id: str
    stop_seconds: float  # from the stop request to flwd's exit
    containers_after: list[str]
    secrets_existed_while_running: bool


def stop_run(rt: Runtime, sandbox: Sandbox, job: str, grace: float, how: str) -> Stopped:
    running = sandbox.start(job, "--api-token", "t0ken-value", "--json",
                            env={"FLWD_CANCEL_GRACE": f"{grace:g}s"})
    try:
        run_id = running.read_until("run.started")["run_id"]
        existed = secrets_dir(run_id).is_dir()
        running.read_until("run.output")  # the job is up and inside its sleep
        result, seconds = cancel_running(sandbox, running, run_id, how, timeout=grace + 30)
    finally:
        running.kill()
    return Stopped(result, run_id, seconds, rt.containers(run_id), existed)


@pytest.fixture(scope="module")
def timed_out(rt: Runtime, sandbox: Sandbox) -> tuple[Result, list[str]]:
    sandbox.write_job("slow", SLEEPER.format(extra=f"timeout: {TIMEOUT:g}s"),
                      {"main.sh": "echo started\nsleep 60\n"})
    result = sandbox.flwd("slow", "--api-token", "t0ken-value", "--json",
                          env={"FLWD_CANCEL_GRACE": f"{SHORT_GRACE:g}s"})
    return result, rt.containers(result.events()[0]["run_id"])


@pytest.fixture(scope="module")
def interrupted(rt: Runtime, sandbox: Sandbox) -> Stopped:
    """Ctrl-C with a long grace period: the init passes SIGTERM on, so `sleep` ends at once."""
    sandbox.write_job("sleeper", SLEEPER.format(extra=""), {"main.sh": "echo started\nsleep 60\n"})
    return stop_run(rt, sandbox, "sleeper", LONG_GRACE, "sigint")


@pytest.fixture(scope="module")
def stubborn(rt: Runtime, sandbox: Sandbox) -> Stopped:
    """`flwd :cancel` from another process, on a job that ignores SIGTERM: killed after grace."""
    sandbox.write_job("stubborn", SLEEPER.format(extra=""),
                      {"main.sh": "trap '' TERM\necho started\nsleep 60\n"})
    return stop_run(rt, sandbox, "stubborn", SHORT_GRACE, "cancel")


def test_run_ends_timed_out_with_124_when_timeout_expires(timed_out: tuple[Result, list[str]]) -> None:
    result, containers = timed_out
    events = result.events()
    types = [e["type"] for e in events]

    assert result.code == 124, result.describe()
    assert "run.timed_out" in types and types[-1] == "run.finished"
    assert events[-1]["data"]["status"] == "timed_out"
    assert result.seconds < TIMEOUT + SHORT_GRACE + 5, result.describe()
    assert containers == []
    assert not secrets_dir(events[0]["run_id"]).exists()


def test_ctrl_c_cancels_with_130_when_run_is_active(sandbox: Sandbox, interrupted: Stopped) -> None:
    events = interrupted.result.events()
    run = [r for r in sandbox.runs() if r["run_id"] == interrupted.run_id][0]

    assert interrupted.result.code == 130, interrupted.result.describe()
    assert "run.canceled" in [e["type"] for e in events]
    assert events[-1]["type"] == "run.finished" and events[-1]["data"]["status"] == "canceled"
    assert run["status"] == "canceled"
    assert interrupted.containers_after == []


def test_sigterm_ends_a_plain_sleep_at_once_when_init_is_pid_one(interrupted: Stopped) -> None:
    # well before the 10 s grace period: the job got SIGTERM and did not need the kill
    assert interrupted.stop_seconds < 5.0, interrupted.result.describe()


def test_secrets_dir_is_removed_when_run_is_canceled(interrupted: Stopped) -> None:
    assert interrupted.secrets_existed_while_running
    assert not secrets_dir(interrupted.run_id).exists()


def test_cancel_from_another_process_kills_after_grace_when_job_ignores_sigterm(
    stubborn: Stopped,
) -> None:
    events = stubborn.result.events()

    assert stubborn.result.code == 130, stubborn.result.describe()
    assert events[-1]["data"]["status"] == "canceled"
    assert SHORT_GRACE - 0.5 <= stubborn.stop_seconds < SHORT_GRACE + 5, stubborn.result.describe()
    assert stubborn.containers_after == []
    assert stubborn.secrets_existed_while_running and not secrets_dir(stubborn.run_id).exists()


@pytest.fixture(scope="module")
def orphaned(rt: Runtime, sandbox: Sandbox) -> tuple[Result, str, list[str], list[str]]:
    """The flwd running a job is killed (SIGKILL: no cleanup); `flwd :cancel` from another
    process adopts the run: its container stops and goes, the run ends canceled."""
    sandbox.write_job("orphan", SLEEPER.format(extra=""), {"main.sh": "echo started\nsleep 60\n"})
    running = sandbox.start("orphan", "--api-token", "t0ken-value", "--json",
                            env={"FLWD_CANCEL_GRACE": f"{SHORT_GRACE:g}s"})
    try:
        run_id = running.read_until("run.started")["run_id"]
        running.read_until("run.output")
    finally:
        running.kill()
    before = rt.containers(run_id)
    cancel = sandbox.flwd(":cancel", run_id, env={"FLWD_CANCEL_GRACE": f"{SHORT_GRACE:g}s"})
    return cancel, run_id, before, rt.containers(run_id)


def test_cancel_stops_and_ends_a_run_whose_flwd_was_killed(
    sandbox: Sandbox, orphaned: tuple[Result, str, list[str], list[str]],
) -> None:
    cancel, run_id, before, after = orphaned
    run = [r for r in sandbox.runs() if r["run_id"] == run_id][0]
    logs = sandbox.flwd(":logs", run_id)

    assert cancel.code == 0, cancel.describe()
    assert before != [] and after == []  # the killed flwd had left its container running
    assert run["status"] == "canceled", run
    assert not secrets_dir(run_id).exists()
    assert logs.out.startswith("started\n"), logs.describe()
