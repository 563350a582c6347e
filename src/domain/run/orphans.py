"""Adopting orphans: runs whose flwd died (a CLI killed mid-run, a server killed)."""

from __future__ import annotations

from typing import Callable

from flwd.domain.model import RunStatus
from flwd.domain.run.reconcile import HandOff, ReconcileReport, ReconcileRuns, orphaned
from flwd.ports.owner import RunOwners
from flwd.ports.store import RunRecord, RunStore


class AdoptOrphans:
    """Called by every process that reads the store: each CLI command that does, and a server
    every few seconds. With no orphan it costs one store query: *reconcile* (which needs the
    runtime and the executor) is built only when some active run's owner is gone.

    *hand_off*, for a short-lived CLI command, receives the orphans whose containers still
    run (claimed for this process) so that a longer-lived process follows them to their end.
    """

    def __init__(self, *, store: RunStore, owners: RunOwners,
                 reconcile: Callable[[], ReconcileRuns], hand_off: HandOff | None = None) -> None:
        self._store = store
        self._owners = owners
        self._reconcile = reconcile
        self._hand_off = hand_off

    def __call__(self, keep: str = "") -> ReconcileReport | None:
        """Reconcile when some active run is orphaned (None when none is); an orphan *keep*
        whose container still runs is left to the caller (``:cancel`` adopts it itself)."""
        if not any(self.orphaned(r) for r in self._store.active()):
            return None
        return self._reconcile()(self._hand_off, keep=keep)

    def orphaned(self, record: RunRecord) -> bool:
        """Active, and owned by no live process (what ``:runs`` shows as ``orphaned`` when
        adopting it failed)."""
        return not RunStatus(record.status).finished and orphaned(record, self._owners)
