"""The run dispatch port: where a recorded run goes to be executed.

Single-host flwd executes it on this process's worker threads (``RunSupervisor``); cluster
mode can enqueue it for a worker instead. ``StartRun`` hands runs over through this port, so
the entrypoints never know which.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Iterable, Protocol, TypeVar

from flwd.ports.events import EventListener
from flwd.ports.store import RunRecord

# The queued run (the domain's ``QueuedRun``); generic so that ports import nothing of the domain.
QueuedT_contra = TypeVar("QueuedT_contra", contravariant=True)


class RunDispatcher(Protocol[QueuedT_contra]):
    """Executes queued runs somewhere and routes stop requests to the ones it holds."""

    def submit(self, queued: QueuedT_contra, listeners: Iterable[EventListener] = (), *,
               canceled: bool = False) -> Future[RunRecord]:
        """Hand *queued* over for execution; *listeners* hear each event it records from now on.

        The future resolves to the run as it ended (it always ends with ``run.finished``).
        ``canceled``: the caller was asked to stop the run before handing it over; it then
        ends ``canceled`` without ever starting a container.

        Raises a coded error when it cannot take the run at all (no runtime here, a queue
        that cannot be reached); the caller then ends the recorded run ``error`` with that code.
        """
        ...

    def cancel(self, run_id: str) -> bool:
        """Ask the run to stop gracefully; False when this dispatcher does not hold it."""
        ...

    def kill(self, run_id: str) -> bool:
        """Stop the run at once; False when this dispatcher does not hold it."""
        ...
