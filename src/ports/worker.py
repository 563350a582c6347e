"""The worker hook port: what a ``flwd :worker`` tells pluggable parts (heartbeats, a worker
registry) when it starts consuming and when it stops."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerInfo:
    """One worker process: ``owner`` is the tag it stores on the runs it executes
    (``host:pid``, what ``RunRecord.owner`` holds)."""

    owner: str
    host: str
    queues: tuple[str, ...]
    concurrency: int
    runtime: str  # the runtime's name and version, e.g. "podman 4.3.1"
    rootless: bool


class WorkerHook(Protocol):
    """Called by the worker entrypoint, from its main thread; must not block for long."""

    def started(self, info: WorkerInfo, active: Callable[[], tuple[str, ...]]) -> None:
        """The worker consumes its queues from now on; ``active()`` lists the ids of the runs
        it executes at the moment of the call (thread-safe, cheap)."""
        ...

    def stopped(self, info: WorkerInfo) -> None:
        """The worker has stopped consuming and its runs have ended (or were handed back)."""
        ...
