"""The use cases wired by hand on the shipped fakes, for use-case unit tests.

No container, no SQLite, no YAML files: jobs are documents in a ``FakeJobCatalog``, runs live
in a ``FakeRunStore``, containers in a ``FakeRuntime``. The clock is the system one, because
timeouts and durations are measured on it while the fake runtime's containers really wait.
Each use case comes from a method named like its provider in the DI container.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Mapping

import yaml

from flwd.adapters.fake_runtime import FakeRuntime
from flwd.adapters.fakes import (
    FakeJobCatalog,
    FakeRunIds,
    FakeRunStore,
    FakeRunWorkspace,
    FakeSecretWriter,
)
from flwd.adapters.system import LocalRunOwners, SystemClock
from flwd.domain.model import PolicyBundle
from flwd.domain.plan.use_cases import EngineSettings, ListJobs, PlanJob
from flwd.domain.run.execution import ExecuteRun
from flwd.domain.run.orphans import AdoptOrphans
from flwd.domain.run.pending import PendingCleanup
from flwd.domain.run.reconcile import ReconcileRuns
from flwd.domain.run.start import StartRun
from flwd.domain.run.supervisor import RunSupervisor
from flwd.domain.run.use_cases import CancelRun, QueryRuns, SubmitRun
from flwd.domain.run.queue_dispatch import QueueDispatcher
from flwd.domain.run.take import TakeQueuedRun
from flwd.ports.catalog import JobDocument
from flwd.ports.owner import QUEUED_OWNER
from flwd.ports.queue import RunQueue
from flwd.ports.sealing import SecretSealer

JOBS_ROOT = "/fake-jobs"


@dataclass(eq=False)
class FakeEngine:
    """Set ``runtime`` or ``bundle`` before the first run: the executor is built once."""

    runtime: FakeRuntime
    catalog: FakeJobCatalog = field(default_factory=FakeJobCatalog)
    runs: FakeRunStore = field(default_factory=FakeRunStore)
    secrets: FakeSecretWriter = field(default_factory=FakeSecretWriter)
    workspace: FakeRunWorkspace = field(default_factory=FakeRunWorkspace)
    clock: SystemClock = field(default_factory=SystemClock)
    ids: FakeRunIds = field(default_factory=FakeRunIds)
    owners: LocalRunOwners = field(default_factory=LocalRunOwners)
    bundle: PolicyBundle = field(default_factory=PolicyBundle)
    host_env: Mapping[str, str] = field(
        default_factory=lambda: {"HOME": "/fake-home", "HOST_CANARY": "x"})
    cancel_grace: float = 1.0
    pending: PendingCleanup = field(default_factory=PendingCleanup)

    def add_job(self, job_id: str, spec: str, script: str | None = None) -> str:
        """The job *spec* (YAML text) in the catalog, with *script* as main.sh if given;
        returns the job's directory."""
        directory = f"{JOBS_ROOT}/{job_id}"
        scripts = ("main.sh",) if script is not None else ()  # as the YAML catalog finds them
        self.catalog.docs.append(JobDocument(
            default_id=job_id, spec_path=f"{directory}/job.yaml", directory=directory,
            data=yaml.safe_load(spec), shell_scripts=scripts, files=frozenset(scripts)))
        return directory

    def store(self) -> FakeRunStore:
        return self.runs

    def list_jobs(self) -> ListJobs:
        return self._list_jobs

    def plan_job(self) -> PlanJob:
        return PlanJob(jobs=self._list_jobs,
                       settings=EngineSettings(bundle=self.bundle, cancel_grace=self.cancel_grace))

    def submit_run(self) -> SubmitRun:
        return SubmitRun(plan=self.plan_job(), store=self.runs, clock=self.clock, ids=self.ids,
                         owner=self.owners.me(), pending=self.pending)

    def execute_run(self) -> ExecuteRun:
        return self._execute_run

    def supervisor(self) -> RunSupervisor:
        return self._supervisor

    def start_run(self) -> StartRun:
        return StartRun(submit=self.submit_run(), dispatcher=self._supervisor, store=self.runs,
                        clock=self.clock, pending=self.pending)

    def query_runs(self) -> QueryRuns:
        return QueryRuns(store=self.runs, pending=self.pending)

    def cancel_run(self) -> CancelRun:
        return CancelRun(store=self.runs, supervisor=self._supervisor, clock=self.clock,
                         owners=self.owners, orphans=self.reconcile_runs)

    def reconcile_runs(self) -> ReconcileRuns:
        return ReconcileRuns(store=self.runs, runtime=self.runtime, secrets=self.secrets,
                             supervisor=self._supervisor, execute=self._execute_run,
                             clock=self.clock, owners=self.owners, pending=self.pending)

    def adopt_orphans(self) -> AdoptOrphans:
        return AdoptOrphans(store=self.runs, owners=self.owners, reconcile=self.reconcile_runs)

    def queue_dispatcher(self, queue: RunQueue, sealer: SecretSealer,
                         owner: str = "replica:1") -> QueueDispatcher:
        """Cluster mode's dispatcher (a replica's) over this engine's store."""
        return QueueDispatcher(queue=queue, sealer=sealer, store=self.runs, clock=self.clock,
                               owner=owner, pending=self.pending)

    def cluster_submit_run(self) -> SubmitRun:
        """SubmitRun as a replica has it: runs are recorded owned by the queue."""
        return SubmitRun(plan=self.plan_job(), store=self.runs, clock=self.clock, ids=self.ids,
                         owner=QUEUED_OWNER, pending=self.pending)

    def take_queued_run(self, sealer: SecretSealer) -> TakeQueuedRun:
        """A worker's side over this engine's store, runtime and supervisor."""
        return TakeQueuedRun(store=self.runs, jobs=self._list_jobs, plan=self.plan_job(),
                             sealer=sealer, supervisor=self._supervisor, clock=self.clock,
                             pending=self.pending, owner=self.owners.me())

    @cached_property
    def _list_jobs(self) -> ListJobs:
        return ListJobs(catalog=self.catalog)

    @cached_property
    def _execute_run(self) -> ExecuteRun:
        return ExecuteRun(runtime=lambda: self.runtime, secrets=self.secrets,
                          workspace=self.workspace, store=self.runs, clock=self.clock,
                          bundle=self.bundle, cancel_grace=self.cancel_grace,
                          host_env=self.host_env, owner=self.owners.me(), pending=self.pending)

    @cached_property
    def _supervisor(self) -> RunSupervisor:
        return RunSupervisor(execute=self._execute_run)
