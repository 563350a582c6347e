"""The run owner port: which process executes a run, and whether it still lives."""

from __future__ import annotations

from typing import Protocol

# The owner of a run waiting in cluster mode's queue: no process holds it yet. It counts as
# alive (the queue holds it), and a worker takes the run by claiming it from this tag, so
# only one worker (or a cancel) ever gets it, however often the queue delivers it.
QUEUED_OWNER = "queue"


class RunOwners(Protocol):
    def me(self) -> str:
        """This process's owner tag (host and pid), stored on the runs it executes."""
        ...

    def alive(self, owner: str) -> bool:
        """True when *owner* is another process on this host that is still running, or (with
        a store shared by several hosts) a process of another host, which this one cannot see."""
        ...
