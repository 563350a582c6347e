"""The CLI end to end in-process, with the engine's runtime and secrets replaced by fakes."""

from __future__ import annotations

import io as stdio
import json
import time
from pathlib import Path

import pytest

from flwd.adapters.fake_runtime import FakeRuntime
from flwd.entrypoints.cli.main import main
from flwd.entrypoints.cli.render import Io
from flwd.entrypoints.container import Container
from flwd.ports.runtime import OutputLine
from tests.conftest import write_job

DEMO = """\
id: demo-container
name: Demo container job
executor: container
interpreter: "container:alpine:3.20"
script: main.sh
args:
  - {name: name, type: string, required: true, description: Who to greet}
  - {name: loud, type: boolean, default: false}
  - {name: tags, type: array, items: string}
  - {name: level, type: integer, minimum: 1, maximum: 5}
  - {name: api_token, type: string, format: secret}
"""


class Captured:
    def __init__(self) -> None:
        self.out, self.err = stdio.StringIO(), stdio.StringIO()
        self.io = Io(out=self.out, err=self.err)


def _cli(engine: Container | None, *argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    captured = Captured()
    code = main(list(argv), captured.io, env or {"HOME": "/nonexistent"}, container=engine)
    return code, captured.out.getvalue(), captured.err.getvalue()


@pytest.fixture
def demo(jobs_root: Path) -> Path:
    return write_job(jobs_root, "demo-container", DEMO, 'echo "Hello $ARG_NAME"\n')


def test_run_prints_job_output_and_exits_zero_when_job_succeeds(
        engine: Container, demo: Path, fake_runtime: FakeRuntime) -> None:
    fake_runtime.output_lines = [OutputLine(stream="stdout", line="Hello Alice"),
                                 OutputLine(stream="stderr", line="a warning")]

    code, out, err = _cli(engine, "demo-container", "--name", "Alice")

    assert (code, out) == (0, "Hello Alice\n")
    assert "a warning" in err
    assert fake_runtime.created[0].env["ARG_NAME"] == "Alice"


def test_run_exits_with_job_code_when_job_fails(engine: Container, demo: Path,
                                                fake_runtime: FakeRuntime) -> None:
    fake_runtime.exit_code = 3

    code, _, _ = _cli(engine, "demo-container", "--name=Alice")

    assert code == 3


def test_run_exits_125_naming_the_runtime_when_the_log_read_fails(
        engine: Container, demo: Path, fake_runtime: FakeRuntime) -> None:
    fake_runtime.output_lines = [OutputLine(stream="stdout", line="first")]
    fake_runtime.output_fails = True

    code, out, err = _cli(engine, "demo-container", "--name", "Alice")

    assert (code, out) == (125, "first\n")
    assert "error[container.runtime.unavailable]" in err


def test_options_are_parsed_into_typed_arguments_when_all_forms_are_used(
        engine: Container, demo: Path, fake_runtime: FakeRuntime) -> None:
    code, _, err = _cli(engine, "demo-container", "--name=Al", "--loud", "--tags", "a", "--tags", "b",
                        "--level", "4", "--api-token", "tok-999999")

    assert code == 0, err
    env = fake_runtime.created[0].env
    assert (env["ARG_LOUD"], env["ARG_TAGS"], env["ARG_LEVEL"]) == ("true", '["a","b"]', "4")
    assert "tok-999999" not in json.dumps(dict(env))


def test_args_invalid_lists_every_problem_and_exits_2_when_arguments_are_bad(
        engine: Container, demo: Path, fake_runtime: FakeRuntime) -> None:
    code, out, err = _cli(engine, "demo-container", "--level", "9")

    assert code == 2 and out == ""
    lines = err.splitlines()
    assert lines[0].startswith("error[args.invalid]: ")
    assert any("--name: required" in line for line in lines)
    assert any("--level: range" in line for line in lines)
    assert fake_runtime.created == []


def test_an_argument_too_long_for_the_environment_is_args_invalid_before_any_container(
        engine: Container, demo: Path, fake_runtime: FakeRuntime) -> None:
    code, out, err = _cli(engine, "demo-container", "--name", "x" * 140_000)

    assert code == 2 and out == ""
    assert err.startswith("error[args.invalid]: ")
    assert any(line.strip().startswith("--name: range: too long to deliver")
               for line in err.splitlines()), err
    assert fake_runtime.created == [] and engine.store().list().runs == ()


def test_unknown_option_is_args_invalid_when_job_has_no_such_argument(
        engine: Container, demo: Path) -> None:
    code, _, err = _cli(engine, "demo-container", "--name", "x", "--nmae", "y")

    assert code == 2 and "error[args.invalid]" in err and "unknown" in err


def test_json_prints_ndjson_events_when_asked(engine: Container, demo: Path) -> None:
    code, out, _ = _cli(engine, "demo-container", "--name", "Alice", "--json")

    events = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert events[0]["type"] == "run.created" and events[-1]["type"] == "run.finished"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


def test_secret_never_reaches_cli_output_when_job_echoes_it(
        engine: Container, demo: Path, fake_runtime: FakeRuntime) -> None:
    fake_runtime.output_lines = [OutputLine(stream="stdout", line="tok-777777")]

    code, out, err = _cli(engine, "demo-container", "--name", "A", "--api_token", "tok-777777", "--json")

    assert code == 0 and "tok-777777" not in out + err and "***" in out


def test_plan_needs_no_runtime_and_hides_secrets(engine: Container, demo: Path,
                                                fake_runtime: FakeRuntime) -> None:
    fake_runtime.unavailable = True

    code, out, _ = _cli(engine, ":plan", "demo-container", "--name", "A", "--api-token", "tok-555555",
                        "--json")

    plan = json.loads(out)
    assert code == 0 and plan["job_id"] == "demo-container" and plan["profile"] == "secure"
    assert plan["secret_files"] == ["api_token"] and "tok-555555" not in out
    assert plan["args"]["api_token"] == "<secret>"


def test_help_lists_job_arguments_with_types_and_defaults(engine: Container, demo: Path) -> None:
    code, out, _ = _cli(engine, "demo-container", "--help")

    assert code == 0
    for text in ("--name", "Who to greet", "required", "--loud", "default: false", "--level",
                 "integer", "--api-token", "secret"):
        assert text in out


def test_jobs_lists_valid_and_invalid_jobs(engine: Container, demo: Path, jobs_root: Path) -> None:
    write_job(jobs_root, "broken", "executor: shell\nimage: x\n")

    code, out, _ = _cli(engine, ":jobs", "--json")

    listing = json.loads(out)
    assert code == 0
    assert [j["id"] for j in listing["jobs"]] == ["demo-container"]
    assert listing["invalid"][0]["id"] == "broken" and "executor" in listing["invalid"][0]["reason"]


def test_runtime_unavailable_exits_125(engine: Container, demo: Path,
                                       fake_runtime: FakeRuntime) -> None:
    fake_runtime.unavailable = True

    code, _, err = _cli(engine, "demo-container", "--name", "A")

    assert code == 125 and "error[container.runtime.unavailable]" in err


def test_policy_denial_exits_125_before_any_container(engine: Container, jobs_root: Path,
                                                      fake_runtime: FakeRuntime) -> None:
    write_job(jobs_root, "net", "executor: container\nimage: alpine:3.20\ncontainer: {network: bridge}\n")

    code, _, err = _cli(engine, "net")

    assert code == 125 and "error[policy.override.denied]" in err
    assert fake_runtime.created == []


def test_runs_and_logs_show_recorded_runs(engine: Container, demo: Path,
                                          fake_runtime: FakeRuntime) -> None:
    fake_runtime.output_lines = [OutputLine(stream="stdout", line="logged line")]
    _cli(engine, "demo-container", "--name", "A")

    _, out, _ = _cli(engine, ":runs", "--json")
    runs = json.loads(out)
    code, logs, _ = _cli(engine, ":logs", runs[0]["run_id"])

    assert runs[0]["status"] == "succeeded" and code == 0 and logs == "logged line\n"


def test_cancel_of_finished_run_is_run_not_active(engine: Container, demo: Path) -> None:
    _cli(engine, "demo-container", "--name", "A")
    run_id = engine.store().list().runs[0].run_id

    code, _, err = _cli(engine, ":cancel", run_id)

    assert code == 125 and "error[run.not.active]" in err


def test_runs_with_unknown_status_is_request_invalid_as_on_a_server(engine: Container) -> None:
    code, out, err = _cli(engine, ":runs", "--status", "bogus")

    assert code == 2 and out == ""
    assert err.startswith("error[request.invalid]: status must be one of queued, pulling,")


@pytest.mark.parametrize("argv, code, text", [
    ([], 0, "Usage: flwd"),
    (["--help"], 0, "Usage: flwd"),
    (["--version"], 0, "flwd 0.1.0"),
    ([":nope"], 2, "error[usage.invalid]"),
    (["--bogus"], 2, "error[usage.invalid]"),
    (["--jobs-dir"], 2, "error[usage.invalid]"),
])
def test_top_level_usage(argv: list[str], code: int, text: str) -> None:
    got, out, err = _cli(None, *argv)

    assert got == code and text in out + err


def test_unknown_job_exits_2_with_job_not_found(tmp_path: Path) -> None:
    code, _, err = _cli(None, "--jobs-dir", str(tmp_path), "--data-dir", str(tmp_path / "d"), "nope")

    assert code == 2 and "error[job.not.found]" in err


def test_unknown_option_and_contract_problems_are_reported_together(
        engine: Container, demo: Path) -> None:
    code, _, err = _cli(engine, "demo-container", "--level", "9", "--bogus", "1", "--name", "a",
                        "--name", "b")

    assert code == 2
    assert "--bogus: unknown" in err and "--level: range" in err and "--name: type" in err


TYPO = "executor: container\nimage: alpine:3.20\ntimout: 10m\n"
TYPO_WARNING = ("warning[spec.key.unknown]: job typo: unknown key 'timout' ignored; "
                "did you mean 'timeout'?")


def test_plan_and_run_warn_on_stderr_when_the_spec_has_an_unknown_key(
        engine: Container, jobs_root: Path, fake_runtime: FakeRuntime) -> None:
    write_job(jobs_root, "typo", TYPO)

    plan_code, plan_out, plan_err = _cli(engine, ":plan", "typo", "--json")
    run_code, _, run_err = _cli(engine, "typo")

    assert plan_code == 0 and json.loads(plan_out)["timeout_seconds"] is None
    assert TYPO_WARNING in plan_err.splitlines()
    assert run_code == 0 and TYPO_WARNING in run_err.splitlines()
    assert len(fake_runtime.created) == 1  # a warning, not a refusal


def test_jobs_shows_spec_warnings_when_a_spec_has_an_unknown_key(
        engine: Container, jobs_root: Path) -> None:
    write_job(jobs_root, "typo", TYPO)

    _, text_out, text_err = _cli(engine, ":jobs")
    _, json_out, _ = _cli(engine, ":jobs", "--json")

    assert text_out.split() == ["typo"] and TYPO_WARNING in text_err.splitlines()
    listed = json.loads(json_out)["jobs"]
    assert listed == [{"id": "typo", "name": "", "description": "", "image": "alpine:3.20",
                       "warnings": ["unknown key 'timout' ignored; did you mean 'timeout'?"],
                       "origin": None}]


def test_a_ctrl_c_outside_a_run_exits_130_without_an_uncoded_error_line(
        engine: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*_args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr("flwd.entrypoints.cli.commands.dispatch", interrupted)
    out, err = stdio.StringIO(), stdio.StringIO()

    code = main([":runs"], Io(out=out, err=err), {}, container=engine)

    assert (code, out.getvalue(), err.getvalue()) == (130, "", "")


def test_detach_prints_the_run_id_at_once_and_a_child_process_runs_it_when_asked(
        engine: Container, demo: Path, fake_runtime: FakeRuntime) -> None:
    code, out, _ = _cli(engine, "demo-container", "--name", "Alice", "--detach")

    run_id = out.strip()
    deadline = time.monotonic() + 20  # generous: the child starts a fresh engine
    while (record := engine.store().get(run_id)) is not None and record.finished_at is None:
        assert time.monotonic() < deadline, f"the detached run stayed {record.status}"
        time.sleep(0.05)
    assert code == 0 and record is not None
    assert record.status == "succeeded" and record.owner != engine.owner()
    assert fake_runtime.created == []  # this process's runtime never saw it: the child ran it
