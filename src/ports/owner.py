"""The run owner port: which process executes a run, and whether it still lives."""

from __future__ import annotations

from typing import Protocol


class RunOwners(Protocol):
    def me(self) -> str:
        """This process's owner tag (host and pid), stored on the runs it executes."""
        ...

    def alive(self, owner: str) -> bool:
        """True when *owner* is another process on this host that is still running, or (with
        a store shared by several hosts) a process of another host, which this one cannot see."""
        ...
