"""Matching argument values against a spec's ``pattern`` within a time bound.

Python's ``re`` cannot be interrupted and holds the GIL while it backtracks: one value against
one unlucky pattern stalled the API server for seconds, ``/healthz`` included. Values are
matched with the ``regex`` module instead (its default mode follows ``re``'s syntax and
semantics; specs are still checked with ``re.compile``), which takes a ``timeout`` (in CPU
time of this process, so a busy machine does not make a match time out) and releases the
GIL while it matches. Every match of one argument check shares one budget, so a
request with many patterned values is bounded as a whole, not per value.
"""

from __future__ import annotations

import sys
import time
from functools import lru_cache
from typing import Any

PATTERN_TIME_BUDGET = 0.25  # seconds for all the matches of one request
_END = sys.maxsize


class PatternTimeoutError(Exception):
    """The budget ran out before a value could be matched; not a ``FlwdError``: the argument
    contract turns it into an ``args.invalid`` problem with code ``pattern``."""


class PatternMatcher:
    """The matches of one argument check, sharing ``budget`` seconds from the first match."""

    def __init__(self, budget: float = PATTERN_TIME_BUDGET) -> None:
        self.budget = budget
        self._started: tuple[float, float] | None = None  # (monotonic, process_time)

    def mismatch(self, pattern: str, value: str) -> tuple[str, bool] | None:
        """None when all of *value* matches *pattern*, else the problem's message and whether
        the value may be shown beside it (not when it could not be checked at all)."""
        try:
            if self.fullmatch(pattern, value):
                return None
        except PatternTimeoutError:
            return (f"could not be checked against the pattern {pattern!r} within the "
                    f"{self.budget:g} s a request may spend matching (it backtracks too much)",
                    False)
        except (RecursionError, OverflowError, ValueError, TypeError):
            return f"cannot be checked: the pattern {pattern!r} is not valid", False
        return f"must match the pattern {pattern!r}", True

    def fullmatch(self, pattern: str, value: str) -> bool:
        """Whether all of *value* matches *pattern* (as ``re.fullmatch``).

        Raises ``PatternTimeoutError`` when the budget is spent, and the ``regex`` module's
        error (a ``ValueError``) for an expression it cannot compile."""
        left = self._left()
        if left <= 0:
            raise PatternTimeoutError(pattern)
        try:
            # fullmatch(string, pos, endpos, concurrent, partial, timeout): positional, as
            # keywords cost a third of a short match. concurrent=True releases the GIL.
            return _compiled(pattern).fullmatch(value, 0, _END, True, False, left) is not None
        except TimeoutError:
            raise PatternTimeoutError(pattern) from None


    def _left(self) -> float:
        """Seconds of the budget left: CPU time, as ``regex`` counts its timeout, so a process
        that waits for a core is not cut short; read only once the cheaper wall clock says the
        budget may be spent."""
        if self._started is None:
            self._started = (time.monotonic(), time.process_time())
            return self.budget
        wall, cpu = self._started
        left = self.budget - (time.monotonic() - wall)
        return left if left > 0 else self.budget - (time.process_time() - cpu)


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> Any:
    import regex  # loaded on the first patterned value: most commands never match one

    try:
        return regex.compile(pattern, regex.VERSION0)  # re's semantics, whatever the default
    except regex.error as exc:
        raise ValueError(f"the regex module cannot compile it: {exc}") from None
