"""Suggestions for mistyped names: the closest known name, said the same way everywhere."""

from __future__ import annotations

from collections.abc import Iterable


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``; did you mean 'x'?`` naming the choice closest to *word*, or ``""`` when none is."""
    import difflib  # only a name that matched nothing needs it; plans that pass never load it

    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
