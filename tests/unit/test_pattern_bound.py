"""Patterns can never stall a request: risky shapes are refused at load, matching is bounded."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from flwd.domain.args.contract import check_args
from flwd.domain.args.matching import PATTERN_TIME_BUDGET, PatternMatcher
from flwd.domain.errors import ArgsInvalidError
from flwd.domain.model import ArgSpec, ArgType
from tests.unit.http_support import auth, client_with_jobs

# Exponential for any backtracking matcher: (a|aa)+ splits a run of a's in Fibonacci-many ways.
SLOW = ArgSpec(name="word", type=ArgType.STRING, pattern="(a|aa)+$")
SLOW_VALUE = "a" * 60 + "b"


def test_match_is_args_invalid_pattern_when_it_takes_longer_than_the_bound() -> None:
    with pytest.raises(ArgsInvalidError) as err:
        check_args((SLOW,), {"word": SLOW_VALUE}, from_text=False)

    (problem,) = err.value.problems
    assert (problem.arg, problem.code) == ("word", "pattern")
    assert f"within the {PATTERN_TIME_BUDGET:g} s" in problem.message
    assert SLOW_VALUE not in problem.message


def test_every_slow_value_is_a_pattern_problem_when_one_request_has_many() -> None:
    """The bound is for the whole request: later values get what time is left (none)."""
    specs = tuple(ArgSpec(name=f"w{i}", type=ArgType.STRING, pattern="(a|aa)+$") for i in range(8))

    with pytest.raises(ArgsInvalidError) as err:
        check_args(specs, {f"w{i}": SLOW_VALUE for i in range(8)}, from_text=False)

    assert [(p.arg, p.code) for p in err.value.problems] == [(f"w{i}", "pattern") for i in range(8)]
    assert all("could not be checked" in p.message for p in err.value.problems)


def test_values_still_match_and_mismatch_as_with_re_when_within_the_bound() -> None:
    spec = ArgSpec(name="slug", type=ArgType.STRING, pattern=r"[a-z][a-z0-9-]*")

    assert check_args((spec,), {"slug": "web-01"}, from_text=False) == {"slug": "web-01"}
    with pytest.raises(ArgsInvalidError) as err:
        check_args((spec,), {"slug": "web-01\n"}, from_text=False)  # fullmatch: no $ leniency
    assert err.value.problems[0].message == "must match the pattern '[a-z][a-z0-9-]*', got 'web-01\\n'"


ATOMS = ["a", "b", ".", "[ab]", "[^a]", r"\d", r"\w", r"\s", "\u00e9", "(?:a|b)", "(a)", "^", "$", r"\b"]
patterns = st.lists(st.tuples(st.sampled_from(ATOMS), st.sampled_from(["", "?", "*", "+", "{1,2}", "*?"])),
                    min_size=1, max_size=5).map(lambda parts: "".join(a + q for a, q in parts))


@settings(max_examples=300, deadline=None)
@given(pattern=patterns, value=st.text(alphabet="ab1 \u00e9\n_-", max_size=8))
def test_matcher_agrees_with_re_when_a_pattern_and_value_are_generated(pattern: str, value: str) -> None:
    try:
        expected = re.fullmatch(pattern, value) is not None
    except re.error:  # e.g. a quantifier on an anchor
        return

    assert PatternMatcher().fullmatch(pattern, value) is expected


def test_matcher_reports_the_bound_when_its_budget_is_spent() -> None:
    matcher = PatternMatcher(budget=0.0)

    assert matcher.mismatch("a", "a") == (
        "could not be checked against the pattern 'a' within the 0 s a request may spend "
        "matching (it backtracks too much)", False)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient[Any]]:
    job = ('executor: container\nimage: alpine:3.20\n'
           'args: [{name: v, type: string, pattern: "^.*.*.*.*.*.*=$"}]\n')
    with client_with_jobs(tmp_path, {"slow": job}) as (_, client):
        yield client


def test_plan_is_spec_invalid_at_once_when_a_pattern_has_side_by_side_repetitions(
        client: TestClient[Any]) -> None:
    response = client.post("/plans", json={"job": "slow", "args": {"v": "a" * 120}}, headers=auth())

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "spec.invalid"
    assert "polynomial time" in body["detail"] and "args[0].pattern" in body["detail"]
