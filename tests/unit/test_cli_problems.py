"""CLI argument problems: every one reported at once, in the contract's codes (SPEC sections 2, 7)."""

from __future__ import annotations

import io as stdio
import json
from pathlib import Path

import pytest

from flwd.entrypoints.cli.main import main
from flwd.entrypoints.cli.render import Io
from flwd.entrypoints.container import Container
from tests.conftest import write_job

SPEC = """\
executor: container
image: alpine:3.20
command: [/bin/true]
args:
  - {name: name, type: string, required: true}
  - {name: loud, type: boolean, default: false}
  - {name: tags, type: array, items: string}
  - {name: level, type: integer, minimum: 1, maximum: 5}
  - {name: pin, type: boolean, format: secret}
"""


def _plan(engine: Container, *argv: str) -> tuple[int, str, str]:
    out, err = stdio.StringIO(), stdio.StringIO()
    code = main([":plan", "j", *argv], Io(out=out, err=err), {"HOME": "/nonexistent"},
                container=engine)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def job(jobs_root: Path) -> Path:
    return write_job(jobs_root, "j", SPEC)


@pytest.mark.parametrize("tokens", [
    ["--tags", "--level", "9"],
    ["--level", "9", "--tags"],
])
def test_option_without_value_is_reported_with_every_other_problem_when_arguments_are_bad(
        engine: Container, job: Path, tokens: list[str]) -> None:
    code, out, err = _plan(engine, *tokens)

    assert (code, out) == (2, "")
    assert err.startswith("error[args.invalid]: 3 argument problems")
    assert "--tags: type:" in err and "--level: range:" in err and "--name: required:" in err


@pytest.mark.parametrize("flag", ["--loud=maybe", "--loud=", "--no-loud=x"])
def test_boolean_given_a_non_boolean_is_a_type_problem_when_other_arguments_are_bad_too(
        engine: Container, job: Path, flag: str) -> None:
    code, _, err = _plan(engine, flag, "--level", "abc")

    assert code == 2
    assert err.startswith("error[args.invalid]: 3 argument problems")
    assert "--loud: type:" in err and "--level: type:" in err and "--name: required:" in err


def test_secret_boolean_value_is_hidden_when_it_is_not_a_boolean(
        engine: Container, job: Path) -> None:
    code, out, err = _plan(engine, "--name", "a", "--pin=hunter22")

    assert code == 2
    assert "--pin: type:" in err
    assert "hunter22" not in out + err


def test_unknown_option_names_the_option_as_typed_when_it_is_not_ascii(
        engine: Container, job: Path) -> None:
    code, _, err = _plan(engine, "--nämé", "x", "--name", "a")

    assert code == 2
    assert "  --nämé: unknown:" in err



def test_arguments_with_dots_in_their_names_reach_the_job_when_given_on_the_command_line(
        engine: Container, jobs_root: Path) -> None:
    write_job(jobs_root, "dots", "executor: container\nimage: alpine:3.20\nargs:\n"
              "  - {name: db.host, type: string, required: true}\n"
              "  - {name: dry.run-now, type: boolean}\n")
    out, err = stdio.StringIO(), stdio.StringIO()

    code = main([":plan", "dots", "--db.host", "h1", "--dry.run-now", "--json"],
                Io(out=out, err=err), {"HOME": "/nonexistent"}, container=engine)

    assert code == 0, err.getvalue()
    env = json.loads(out.getvalue())["env"]
    assert (env["ARG_DB_HOST"], env["ARG_DRY_RUN_NOW"]) == ("h1", "true")


def test_help_shows_descriptions_verbatim_when_they_hold_markdown_characters(
        engine: Container, jobs_root: Path) -> None:
    write_job(jobs_root, "logs", "executor: container\nimage: alpine:3.20\n"
              "description: 'Cleans files matching *.log and *.tmp under __pycache__'\nargs:\n"
              "  - {name: glob, type: string, description: 'e.g. **/*.gz or `x`'}\n")
    out, err = stdio.StringIO(), stdio.StringIO()

    code = main(["logs", "--help"], Io(out=out, err=err), {"HOME": "/nonexistent"},
                container=engine)

    assert code == 0
    assert "*.log and *.tmp under __pycache__" in out.getvalue()
    assert "e.g. **/*.gz or `x`" in out.getvalue()


def test_help_shows_each_arguments_value_type_when_listing_options(
        engine: Container, job: Path) -> None:
    out, err = stdio.StringIO(), stdio.StringIO()

    code = main(["j", "--help"], Io(out=out, err=err), {"HOME": "/nonexistent"}, container=engine)

    text = out.getvalue()
    assert code == 0
    assert "--level INT " in text and "--name TEXT " in text and "--tags TEXT..." in text
    assert "--level STR" not in text
