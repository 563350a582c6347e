"""Argument ``pattern`` rules: the textbook shapes of catastrophic backtracking, found in
the parsed expression before any value is matched against it.

When a repeated group can match one piece of text in more than one way — ``(a+)+``,
``(\\w+\\s?)*``, ``(a|aa)+``, ``(.*,)*`` — a value that fails to match takes time exponential
in its length; two unbounded repetitions side by side that can share characters —
``.*.*``, ``\\w+\\s*\\w+`` — take time polynomial in it (n^k for k of them). Such a pattern
is refused when the spec is loaded (``spec.invalid``). Values are then matched within a time
bound (``flwd.domain.args.matching``) for whatever shape this check does not know.

The check is structural: inside a loop (a repetition that may run twice or
more), a part that matches a variable amount of text must not be able to match the first
character of what may follow it, wrapping around to the loop's start; and in any sequence,
an unbounded repetition must not end with a character that the next unbounded one, reached
over parts that may match nothing, can start with. It reads the
expression parsed by ``re`` itself; if that parser's shape is not the expected one (a
different Python), the check answers "no risk found" rather than refusing valid patterns.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable

from flwd.domain.args.matching import PatternMatcher
from flwd.domain.errors import SpecInvalidError
from flwd.domain.model import ArgType

# The character classes are compared on this sample: ASCII plus a few non-ASCII letters,
# digits and spaces, enough to tell \w, \d, \s, '.', literals and sets apart.
_SAMPLE = tuple(chr(c) for c in range(128)) + ("é", "ß", "中", "٣", "\u00a0", "\u2028")
_ALL = frozenset(_SAMPLE)
MAX_PATTERN = 1000
Fail = Callable[[str, str], SpecInvalidError]  # fail(key, message) for one argument

RISK_MESSAGE = ("can take exponential time to reject a value: a repeated part can match the same "
                "text in more than one way (as in (a+)+, (\\w+\\s?)* or (a|aa)+); make each "
                "repetition start with something the previous one cannot end with")
POLYNOMIAL_MESSAGE = ("can take polynomial time to reject a value: two unbounded repetitions "
                      "side by side can match the same characters (as in .*.* or \\w+\\s*\\w+), "
                      "so every way of sharing the text between them is tried; merge them, or "
                      "put something between them that the first cannot match")


def parse_pattern(value: object, arg_type: ArgType, fail: Fail) -> str | None:
    """The ``pattern`` of an argument spec: at most ``MAX_PATTERN`` characters, accepted by
    ``re``, without a backtracking risk; else ``fail("pattern", why)``."""
    if value is None:
        return None
    if arg_type is not ArgType.STRING:
        raise fail("pattern", f"only string arguments have a pattern, this is {arg_type.value}")
    if not isinstance(value, str) or len(value) > MAX_PATTERN:
        raise fail("pattern", f"must be a regular expression of at most {MAX_PATTERN} characters")
    try:
        re.compile(value)
    except re.error as exc:
        raise fail("pattern", f"is not a valid regular expression: {exc}") from None
    risk = backtracking_risk(value)
    if risk is not None:
        raise fail("pattern", f"{value!r} {risk}")
    # Not compiled with the matcher's regex module here: importing it would cost every
    # listing of a catalogue with a pattern in it; what re accepts, it accepts.
    return value


def check_default_pattern(default: object, pattern: str | None, fail: Fail) -> None:
    """A string default must match its argument's pattern (within the matcher's bound)."""
    if pattern is None or not isinstance(default, str):  # only a string argument has one
        return
    mismatch = PatternMatcher().mismatch(pattern, default)
    if mismatch is not None:
        _, matchable = mismatch
        raise fail("default", f"{default!r} does not match the pattern {pattern!r}"
                   if matchable else mismatch[0])


def backtracking_risk(pattern: str) -> str | None:
    """``RISK_MESSAGE`` when *pattern* has a loop that can match the same text several ways,
    ``POLYNOMIAL_MESSAGE`` when two unbounded repetitions side by side can share characters;
    None when it has neither (or it cannot be analysed)."""
    try:
        from re import _constants, _parser  # type: ignore[attr-defined]

        parsed = _parser.parse(pattern)
        analysis = _Analysis(_constants, parsed.state)
        if analysis.risky(parsed.data):
            return RISK_MESSAGE
        return POLYNOMIAL_MESSAGE if analysis.side_by_side(parsed.data) else None
    except (re.error, ImportError, AttributeError, TypeError, ValueError, IndexError,
            RecursionError):
        return None  # not analysable here: the compile check reports what re cannot parse


class _Analysis:
    def __init__(self, constants: Any, state: Any) -> None:
        self.c = constants
        self.state = state
        self.repeats = (constants.MAX_REPEAT, constants.MIN_REPEAT)
        self.leaves = (constants.LITERAL, constants.NOT_LITERAL, constants.IN, constants.ANY,
                       constants.CATEGORY)

    def risky(self, items: Iterable[Any]) -> bool:
        """Whether any loop in *items*, at any depth, is ambiguous."""
        for op, av in items:
            if op in self.repeats and av[1] >= 2 and self._ambiguous_loop(self._inline(av[2])):
                return True
            if any(self.risky(part) for part in self._parts(op, av)):
                return True
        return False

    def side_by_side(self, items: Iterable[Any]) -> bool:
        """Whether any sequence, at any depth, has two unbounded repetitions whose characters
        overlap with only parts that may match nothing between them (``.*.*``, ``a+b?a*``):
        rejecting a value then tries every split of it between the two, n^k steps for k of
        them. Possessive repetitions never give text back, so they count not."""
        seq = self._inline(items)
        if any(self._shares_with_next(seq, index) for index in range(len(seq))):
            return True
        return any(self.side_by_side(part) for op, av in seq for part in self._parts(op, av))

    def _parts(self, op: Any, av: Any) -> list[Any]:
        """The sequences inside one item (a loop's body, a group's, each alternative...)."""
        c = self.c
        if op in self.repeats or op is c.POSSESSIVE_REPEAT:
            return [av[2]]
        if op is c.SUBPATTERN:
            return [av[3]]
        if op is c.BRANCH:
            return list(av[1])
        if op in (c.ASSERT, c.ASSERT_NOT):
            return [av[1]]
        if op is c.ATOMIC_GROUP:
            return [av]
        if op is c.GROUPREF_EXISTS:
            return [part for part in av[1:] if part is not None]
        return []

    def _shares_with_next(self, seq: list[Any], index: int) -> bool:
        """Whether the unbounded repetition at *index* can end with a character that a later
        one, reached over parts that may match nothing, can start with."""
        if not self._unbounded(seq[index]):
            return False
        ends = self._last([seq[index]])
        for item in seq[index + 1:]:
            if self._unbounded(item) and self._first([item]) & ends:
                return True
            if self._min_width([item]) > 0:
                return False
        return False

    def _unbounded(self, item: Any) -> bool:
        op, av = item
        return op in self.repeats and av[1] == self.c.MAXREPEAT

    def _inline(self, items: Iterable[Any]) -> list[Any]:
        """*items* with plain groups replaced by their contents (a loop body as one sequence)."""
        out: list[Any] = []
        for op, av in items:
            if op is self.c.SUBPATTERN:
                out += self._inline(av[3])
            else:
                out.append((op, av))
        return out

    def _ambiguous_loop(self, body: list[Any]) -> bool:
        return self._ambiguous_seq(body, self._first(body))  # wrapping: the next iteration

    def _ambiguous_seq(self, seq: list[Any], after: frozenset[str]) -> bool:
        """Whether a variable part of *seq* can match the first character of what follows it
        (the rest of *seq*, then *after*)."""
        for index, (op, av) in enumerate(seq):
            rest = seq[index + 1:]
            follow = self._first(rest) | (after if self._min_width(rest) == 0 else frozenset())
            if op is self.c.BRANCH:
                alternatives = list(av[1])
                if self._alternatives_overlap(alternatives):
                    return True
                if any(self._ambiguous_seq(self._inline(alt), follow) for alt in alternatives):
                    return True
                if any(self._min_width(alt) == 0 for alt in alternatives):  # an optional part
                    chars = frozenset().union(*(self._chars(alt) for alt in alternatives))
                    if chars & follow:
                        return True
            elif op in self.repeats and av[0] != av[1] and self._chars([(op, av)]) & follow:
                return True
        return False

    def _alternatives_overlap(self, alternatives: list[Any]) -> bool:
        if sum(1 for alt in alternatives if self._min_width(alt) == 0) >= 2:
            return True
        firsts = [self._first(alt) for alt in alternatives]
        return any(firsts[i] & firsts[j] for i in range(len(firsts)) for j in range(i))

    def _first(self, items: Iterable[Any]) -> frozenset[str]:
        """The characters a match of *items* can start with."""
        return self._edge(list(items), from_end=False)

    def _last(self, items: Iterable[Any]) -> frozenset[str]:
        """The characters a match of *items* can end with."""
        return self._edge(list(items), from_end=True)

    def _edge(self, items: list[Any], *, from_end: bool) -> frozenset[str]:
        out: set[str] = set()
        for item in reversed(items) if from_end else items:
            out |= self._edge_of(item, from_end)
            if self._min_width([item]) > 0:
                break
        return frozenset(out)

    def _edge_of(self, item: Any, from_end: bool) -> frozenset[str]:
        c = self.c
        op, av = item
        if op in self.leaves:
            return self._leaf(item)
        if op in (c.GROUPREF, c.GROUPREF_EXISTS):
            return _ALL  # whatever the group matched: assume anything
        parts = self._parts(op, av) if op not in (c.ASSERT, c.ASSERT_NOT) else []
        # anchors and lookarounds match no character
        return frozenset().union(*(self._edge(list(part), from_end=from_end) for part in parts))

    def _chars(self, items: Iterable[Any]) -> frozenset[str]:
        """Every character *items* can match anywhere."""
        c = self.c
        out: set[str] = set()
        for item in items:
            op, av = item
            if op in self.leaves:
                out |= self._leaf(item)
            elif op in self.repeats or op is c.POSSESSIVE_REPEAT:
                out |= self._chars(av[2])
            elif op is c.SUBPATTERN:
                out |= self._chars(av[3])
            elif op is c.BRANCH:
                for alt in av[1]:
                    out |= self._chars(alt)
            elif op is c.ATOMIC_GROUP:
                out |= self._chars(av)
            elif op in (c.GROUPREF, c.GROUPREF_EXISTS):
                return _ALL
        return frozenset(out)

    def _min_width(self, items: Iterable[Any]) -> int:
        from re import _parser  # type: ignore[attr-defined]

        return int(_parser.SubPattern(self.state, list(items)).getwidth()[0])

    def _leaf(self, item: Any) -> frozenset[str]:
        return _leaf_chars(self.state, item)


def _leaf_chars(state: Any, item: Any) -> frozenset[str]:
    """The sample characters one single-character item (literal, set, class, '.') matches."""
    from re import _compiler, _parser  # type: ignore[attr-defined]

    matcher = _compiler.compile(_parser.SubPattern(state, [item]), state.flags)
    return frozenset(ch for ch in _SAMPLE if matcher.fullmatch(ch))
