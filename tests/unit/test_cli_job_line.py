"""A job line's problems found in one pass: the same problems, in the same order, as parsing
again after dropping each refused option, for a bounded number of Cyclopts parses."""

from __future__ import annotations

from typing import Any, Iterator
from unittest import mock

import cyclopts
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flwd.domain.errors import ArgsInvalidError, FlwdError
from flwd.domain.model import ArgSpec, ArgType, JobSpec
from flwd.entrypoints.cli import job_collect
from flwd.entrypoints.cli.grammar import COMMANDS_BY_NAME, RUN_OPTIONS
from flwd.entrypoints.cli.job_parser import JobInvocation, parse_job_options

T = ArgType
JOB = JobSpec(id="j", directory="/j", spec_path="/j/job.yaml", image="alpine", args=(
    ArgSpec(name="name", type=T.STRING, required=True),
    ArgSpec(name="db_host", type=T.STRING),
    ArgSpec(name="db.port", type=T.INTEGER),
    ArgSpec(name="loud", type=T.BOOLEAN, default=False),
    ArgSpec(name="dry-run", type=T.BOOLEAN),
    ArgSpec(name="tags", type=T.ARRAY, items=T.STRING),
    ArgSpec(name="pin", type=T.BOOLEAN, secret=True),
    ArgSpec(name="zz", type=T.STRING, secret=True),
))
TOKENS = ["--name", "--db-host", "--db_host", "--db.port", "--loud", "--no-loud", "--no_loud",
          "--dry-run", "--no-dry_run", "--tags", "--pin", "--no-pin", "--zz", "--profile",
          "--json", "--detach", "--", "--name=Al", "--db.port=3", "--json=true", "--json=maybe",
          "--loud=maybe", "--loud=none", "--no-loud=none", "--loud=", "--tags=a", "--tags=",
          "--zz=-", "-", "--other", "--other=1", "--nämé", "---x", "--=x", "-x", "-abc", "-5",
          "-1:2", "x=--y", "Alice", "3", "", "a b"]


def _outcome(tokens: list[str],
             run_options: Any = RUN_OPTIONS) -> JobInvocation | tuple[object, ...]:
    try:
        return parse_job_options(JOB, tokens, prog="flwd j", run_options=run_options)
    except ArgsInvalidError as exc:
        return type(exc), str(exc), tuple(exc.problems)
    except FlwdError as exc:
        return type(exc), str(exc)


@pytest.fixture
def parses() -> Iterator[list[list[str]]]:
    """Each token list Cyclopts parses (the job's help aside)."""
    seen: list[list[str]] = []
    real = cyclopts.App.__call__

    def counting(app: cyclopts.App, tokens: Any = None, **kwargs: Any) -> Any:
        seen.append(list(tokens or []))
        return real(app, tokens, **kwargs)

    with mock.patch.object(cyclopts.App, "__call__", counting):
        yield seen


def test_job_line_is_parsed_a_bounded_number_of_times_when_an_option_repeats_200_times(
        parses: list[list[str]]) -> None:
    outcome = _outcome(["--name", "x"] * 200)

    assert isinstance(outcome, tuple) and outcome[0] is ArgsInvalidError
    problems = outcome[2]
    assert [(p.arg, p.code, p.message) for p in problems] == [
        ("name", "type", "given more than once")] * 199
    assert len(parses) <= 3


def test_job_line_is_parsed_a_bounded_number_of_times_when_200_options_are_unknown(
        parses: list[list[str]]) -> None:
    outcome = _outcome([t for i in range(200) for t in (f"--bogus{i}", "v")] + ["--name", "a"])

    assert isinstance(outcome, tuple) and outcome[0] is ArgsInvalidError
    problems = outcome[2]
    assert [p.arg for p in problems] == [f"bogus{i}" for i in range(200)]
    assert {p.code for p in problems} == {"unknown"}
    assert problems[7].message.startswith("Unknown option: --bogus7.")
    assert len(parses) <= 3


def test_cyclopts_reads_each_array_option_once_when_an_array_is_given_200_values(
        parses: list[list[str]]) -> None:
    values = [f"v{i}" for i in range(200)] + ["-5", "", "a b"]
    tokens = [t for value in values for t in ("--tags", value)] + ["--name", "a", "--tags=z"]

    outcome = _outcome(tokens)

    assert isinstance(outcome, JobInvocation)
    assert outcome.args == {"name": "a", "tags": [*values, "z"]}
    # Cyclopts makes a token object of every later token for each option it reads
    assert max(len(line) for line in parses) <= 4


def test_job_line_reports_refusals_in_line_order_then_unknown_options_when_all_are_mixed() -> None:
    outcome = _outcome(["--bogus", "1", "--name", "a", "--name", "b", "--loud=maybe", "--tags"])

    assert isinstance(outcome, tuple)
    assert [(p.arg, p.code, p.message) for p in outcome[2]] == [
        ("name", "type", "given more than once"),
        ("loud", "type", "expected a boolean (true or false), got 'maybe'"),
        ("tags", "type", "option needs a value"),
        ("bogus", "unknown", "Unknown option: --bogus. Did you mean --db_host?"),
    ]


def test_job_line_keeps_the_first_value_when_an_option_repeats_and_the_line_is_otherwise_bad(
) -> None:
    outcome = _outcome(["--name", "a", "--name", "b", "--db.port", "x"])

    assert isinstance(outcome, tuple)
    assert [(p.arg, p.code) for p in outcome[2]] == [("name", "type"), ("db.port", "type")]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from(TOKENS) | st.sampled_from(["--tags", "a"]), max_size=10),
       st.booleans())
def test_job_line_gives_what_parsing_again_after_each_refusal_gives_when_tokens_are_any(
        tokens: list[str], plan: bool) -> None:
    run_options = COMMANDS_BY_NAME[":plan"].run_options if plan else RUN_OPTIONS
    with mock.patch.object(job_collect, "_SHORT_LINE", 0):  # replayed even when it parses
        replayed = _outcome(tokens, run_options)
    with mock.patch.object(job_collect, "_replayed", lambda *a: ([], a[2])), \
            mock.patch.object(job_collect, "_collapsed", lambda *a: None):
        looped = _outcome(tokens, run_options)

    assert replayed == looped


def test_help_is_refused_not_shown_when_dropping_options_brings_it_before_the_delimiter(
        capsys: pytest.CaptureFixture[str]) -> None:
    outcome = _outcome(["--name", "a", "--", "--=x", "--help"])

    assert isinstance(outcome, tuple) and outcome[0] is ArgsInvalidError
    assert [(p.arg, p.code) for p in outcome[2]][-1] == ("help", "unknown")
    assert capsys.readouterr().out == ""
