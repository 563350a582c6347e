"""The job command line's refusals found in one pass, as Cyclopts would meet them.

``job_parser`` reports every problem of a line at once (SPEC section 2): it parsed the line
with Cyclopts, dropped the option Cyclopts refused and parsed again, so N problems cost N
full parses, each itself slower the longer the line (Cyclopts makes a token object of every
later token for each option it reads). This module replays that loop without Cyclopts: it
scans the line as Cyclopts does for a job's options (flags, one-value options, arrays given
one value per option), finds what the next parse would refuse, drops what the loop dropped
and resumes the scan where the dropped tokens change it, never from the start of the line.
What it does not model (a refusal that ends the collection, a second ``--``) it leaves to
the loop, which carries on from the line as replayed so far: the loop keeps the last word.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

# what Cyclopts reads as a boolean after `--flag=`; `none`/`null` unset an optional flag
_BOOLEAN_WORDS = frozenset({"no", "n", "0", "false", "f", "yes", "y", "1", "true", "t"})
_NONE_WORDS = frozenset({"none", "null"})
_DELIMITER = "--"


class Known(NamedTuple):
    """One spelling of an option: the parameter it fills and how it is read."""

    param: str
    flag: bool = False  # takes no value (`--x=VALUE` must then be a boolean word)
    many: bool = False  # repeatable: each occurrence adds a value (a job's array)
    unsets: bool = False  # `--x=none` leaves it unset (the positive name of an optional flag)


class Refusal(NamedTuple):
    """What a Cyclopts parse would refuse first: kind is unknown, repeat, missing or coercion
    (a flag's value that is not a boolean)."""

    kind: str
    keyword: str
    value: str = ""


class Replay(NamedTuple):
    refusals: list[Refusal]
    tokens: list[str]  # the line without what the loop would have dropped for them


OptionLike = Callable[..., bool]  # cyclopts.utils.is_option_like
Match = Callable[[str], Known | None]  # what an option name is, None if unknown


def replay(known: Match, tokens: Sequence[str], option_like: OptionLike) -> Replay:
    """The refusals of *tokens*, in the loop's order, and the line left after dropping them."""
    line = _Line(tokens)
    scan = _Scan(known, line, option_like)
    refusals: list[Refusal] = []
    while (refusal := scan.run()) is not None:
        span = line.offender(refusal)
        if span is None:  # the loop stops here: it reports this one itself
            return Replay(refusals, line.tokens())
        refusals.append(refusal)
        scan.resume(min(span[0], scan.at))
        line.drop(span)
    for at in scan.unused:
        if not line.alive[at] or not option_like(line.toks[at]):
            continue
        keyword = line.toks[at].split("=")[0]
        span = line.offender(Refusal("unknown", keyword))
        if span is None or span[0] != at:  # e.g. a second `--`: not modelled
            break
        refusals.append(Refusal("unknown", keyword))
        line.drop(span)
    return Replay(refusals, line.tokens())


def collapse(known: Match, tokens: Sequence[str],
             option_like: OptionLike) -> tuple[list[str], dict[str, list[str]]] | None:
    """*tokens* with each array option given once (its first value), and every array's values
    in order: Cyclopts' time grows with the line for each option it reads. None unless some
    array is given more than once and Cyclopts would take the line as it is."""
    line = _Line(tokens)
    scan = _Scan(known, line, option_like)
    if scan.run() is not None or scan.unused:
        return None
    if all(len(given) < 2 for given in scan.arrays.values()):
        return None
    for given in scan.arrays.values():
        for at, _ in given[1:]:
            line.drop((at, None if "=" in line.toks[at] else line.nxt[at]))
    values = {param: [value for _, value in given] for param, given in scan.arrays.items()}
    return line.tokens(), values


class _Line:
    """The tokens still on the line, as a linked list (dropping is O(1)), with the positions
    of each option name (``--x`` or ``--x=...``) in order."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self.toks = list(tokens)
        count = len(self.toks)
        self.alive = [True] * count
        self.nxt = list(range(1, count + 1))  # count: none
        self.prv = list(range(-1, count - 1))
        self.heads: dict[str, list[int]] = {}
        for at, token in enumerate(self.toks):
            self.heads.setdefault(token.partition("=")[0], []).append(at)
        self.delimiter = self.toks.index(_DELIMITER) if _DELIMITER in self.toks else count

    def tokens(self) -> list[str]:
        return [token for token, alive in zip(self.toks, self.alive) if alive]

    def after(self, at: int) -> int | None:
        following = self.nxt[at]
        return following if following < len(self.toks) else None

    def start_from(self, at: int) -> int:
        """The first live position at or after *at* (len when none)."""
        while at < len(self.toks) and not self.alive[at]:
            at += 1
        return at

    def offender(self, refusal: Refusal) -> tuple[int, int | None] | None:
        """The positions the loop dropped for *refusal* (an option and perhaps its value), as
        ``job_parser`` did: the first occurrence of the name, the last one for a repeat;
        None when it found none to drop."""
        positions = self._live(refusal.keyword)
        if not positions or (refusal.kind == "repeat" and len(positions) < 2):
            return None
        at = positions[-1] if refusal.kind == "repeat" else positions[0]
        if refusal.kind == "missing":  # the occurrence that lacks its value
            at = next((one for one in positions if self.alive[one] and "=" not in self.toks[one]
                       and self._followed_by_option(one)), at)
        value = self.after(at)
        if "=" in self.toks[at] or value is None or self.toks[value].startswith("-"):
            value = None
        return at, value

    def _live(self, name: str) -> list[int]:
        """The live positions of *name*, trimmed of the dropped ones at both ends (amortised
        O(1): each position is trimmed once); dropped ones may remain in the middle."""
        positions = self.heads.get(name, [])
        while positions and not self.alive[positions[-1]]:
            positions.pop()
        low = 0
        while low < len(positions) and not self.alive[positions[low]]:
            low += 1
        del positions[:low]
        return positions

    def _followed_by_option(self, at: int) -> bool:
        following = self.after(at)
        return following is None or self.toks[following].startswith("-")

    def drop(self, span: tuple[int, int | None]) -> None:
        for at in span:
            if at is None:
                continue
            self.alive[at] = False
            before, following = self.prv[at], self.nxt[at]
            if before >= 0:
                self.nxt[before] = following
            if following < len(self.toks):
                self.prv[following] = before


class _Scan:
    """Cyclopts' reading of the options before ``--``, resumable at any option's position:
    which parameters have a value so far (and where the first came), and the tokens it
    leaves unused (unknown options, stray values)."""

    def __init__(self, known: Match, line: _Line, option_like: OptionLike) -> None:
        self.known, self.line, self.option_like = known, line, option_like
        self.filled: dict[str, int] = {}  # parameter -> position of its first value
        self.unused: list[int] = []
        self.arrays: dict[str, list[tuple[int, str]]] = {}  # (option's position, value) each
        self.at = 0

    def resume(self, at: int) -> None:
        """Scan again from *at*: forget what was read there and after."""
        self.filled = {param: first for param, first in self.filled.items() if first < at}
        while self.unused and self.unused[-1] >= at:
            self.unused.pop()
        for given in self.arrays.values():
            while given and given[-1][0] >= at:
                given.pop()
        self.at = at

    def run(self) -> Refusal | None:
        """Read on to the first refusal (``self.at`` is then its option's position)."""
        line = self.line
        self.at = line.start_from(self.at)
        while self.at < line.delimiter:
            refusal, following = self._read(self.at)
            if refusal is not None:
                return refusal
            self.at = following
        self.unused += [at for at in range(line.delimiter + 1, len(line.toks)) if line.alive[at]]
        return None

    def _read(self, at: int) -> tuple[Refusal | None, int]:
        token = self.line.toks[at]
        following = self.line.nxt[at]
        name, equals, value = token.partition("=")
        known = self.known(name) if equals else None
        if known is None:
            name, known = token, self.known(token)
        if known is None or not self.option_like(token, allow_numbers=True):
            self.unused.append(at)
            return None, following
        if known.flag:
            if equals and value.lower() not in _BOOLEAN_WORDS and not (
                    known.unsets and value.lower() in _NONE_WORDS):
                return Refusal("coercion", name, value), at
        elif not equals:
            if following >= self.line.delimiter or self.option_like(self.line.toks[following]):
                return Refusal("missing", name), at
            value, following = self.line.toks[following], self.line.nxt[following]
        if known.param in self.filled and not known.many:
            return Refusal("repeat", name), at
        self.filled.setdefault(known.param, at)
        if known.many:
            self.arrays.setdefault(known.param, []).append((at, value))
        return None, following
