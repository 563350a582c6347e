"""The plain command line read without Cyclopts gives what Cyclopts gives, and declines (None)
everything that is not plain, so the full parser has the last word there."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flwd.domain.errors import FlwdError
from flwd.domain.model import ArgSpec, ArgType, JobSpec
from flwd.entrypoints.cli.grammar import RUN_OPTIONS
from flwd.entrypoints.cli.job_parser import JobInvocation, parse_job_options
from flwd.entrypoints.cli.plain_options import parse_plain

JOB = JobSpec(id="j", directory="/j", spec_path="/j/job.yaml", image="alpine", args=(
    ArgSpec(name="name", type=ArgType.STRING),
    ArgSpec(name="db_host", type=ArgType.STRING),
    ArgSpec(name="count", type=ArgType.INTEGER),
    ArgSpec(name="loud", type=ArgType.BOOLEAN),
    ArgSpec(name="tags", type=ArgType.ARRAY, items=ArgType.STRING),
))
# the same job with a secret: plain parsing declines it, so Cyclopts parses every line
FULL = dataclasses.replace(JOB, args=(*JOB.args, ArgSpec(name="zz", type=ArgType.STRING,
                                                          secret=True)))
TOKENS = ["--name", "--db-host", "--db_host", "--count", "--loud", "--no-loud", "--tags",
          "--profile", "--json", "--detach", "--help", "--", "--name=Al", "--count=3",
          "--json=true", "--other", "Alice", "3", "-3", "", "a b", "secure", "-h"]


def _full(tokens: list[str]) -> JobInvocation | FlwdError:
    try:
        return parse_job_options(FULL, tokens, prog="flwd j")
    except FlwdError as exc:
        return exc


@pytest.mark.parametrize("tokens", [
    ["--name", "Alice"], ["--name=Alice", "--json"], ["--db-host", "h", "--count", "3"],
    ["--profile", "permissive", "--detach", "--name", "a b"], [],
])
def test_parse_plain_reads_line_when_plain(tokens: list[str]) -> None:
    assert parse_plain(JOB, tokens, RUN_OPTIONS) is not None


@pytest.mark.parametrize("tokens", [
    ["--loud"], ["--tags", "a"], ["--name", "-x"], ["--name", "a", "--name", "b"], ["--help"],
    ["--name"], ["--", "--name", "a"], ["--json=true"], ["--other", "x"], ["--name="],
    ["--json", "--json"], ["Alice"],
])
def test_parse_plain_declines_line_when_not_plain(tokens: list[str]) -> None:
    assert parse_plain(JOB, tokens, RUN_OPTIONS) is None


def test_parse_plain_declines_every_line_when_job_has_a_secret() -> None:
    assert parse_plain(FULL, ["--name", "Alice"], RUN_OPTIONS) is None


PAIRS = st.tuples(st.sampled_from(["--name", "--db-host", "--db_host", "--count", "--profile"]),
                  st.sampled_from(["Alice", "3", "a b", "x=y", "secure"]), st.booleans())
FLAGS = st.sampled_from([["--json"], ["--detach"]])
PLAIN_LINES = st.lists(st.one_of(PAIRS.map(lambda p: [f"{p[0]}={p[1]}"] if p[2] else [p[0], p[1]]),
                                 FLAGS), max_size=4).map(lambda parts: sum(parts, []))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.lists(st.sampled_from(TOKENS), max_size=6), PLAIN_LINES))
def test_parse_job_options_matches_cyclopts_when_line_is_plain(tokens: list[str]) -> None:
    if parse_plain(JOB, tokens, RUN_OPTIONS) is None:
        return  # Cyclopts parses it: nothing to compare
    fast = parse_job_options(JOB, tokens, prog="flwd j")
    full = _full(tokens)

    assert isinstance(full, JobInvocation), full
    assert fast == full
