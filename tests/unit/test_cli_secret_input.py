"""Secrets off the command line (SPEC section 3): ``@PATH``, ``-`` and a no-echo prompt,
read through the CLI's injected ``Io.secrets`` (a ``FakeSecretInput``), never patched."""

from __future__ import annotations

import io as stdio
import json
from pathlib import Path

import pytest

from flwd.adapters.fake_runtime import FakeRuntime
from flwd.adapters.fakes import FakeSecretInput
from flwd.domain.errors import ArgsInvalidError, UsageError
from flwd.domain.model import JobSpec
from flwd.domain.spec.args import parse_arg_specs
from flwd.entrypoints.cli.main import main
from flwd.entrypoints.cli.render import Io
from flwd.entrypoints.cli.secret_input import MAX_SECRET_BYTES, read_secrets
from flwd.entrypoints.container import Container
from flwd.ports.runtime import OutputLine
from tests.conftest import write_job

SECRET_JOB = """\
id: deploy
args:
  - {name: api_token, type: string, format: secret, required: true}
  - {name: db_password, type: string, format: secret}
  - {name: note, type: string}
  - {name: level, type: integer}
executor: container
image: alpine:3.20
script: main.sh
"""
TOKEN = "tok-4f9a1c"
JOB = JobSpec(id="deploy", directory="/jobs/deploy", spec_path="/jobs/deploy/job.yaml",
              image="alpine:3.20",
              args=parse_arg_specs([
                  {"name": "api_token", "type": "string", "format": "secret", "required": True},
                  {"name": "db_password", "type": "string", "format": "secret"},
                  {"name": "note", "type": "string"},
              ], spec_path="/jobs/deploy/job.yaml"))


@pytest.fixture
def deploy(jobs_root: Path) -> Path:
    return write_job(jobs_root, "deploy", SECRET_JOB, "cat /run/secrets/api_token\n")


def _cli(engine: Container, source: FakeSecretInput, *argv: str) -> tuple[int, str, str]:
    out, err = stdio.StringIO(), stdio.StringIO()
    code = main(list(argv), Io(out=out, err=err, secrets=source), {"HOME": "/nonexistent"},
                container=engine)
    return code, out.getvalue(), err.getvalue()


def _problems(source: FakeSecretInput, args: dict[str, object]) -> dict[str, str]:
    with pytest.raises(ArgsInvalidError) as caught:
        read_secrets(JOB, args, source)
    return {p.arg: p.message for p in caught.value.problems}


# --- what the value becomes -------------------------------------------------------------


def test_value_is_read_from_the_file_once_without_its_final_newline_when_given_at_path() -> None:
    source = FakeSecretInput(files={"/run/tok": f"{TOKEN}\n".encode()})

    values = read_secrets(JOB, {"api_token": "@/run/tok", "note": "@/run/tok"}, source)

    assert values == {"api_token": TOKEN, "note": "@/run/tok"}  # only secrets read files
    assert source.reads == {"/run/tok": 1}


@pytest.mark.parametrize(("content", "value"), [
    (b"a\n\n", "a\n"), (b"a\r\n", "a"), (b"a", "a"), (b"", ""), (b"  a b  \n", "  a b  "),
])
def test_only_one_final_line_break_is_dropped_when_the_file_ends_with_some(
        content: bytes, value: str) -> None:
    source = FakeSecretInput(files={"f": content})

    assert read_secrets(JOB, {"api_token": "@f"}, source)["api_token"] == value


def test_value_is_read_from_standard_input_when_given_dash() -> None:
    source = FakeSecretInput(stdin=f"{TOKEN}\n".encode())

    values = read_secrets(JOB, {"api_token": "-"}, source)

    assert values["api_token"] == TOKEN and source.reads == {"stdin": 1}


def test_double_at_gives_a_literal_value_starting_with_at_when_escaped() -> None:
    source = FakeSecretInput()

    values = read_secrets(JOB, {"api_token": "@@not-a-file", "db_password": "plain"}, source)

    assert values == {"api_token": "@not-a-file", "db_password": "plain"} and not source.reads


# --- what cannot be read ------------------------------------------------------------------


@pytest.mark.parametrize(("files", "unreadable", "expected"), [
    ({}, set(), "no such file or directory"),
    ({"/s": b"x"}, {"/s"}, "permission denied"),
    ({"/s": b"x" * (MAX_SECRET_BYTES + 1)}, set(), "more than 256 KiB"),
    ({"/s": b"\xff\xfe"}, set(), "not UTF-8 text"),
])
def test_unreadable_file_is_args_invalid_naming_the_argument_not_the_path_when_reading_fails(
        files: dict[str, bytes], unreadable: set[str], expected: str) -> None:
    source = FakeSecretInput(files=files, unreadable=unreadable)

    problems = _problems(source, {"api_token": "@/s"})

    assert list(problems) == ["api_token"] and expected in problems["api_token"]
    assert "/s" not in problems["api_token"]


def test_file_of_exactly_the_limit_is_accepted_when_at_the_size_limit() -> None:
    source = FakeSecretInput(files={"/s": b"x" * MAX_SECRET_BYTES})

    assert len(str(read_secrets(JOB, {"api_token": "@/s"}, source)["api_token"])) == MAX_SECRET_BYTES


def test_bare_at_is_args_invalid_when_no_path_follows() -> None:
    assert "needs a file name" in _problems(FakeSecretInput(), {"api_token": "@"})["api_token"]


def test_two_secrets_from_standard_input_is_a_usage_error_when_both_give_dash() -> None:
    source = FakeSecretInput(stdin=b"x")

    with pytest.raises(UsageError, match="only one secret"):
        read_secrets(JOB, {"api_token": "-", "db_password": "-"}, source)
    assert not source.reads


def test_cli_reports_the_unreadable_secret_with_other_problems_and_never_the_value_when_run(
        engine: Container, deploy: Path) -> None:
    source = FakeSecretInput()

    code, out, err = _cli(engine, source, "deploy", "--api-token", f"@{TOKEN}", "--level", "x")

    assert code == 2 and out == ""
    assert "error[args.invalid]" in err and "--api_token: type: cannot read" in err
    assert "--level: type:" in err and TOKEN not in err


# --- runs and plans -------------------------------------------------------------------------


def test_run_gets_the_file_value_when_given_at_path(
        engine: Container, deploy: Path, fake_runtime: FakeRuntime) -> None:
    fake_runtime.output_lines = [OutputLine(stream="stdout", line=TOKEN)]
    source = FakeSecretInput(files={"/t": f"{TOKEN}\n".encode()})

    code, out, err = _cli(engine, source, "deploy", "--api-token", "@/t")

    assert (code, out) == (0, "***\n")  # redacted: the job's secret is exactly the value
    assert TOKEN not in err and fake_runtime.created[0].env.get("ARG_API_TOKEN") is None


def test_run_gets_standard_input_when_given_dash_as_a_separate_token(
        engine: Container, deploy: Path, fake_runtime: FakeRuntime) -> None:
    fake_runtime.output_lines = [OutputLine(stream="stdout", line=TOKEN)]
    source = FakeSecretInput(stdin=f"{TOKEN}\n".encode())

    code, out, _ = _cli(engine, source, "deploy", "--note", "n", "--api_token", "-")

    assert (code, out) == (0, "***\n") and source.reads == {"stdin": 1}


def test_non_secret_dash_is_still_refused_when_the_argument_is_not_a_secret(
        engine: Container, deploy: Path) -> None:
    code, _, err = _cli(engine, FakeSecretInput(stdin=b"x"), "deploy", "--api-token", "a",
                        "--note", "-")

    assert code == 2 and "--note" in err


def test_plan_reads_the_file_and_still_hides_the_value_when_given_at_path(
        engine: Container, deploy: Path) -> None:
    source = FakeSecretInput(files={"/t": TOKEN.encode()})

    code, out, _ = _cli(engine, source, ":plan", "deploy", "--api-token", "@/t", "--json")

    plan = json.loads(out)
    assert code == 0 and plan["args"]["api_token"] == "<secret>" and TOKEN not in out
    assert source.reads == {"/t": 1}


# --- the prompt -----------------------------------------------------------------------------


def test_missing_required_secret_is_prompted_for_when_stdin_is_a_terminal(
        engine: Container, deploy: Path, fake_runtime: FakeRuntime) -> None:
    fake_runtime.output_lines = [OutputLine(stream="stdout", line=TOKEN)]
    source = FakeSecretInput(tty=True, answers=[TOKEN])

    code, out, err = _cli(engine, source, "deploy")

    assert (code, out) == (0, "***\n") and TOKEN not in err
    assert source.prompts == ["api_token (secret, not echoed): "]  # optional ones are not asked


def test_missing_required_secret_is_the_required_problem_when_stdin_is_not_a_terminal(
        engine: Container, deploy: Path) -> None:
    source = FakeSecretInput(tty=False, answers=[TOKEN])

    code, _, err = _cli(engine, source, "deploy")

    assert code == 2 and "--api_token: required" in err and source.prompts == []


def test_no_prompt_when_other_arguments_are_already_wrong(engine: Container, deploy: Path) -> None:
    source = FakeSecretInput(tty=True, answers=[TOKEN])

    code, _, err = _cli(engine, source, "deploy", "--level", "x")

    assert code == 2 and source.prompts == []
    assert "--level: type" in err and "--api_token: required" in err


@pytest.mark.parametrize("answers", [[], [""]])
def test_empty_or_ended_prompt_is_the_required_problem_when_nothing_is_typed(
        engine: Container, deploy: Path, answers: list[str]) -> None:
    source = FakeSecretInput(tty=True, answers=answers)

    code, _, err = _cli(engine, source, "deploy")

    assert code == 2 and "--api_token: required" in err and len(source.prompts) == 1


# --- help ------------------------------------------------------------------------------------


def test_help_says_how_to_give_each_secret_off_the_command_line(
        engine: Container, deploy: Path) -> None:
    code, out, _ = _cli(engine, FakeSecretInput(), "deploy", "--help")

    flat = " ".join(out.replace("│", " ").split())
    assert code == 0
    assert flat.count("@PATH reads it from a file, - from standard input") == 2
    assert flat.count("asked for without echo") == 1  # only the required one is prompted for


# --- remote mode -----------------------------------------------------------------------------


def test_remote_run_reads_the_value_locally_and_sends_it_in_the_body_when_given_dash(
        tmp_path: Path) -> None:
    from tests.unit.http_support import ADMIN, close, fake_runtime, make_app, make_container, served

    container = make_container(tmp_path, fake_runtime(lines=(TOKEN,)))
    write_job(tmp_path / "jobs", "deploy", SECRET_JOB, "true\n")
    source = FakeSecretInput(stdin=f"{TOKEN}\n".encode())
    out, err = stdio.StringIO(), stdio.StringIO()
    try:
        with served(make_app(container)) as base:
            code = main(["--server", base, "--token", ADMIN, "deploy", "--api-token", "-"],
                        Io(out=out, err=err, secrets=source), {"HOME": "/nonexistent"})
    finally:
        close(container)

    assert (code, out.getvalue()) == (0, "***\n"), err.getvalue()  # the server got exactly it
    assert source.reads == {"stdin": 1} and TOKEN not in err.getvalue()


def test_dash_prompts_without_echo_instead_of_reading_the_terminal_when_stdin_is_one() -> None:
    source = FakeSecretInput(tty=True, answers=[TOKEN], stdin=b"never read")

    values = read_secrets(JOB, {"api_token": "-"}, source)

    assert values["api_token"] == TOKEN and source.prompts == ["api_token (secret, not echoed): "]
    assert not source.reads


def test_unreadable_standard_input_is_args_invalid_when_reading_it_fails() -> None:
    problems = _problems(FakeSecretInput(stdin_closed=True), {"api_token": "-"})

    assert problems == {"api_token": "cannot read standard input: bad file descriptor"}
