"""``flwd JOB`` with no runtime reachable: the request is validated first (SPEC section 2), so
an unknown job, bad arguments or a plan-level denial keep their own codes and exit statuses;
only a valid, allowed run meets the missing runtime, and it is recorded to its end."""

from __future__ import annotations

import io as stdio
import json
from pathlib import Path

import pytest

from flwd.adapters.fake_runtime import FakeRuntime
from flwd.entrypoints.cli.main import main
from flwd.entrypoints.cli.render import Io
from flwd.entrypoints.container import Container
from tests.conftest import write_job
from tests.job_specs import HELLO, NETTY


@pytest.fixture
def unreachable(engine: Container, jobs_root: Path, fake_runtime: FakeRuntime) -> Container:
    write_job(jobs_root, "hello", HELLO)
    write_job(jobs_root, "netty", NETTY)
    write_job(jobs_root, "broken", "executor: container\nargs: [\n")
    fake_runtime.unavailable = True
    return engine


def _cli(engine: Container, *argv: str) -> tuple[int, str, str]:
    out, err = stdio.StringIO(), stdio.StringIO()
    code = main(list(argv), Io(out=out, err=err), {"HOME": "/nonexistent"}, container=engine)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("job", ["nope", "../../etc/passwd"])
def test_unknown_job_is_job_not_found_exit_2_when_no_runtime_is_reachable(
        unreachable: Container, job: str) -> None:
    code, out, err = _cli(unreachable, job, "--name", "A")

    assert (code, out) == (2, "")
    assert err.startswith("error[job.not.found]: "), err
    assert unreachable.store().list().runs == ()


def test_bad_arguments_are_args_invalid_exit_2_when_no_runtime_is_reachable(
        unreachable: Container) -> None:
    code, out, err = _cli(unreachable, "hello", "--level", "9", "--bad", "x")

    assert (code, out) == (2, "")
    lines = err.splitlines()
    assert lines[0].startswith("error[args.invalid]: ") and "runtime" not in err
    assert {line.split(":")[0].strip() for line in lines[1:]} == {"--name", "--level", "--bad"}
    assert unreachable.store().list().runs == ()


def test_broken_spec_is_spec_invalid_exit_2_when_no_runtime_is_reachable(
        unreachable: Container) -> None:
    code, _, err = _cli(unreachable, "broken")

    assert code == 2 and err.startswith("error[spec.invalid]: "), err


def test_a_plan_level_denial_comes_before_the_missing_runtime(unreachable: Container) -> None:
    code, _, err = _cli(unreachable, "netty")

    assert code == 125 and "error[policy.override.denied]" in err
    assert "container.runtime.unavailable" not in err


def test_a_valid_run_is_recorded_and_ended_error_runtime_unavailable_when_no_runtime_is_reachable(
        unreachable: Container, fake_runtime: FakeRuntime) -> None:
    code, out, err = _cli(unreachable, "hello", "--name", "A", "--json")

    assert code == 125 and "error[container.runtime.unavailable]" in err, err
    events = [json.loads(line) for line in out.splitlines()]
    assert events[0]["type"] == "run.created" and events[-1]["type"] == "run.finished"
    assert events[-1]["data"]["code"] == "container.runtime.unavailable"
    (run,) = unreachable.store().list().runs
    assert (run.status, run.code, run.started_at) == ("error", "container.runtime.unavailable", None)
    assert fake_runtime.created == []
