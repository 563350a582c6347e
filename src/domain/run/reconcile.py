"""Start-up reconciliation: adopt or end runs a previous process left active, and sweep
containers flwd labelled whose runs are over."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Sequence

from flwd.domain.run import events as ev
from flwd.domain.errors import RunLostError, RunStoreError
from flwd.domain.run.collect import CollectExited
from flwd.domain.run.execution import ExecuteRun
from flwd.domain.run.pending import PendingCleanup
from flwd.domain.model import RunStatus
from flwd.domain.args.redact import Redactor
from flwd.domain.run.supervisor import RunSupervisor
from flwd.ports.clock import Clock
from flwd.ports.owner import RunOwners
from flwd.ports.runtime import ContainerRuntime, ManagedContainer
from flwd.ports.secrets import SecretWriter
from flwd.ports.store import RunRecord, RunStore

HandOff = Callable[[Sequence[RunRecord]], None]


@dataclass(slots=True)
class ReconcileReport:
    reattached: list[str] = field(default_factory=list)
    collected: list[str] = field(default_factory=list)
    handed_off: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    removed_containers: list[str] = field(default_factory=list)
    removed_secrets: list[str] = field(default_factory=list)


class ReconcileRuns:
    """Runs left ``queued``/``pulling``/``running`` by a dead process (orphans) are
    reattached when their container still runs; ended as they really ended when it has
    exited (its exit code and the output not yet recorded, read from the runtime); else
    ended ``error`` with ``run.lost`` (or ``canceled`` when a cancel was asked for them).
    One process adopts each: the store's ``claim`` decides. Containers labelled by flwd whose
    runs this store records as finished are removed, and their stale secret dirs deleted;
    those of runs it does not know are left to the flwd that owns them.

    Runs owned by this process or by another live process on this host are left alone.
    """

    def __init__(
        self,
        *,
        store: RunStore,
        runtime: ContainerRuntime,
        secrets: SecretWriter,
        supervisor: RunSupervisor,
        execute: ExecuteRun,
        clock: Clock,
        owners: RunOwners,
        pending: PendingCleanup,
    ) -> None:
        self._pending = pending
        self._store = store
        self._runtime = runtime
        self._secrets = secrets
        self._supervisor = supervisor
        self._execute = execute
        self._clock = clock
        self._owners = owners

    def __call__(self, hand_off: HandOff | None = None, *, keep: str = "") -> ReconcileReport:
        """Adopt every orphan. With *hand_off* (a short-lived CLI command), the orphans whose
        containers still run are claimed for this process and given to it (to be followed to
        their end by a longer-lived process) instead of reattached here; run *keep*, if its
        container still runs, is left alone (the caller adopts it: ``:cancel``)."""
        report = ReconcileReport()
        containers = {c.run_id: c for c in self._runtime.managed()}
        handed: list[RunRecord] | None = [] if hand_off is not None else None
        for record in self._store.active():
            container = containers.get(record.run_id)
            if not self._orphaned(record) or (
                    record.run_id == keep and container is not None and container.running):
                continue
            try:
                adopted = self._adopt(record, container, handed)
            except RunStoreError:
                continue  # the store refuses writes: a later reconcile (or retry) ends it
            if adopted is not None:
                getattr(report, adopted).append(record.run_id)
        if hand_off is not None and handed:
            hand_off(handed)
        self._sweep(containers, report)
        return report

    def take_over(self, run_id: str, owner: str) -> str | None:
        """Adopt a run that *owner* (a process that handed it off) holds: how it was adopted
        (``reattached``, ``collected`` or ``lost``), or None when it has ended or another
        process took it first."""
        record = self._store.get(run_id)
        if record is None or record.owner != owner:
            return None
        return self._adopt(record, self._container(run_id))

    def adopt_orphan(self, run_id: str) -> bool:
        """Adopt one active run whose owning process died (``:cancel`` of such a run): its
        still-running container is reattached and its pending cancel carried out; otherwise
        the run ends here. False when the run is owned by a live process, ended, or another
        process adopted it first."""
        record = self._store.get(run_id)
        if record is None or not self._orphaned(record):
            return False
        return self._adopt(record, self._container(run_id)) is not None

    def _orphaned(self, record: RunRecord) -> bool:
        return record.run_id not in self._supervisor.active_ids() and orphaned(record, self._owners)

    def _container(self, run_id: str) -> ManagedContainer | None:
        return next((c for c in self._runtime.managed() if c.run_id == run_id), None)

    def _adopt(self, record: RunRecord, container: ManagedContainer | None,
               handed: list[RunRecord] | None = None) -> str | None:
        """Claim the run for this process (only one process may) and reattach, hand off,
        collect or end it; the report field saying which, or None when another process
        claimed it first."""
        claimed = self._store.claim(record.run_id, record.owner, self._owners.me())
        if claimed is None:
            return None
        started = claimed.container_id and claimed.status == RunStatus.RUNNING.value
        if container is not None and started and container.running:
            if handed is not None:
                handed.append(claimed)
                return "handed_off"
            self._reattach(claimed)
            return "reattached"
        if container is not None and started:
            CollectExited(store=self._store, runtime=self._runtime, secrets=self._secrets,
                          clock=self._clock)(claimed, container.id)
            return "collected"
        self._end(claimed, container)
        return "lost"

    def _reattach(self, record: RunRecord) -> None:
        redactor = Redactor(self._secrets.recover(record.run_id))
        timeout = self._time_left(record)
        self._supervisor.adopt(
            record.run_id,
            lambda control: self._execute.reattach(record, control, redactor=redactor,
                                                   timeout=timeout),
        )

    def _time_left(self, record: RunRecord) -> float | None:
        """What is left of the run's timeout (recorded with ``run.started``, counted from the
        container's start), so that an adopted run is still stopped when its time is up."""
        started = next((e for e in self._store.events(record.run_id)
                        if e.type == ev.RUN_STARTED), None)
        limit = started.data.get("timeout_seconds") if started is not None else None
        if not isinstance(limit, (int, float)) or not record.started_at:
            return None
        elapsed = datetime.fromisoformat(self._clock.now_iso()) - datetime.fromisoformat(
            record.started_at)
        return max(0.0, float(limit) - elapsed.total_seconds())

    def _end(self, record: RunRecord, container: ManagedContainer | None) -> None:
        """End a run whose container is gone (or never started): ``canceled`` when a cancel
        was asked for it, else ``error`` with ``run.lost``. Its container and secrets go
        with it."""
        if container is not None:
            self._runtime.remove(container.id)
        self._secrets.remove(record.run_id)
        recorder = ev.RunRecorder(store=self._store, clock=self._clock, record=record,
                                  redact=lambda data: data)  # no argument values here
        if any(e.type == ev.RUN_CANCEL_REQUESTED for e in self._store.events(record.run_id)):
            try:
                recorder.emit(ev.RUN_CANCELED, {"grace_seconds": 0})
            except RunStoreError:
                pass  # the end below still says canceled, and is retried until stored
            self._pending.end_run(recorder, status=RunStatus.CANCELED.value)
        else:
            lost = RunLostError("the process running it ended and its container is gone")
            self._pending.end_run(recorder, status=RunStatus.ERROR.value, code=lost.code,
                                  detail=lost.detail)

    def _sweep(self, containers: dict[str, ManagedContainer], report: ReconcileReport) -> None:
        for run_id, container in containers.items():
            record = self._store.get(run_id)
            if _finished_here(record):
                if run_id in self._supervisor.active_ids():
                    continue
                self._runtime.remove(container.id)
                report.removed_containers.append(container.id)
        for run_id in self._secrets.leftovers():
            if _finished_here(self._store.get(run_id)):
                self._secrets.remove(run_id)
                report.removed_secrets.append(run_id)


def orphaned(record: RunRecord, owners: RunOwners) -> bool:
    """Owned by no live process: not by this one, and its owner has ended."""
    return record.owner != owners.me() and not owners.alive(record.owner)


def _finished_here(record: RunRecord | None) -> bool:
    """A run this store knows has ended. A run it does not know belongs to another flwd
    (another data dir on the same Podman user or Docker daemon): its container and secrets
    are not ours to remove."""
    return record is not None and RunStatus(record.status).finished
