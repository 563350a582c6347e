"""Time and identity ports, injected so that tests never patch modules."""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    def now_iso(self) -> str:
        """The current UTC time as RFC 3339 with milliseconds and ``Z``."""
        ...

    def monotonic(self) -> float:
        ...


class IdSource(Protocol):
    def new_run_id(self) -> str:
        """A fresh, URL- and container-name-safe run id."""
        ...
