"""The event listener port: whoever wants a run's events as they happen (CLI printer, SSE hub)."""

from __future__ import annotations

from typing import Protocol

from flwd.ports.store import EventRecord


class EventListener(Protocol):
    def __call__(self, event: EventRecord) -> None:
        """Receive one stored event. Must not block for long; must not raise."""
        ...
