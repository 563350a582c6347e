"""A returning worker removes the containers of runs it no longer owns."""

from __future__ import annotations

from typing import Callable, Collection

from flwd.domain.model import RunStatus
from flwd.ports.runtime import ContainerRuntime, ManagedContainer
from flwd.ports.secrets import SecretWriter
from flwd.ports.store import RunRecord, RunStore


class ReclaimContainers:
    """Called when a worker starts and when its heartbeats get through again after failing.

    A container carrying flwd's labels on this worker's runtime is removed when the store
    knows its run and the run is not this worker's to execute any more: it has ended (a
    sweeper declared it ``worker.lost`` while this worker was away), or another owner runs it
    in another container, or this process still executes it but the store gave it to another
    owner. Containers of runs the store does not know (another flwd on the same runtime) and
    of runs another worker executes on a shared runtime (its recorded container, or one it is
    still creating) are left alone. Returns the ids removed.

    With *secrets*, the secrets directories left on this host by runs that have ended (their
    executor died with the worker) go too; those of active runs stay, whoever runs them (two
    workers of one host share the directory's parent)."""

    def __init__(self, *, store: RunStore, runtime: Callable[[], ContainerRuntime], owner: str,
                 local_runs: Callable[[], Collection[str]] = frozenset,
                 secrets: SecretWriter | None = None) -> None:
        self._store = store
        self._runtime = runtime
        self._owner = owner
        self._local_runs = local_runs
        self._secrets = secrets

    def __call__(self) -> list[str]:
        runtime = self._runtime()
        local = set(self._local_runs())
        removed = []
        for container in runtime.managed():
            record = self._store.get(container.run_id)
            if record is not None and self._not_ours(record, container, local):
                runtime.remove(container.id)
                removed.append(container.id)
        self._remove_secrets(local)
        return removed

    def _remove_secrets(self, local: set[str]) -> None:
        if self._secrets is None:
            return
        for run_id in self._secrets.leftovers():
            record = self._store.get(run_id)
            if run_id not in local and record is not None and RunStatus(record.status).finished:
                self._secrets.remove(run_id)

    def _not_ours(self, record: RunRecord, container: ManagedContainer, local: set[str]) -> bool:
        if RunStatus(record.status).finished:
            return record.run_id not in local or record.owner != self._owner
        if record.owner == self._owner:
            return False
        if record.run_id in local:
            return True  # taken from this worker while it was away
        recorded = record.container_id
        return bool(recorded) and not _same_container(recorded, container.id)


def _same_container(one: str, other: str) -> bool:
    """Runtimes give ids in full or shortened: one is a prefix of the other."""
    return one.startswith(other) or other.startswith(one)
