"""Argument patterns that can backtrack catastrophically are found before any value is checked."""

from __future__ import annotations

import pytest

from flwd.domain.spec.patterns import POLYNOMIAL_MESSAGE, RISK_MESSAGE, backtracking_risk

# Each of these takes seconds or more in re.fullmatch on a ~25-character value that fails.
CATASTROPHIC = [
    r"(a+)+", r"(a*)*", r"(a+)*", r"(\w+\s?)*", r"^(\w+\s?)*$", r"(a|a)*", r"(a|aa)+", r"(a|a?)+",
    r"(\d+)*x", r"(.*a){12}", r"([a-z]+)*$", r"(?:a+){2,}", r"(a{1,5})+", r"([+-]?\d+)*",
    r"(.*,)*", r"(\d+(\.\d+)?)*", r"^(([a-z])+.)+[A-Z]([a-z])+$", r"x((ab)+|c)+y",
    r"(a|bc|abc)+", r"(\w+=\w+;?)+",
]

# Loops whose parts cannot match the same text two ways, and patterns without loops.
LINEAR = [
    r"(\w+\.)*\w+", r"(a+b)*", r"(\s*,\s*\w+)*", r"(ab|a)*c", r"([a-z0-9-]+\.)+[a-z]{2,}",
    r"(a|b)*", r"(\w|_)+", r"(?i)(a|A)+", r"^[a-z][a-z0-9-]*$", r"^([a-z0-9]+(-[a-z0-9]+)*)$",
    r"^(\d{1,3}\.){3}\d{1,3}$", r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$",
    r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$", r"^(/[^/]+)+/?$", r"(foo|fa)*", r"[a-z]+",
    r"(?>(a+))+", r"(a++)+", r"x(?=a)b", r"(a)\1", r"(-?\d+,)*", r"(a+)?", r"",
    r"(a+b|c)+", r"(a|ab)+", r"(ab|cde)+",
]

# Unbounded repetitions side by side that can share characters, outside any loop: rejecting
# a value tries every split of it between them (^.*.*.*.*.*.*=$ took 6.4 s on 120 characters).
POLYNOMIAL = [
    r"^.*.*.*.*.*.*=$", r".*.*", r"(.*)(.*)x", r"\w+\s*\w+", r"^[a-z]+[a-z0-9]*$", r".*?.*?x",
    r"a+b?a*", r"^(?:a.*)(?:.*b)$", r"(x)?.*(y)?.*",
]
# Side by side but never sharing a character, or separated by something the first cannot match.
NOT_SIDE_BY_SIDE = [
    r"^.*foo.*$", r"\d+\s+\d+", r"[a-z]*[0-9]*", r"^\s*\S.*$", r".*+.*", r"(?>.*).*",
    r"^\w+@\w+\.\w+$", r"^[a-z]{1,30}[a-z]{1,30}$",
]


@pytest.mark.parametrize("pattern", POLYNOMIAL)
def test_unbounded_repetitions_sharing_characters_side_by_side_are_a_risk(pattern: str) -> None:
    assert backtracking_risk(pattern) == POLYNOMIAL_MESSAGE


@pytest.mark.parametrize("pattern", NOT_SIDE_BY_SIDE + LINEAR)
def test_repetitions_that_cannot_share_text_are_no_polynomial_risk(pattern: str) -> None:
    assert backtracking_risk(pattern) is None


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_a_loop_that_can_match_text_two_ways_is_a_risk(pattern: str) -> None:
    assert backtracking_risk(pattern) == RISK_MESSAGE


@pytest.mark.parametrize("pattern", LINEAR)
def test_a_pattern_without_an_ambiguous_loop_is_no_risk(pattern: str) -> None:
    assert backtracking_risk(pattern) is None


def test_an_expression_re_cannot_parse_is_left_to_the_compile_check() -> None:
    assert backtracking_risk("([") is None
