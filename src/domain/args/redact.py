"""Masking of secret values in output lines, event data and error details."""

from __future__ import annotations

from typing import Iterable

MASK = "***"


class Redactor:
    """Replaces every occurrence of any secret value with ``***``.

    Occurrences of different secrets that overlap or nest are masked as one span, so no
    part of any secret survives. Empty values are ignored. With no secrets every method
    returns its input unchanged (the same object). Secrets split across output lines are
    not detected: redaction works on whole lines. ``repr`` never shows a secret.
    """

    __slots__ = ("_secrets", "_simple")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        unique = {s for s in secrets if s}
        self._secrets: tuple[str, ...] = tuple(sorted(unique, key=len, reverse=True))
        self._simple: bool | None = None  # computed on first need: most runs never print one

    def __repr__(self) -> str:
        return f"Redactor(<{len(self._secrets)} secrets>)"

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def redact(self, text: str) -> str:
        """*text* with every secret occurrence replaced by ``***``."""
        secrets = self._secrets
        if not secrets:
            return text
        present = [s for s in secrets if s in text]
        if not present:
            return text
        if len(present) == 1 and self._is_simple():
            return text.replace(present[0], MASK)
        return _mask_spans(text, present)

    def _is_simple(self) -> bool:
        # str.replace masks non-overlapping matches only; "aba" in "ababa" needs spans.
        if self._simple is None:
            self._simple = not any(_self_overlaps(s) for s in self._secrets)
        return self._simple

    def redact_obj(self, obj: object) -> object:
        """*obj* with secrets masked in every string inside dicts, lists and tuples (keys too)."""
        if not self._secrets:
            return obj
        return self._walk(obj)

    def _walk(self, obj: object) -> object:
        if isinstance(obj, str):
            return self.redact(obj)
        if isinstance(obj, dict):
            return {self._walk(k): self._walk(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self._walk(v) for v in obj]
        if isinstance(obj, tuple):
            return tuple(self._walk(v) for v in obj)
        return obj


def _self_overlaps(secret: str) -> bool:
    """Whether *secret* has a proper border (a prefix that is also a suffix), KMP-style."""
    border = [0] * len(secret)
    k = 0
    for i in range(1, len(secret)):
        while k and secret[i] != secret[k]:
            k = border[k - 1]
        if secret[i] == secret[k]:
            k += 1
        border[i] = k
    return bool(secret) and border[-1] > 0


def _mask_spans(text: str, secrets: list[str]) -> str:
    """Mask the union of every occurrence of every secret (found on the original text)."""
    spans: list[tuple[int, int]] = []
    for secret in secrets:
        start = text.find(secret)
        while start != -1:
            spans.append((start, start + len(secret)))
            start = text.find(secret, start + 1)
    spans.sort()
    out: list[str] = []
    pos = 0
    cur_start, cur_end = spans[0]
    for start, end in spans[1:]:
        if start <= cur_end:
            cur_end = max(cur_end, end)
            continue
        out.append(text[pos:cur_start])
        out.append(MASK)
        pos = cur_end
        cur_start, cur_end = start, end
    out.append(text[pos:cur_start])
    out.append(MASK)
    out.append(text[cur_end:])
    return "".join(out)
