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

    def redeliver(self, run_id: str) -> bool:
        """Make the message that carried *run_id* to a worker since lost, which that worker
        never acknowledged, deliverable again as it is (its sealed secrets included): the
        only way to queue again a run whose secret values went with it.

        True when the message is queued again, or when the broker does that by itself (AMQP
        gives a closed connection's unacknowledged messages back at once); False when the
        broker holds no such message (it was acknowledged, or its visibility timeout already
        put it back). Raises ``QueueUnavailableError`` when the broker cannot be reached."""
        ...
