"""Argument ``pattern`` safety: the textbook shapes of catastrophic backtracking, found in
the parsed expression before any value is matched against it.

Python's ``re`` backtracks. When a repeated group can match one piece of text in more than
one way — ``(a+)+``, ``(\\w+\\s?)*``, ``(a|aa)+``, ``(.*,)*`` — a value that fails to match
takes time exponential in its length, and ``POST /plans`` checks values on the server's event
loop. So such a pattern is refused when the spec is loaded (``spec.invalid``).

The check is structural: inside a loop (a repetition that may run twice or
more), a part that matches a variable amount of text must not be able to match the first
character of what may follow it, wrapping around to the loop's start. It reads the
expression parsed by ``re`` itself; if that parser's shape is not the expected one (a
different Python), the check answers "no risk found" rather than refusing valid patterns.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

# The character classes are compared on this sample: ASCII plus a few non-ASCII letters,
# digits and spaces, enough to tell \w, \d, \s, '.', literals and sets apart.
_SAMPLE = tuple(chr(c) for c in range(128)) + ("é", "ß", "中", "٣", "\u00a0", "\u2028")
_ALL = frozenset(_SAMPLE)

RISK_MESSAGE = ("can take exponential time to reject a value: a repeated part can match the same "
                "text in more than one way (as in (a+)+, (\\w+\\s?)* or (a|aa)+); make each "
                "repetition start with something the previous one cannot end with")


def backtracking_risk(pattern: str) -> str | None:
    """``RISK_MESSAGE`` when *pattern* has a loop that can match the same text several ways;
    None when it has none (or it cannot be analysed)."""
    try:
        from re import _constants, _parser  # type: ignore[attr-defined]

        parsed = _parser.parse(pattern)
        return RISK_MESSAGE if _Analysis(_constants, parsed.state).risky(parsed.data) else None
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
        c = self.c
        for op, av in items:
            if op in self.repeats:
                if av[1] >= 2 and self._ambiguous_loop(self._inline(av[2])):
                    return True
                inner: list[Any] = [av[2]]
            elif op is c.POSSESSIVE_REPEAT:
                inner = [av[2]]
            elif op is c.SUBPATTERN:
                inner = [av[3]]
            elif op is c.BRANCH:
                inner = list(av[1])
            elif op in (c.ASSERT, c.ASSERT_NOT):
                inner = [av[1]]
            elif op is c.ATOMIC_GROUP:
                inner = [av]
            elif op is c.GROUPREF_EXISTS:
                inner = [part for part in av[1:] if part is not None]
            else:
                continue
            if any(self.risky(part) for part in inner):
                return True
        return False

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
        out: set[str] = set()
        for item in items:
            out |= self._first_of(item)
            if self._min_width([item]) > 0:
                break
        return frozenset(out)

    def _first_of(self, item: Any) -> frozenset[str]:
        c = self.c
        op, av = item
        if op in self.leaves:
            return self._leaf(item)
        if op in self.repeats or op is c.POSSESSIVE_REPEAT:
            return self._first(av[2])
        if op is c.SUBPATTERN:
            return self._first(av[3])
        if op is c.BRANCH:
            return frozenset().union(*(self._first(alt) for alt in av[1]))
        if op is c.ATOMIC_GROUP:
            return self._first(av)
        if op in (c.GROUPREF, c.GROUPREF_EXISTS):
            return _ALL  # whatever the group matched: assume anything
        return frozenset()  # anchors and lookarounds match no character

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
