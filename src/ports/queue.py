"""The run queue port: cluster mode's hand-over of a recorded run to the workers of a queue."""

from __future__ import annotations

from typing import Protocol


class RunQueue(Protocol):
    """Carries run ids (and their sealed secrets) to the ``flwd :worker`` processes of a queue.

    A message holds nothing else: a worker reads the run from the shared store. Delivery is
    at least once (late acknowledgement): a worker claims the run in the store before it
    executes it, so a message delivered twice never runs a run twice.
    """

    def enqueue(self, queue: str, run_id: str, sealed: bytes | None) -> None:
        """Send *run_id* with *sealed* secrets (None: the run has none) to *queue*'s workers.

        Raises ``QueueUnavailableError`` (``queue.unavailable``) when the broker cannot be
        reached or does not take the message."""
        ...
