"""What a worker starts and stops besides its queue consumer (heartbeats, the lost-run sweeper,
the removal of containers it no longer owns), and the sweeper alone for ``:serve``."""

from __future__ import annotations

from typing import Callable, Collection

from flwd.domain.errors import FlwdError
from flwd.domain.run.pending import PendingCleanup
from flwd.domain.worker.heartbeat import Heartbeat
from flwd.domain.worker.periodic import Periodic
from flwd.domain.worker.reclaim import ReclaimContainers
from flwd.domain.worker.sweep import SweepLostRuns
from flwd.ports.clock import Clock
from flwd.ports.runtime import ContainerRuntime
from flwd.ports.secrets import SecretWriter
from flwd.ports.store import RunStore
from flwd.ports.worker import WorkerInfo
from flwd.ports.workers import RunRequeue, WorkerRegistry


class LostRunSweeper:
    """``SweepLostRuns`` every *interval* seconds in a daemon thread (every ``:serve`` replica
    in cluster mode, and every worker): any number may run, ``claim_lost`` lets one act."""

    def __init__(self, sweep: SweepLostRuns, interval: float) -> None:
        self._loop = Periodic(sweep, interval, "flwd-sweeper")

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()


class WorkerLiveness:
    """The worker hook (``started``/``stopped``, what ``flwd :worker`` tells its hooks): once
    the worker consumes, remove the containers of runs it no longer owns, write a first
    heartbeat, then heartbeat every *interval* seconds and sweep lost runs, and remove such
    containers again every *timeout* seconds and whenever its heartbeats get through after
    failing; at stop, end the loops and remove the worker from the registry (best effort: a store that is away then
    leaves it to age out of the live list). *on_disowned* receives the runs this worker still
    executes that the store gave to another owner while it was away (e.g. to kill them)."""

    def __init__(self, *, registry: WorkerRegistry, store: RunStore,
                 runtime: Callable[[], ContainerRuntime], clock: Clock, interval: float,
                 timeout: float, requeue: RunRequeue, pending: PendingCleanup,
                 secrets: SecretWriter | None = None,
                 on_disowned: Callable[[Collection[str]], object] = lambda runs: None) -> None:
        self._registry = registry
        self._store = store
        self._runtime = runtime
        self._clock = clock
        self._interval = interval
        self._timeout = timeout
        self._requeue = requeue
        self._pending = pending
        self._on_disowned = on_disowned
        self._secrets = secrets
        self.heartbeat: Heartbeat | None = None
        self.reclaim: ReclaimContainers | None = None
        self._loops: list[Periodic] = []

    def started(self, info: WorkerInfo, active: Callable[[], Collection[str]]) -> None:
        """*active* lists the runs this worker executes now. Never raises (it runs inside the
        queue consumer's start-up): a store or runtime that is away now is retried by the
        loops, every *interval*."""
        self.reclaim = reclaim = ReclaimContainers(
            store=self._store, runtime=self._runtime, owner=info.owner, local_runs=active,
            secrets=self._secrets)
        sweep = SweepLostRuns(registry=self._registry, store=self._store, clock=self._clock,
                              claimant=info.owner, timeout=self._timeout,
                              requeue=self._requeue, pending=self._pending)
        self.heartbeat = Heartbeat(
            identity=info, registry=self._registry, store=self._store, runtime=self._runtime,
            clock=self._clock, on_return=lambda: _quietly(reclaim), local_runs=active,
            on_disowned=self._on_disowned)
        self._loops = [Periodic(self.heartbeat, self._interval, "flwd-heartbeat"),
                       Periodic(sweep, self._interval, "flwd-sweeper"),
                       # a worker restarted within worker_timeout finds its old runs still
                       # active; once a sweeper has ended them, this removes their containers
                       Periodic(lambda: _quietly(reclaim), self._timeout, "flwd-reclaim")]
        for loop in self._loops:
            loop.start()
        _quietly(reclaim)
        _quietly(self.heartbeat)

    def stopped(self, info: WorkerInfo) -> None:
        loops, self._loops = self._loops, []
        for loop in loops:
            loop.stop()
        try:
            self._registry.remove_worker(info.owner)
        except FlwdError:
            pass  # the store is away: the worker ages out of the live list instead


def _quietly(step: Callable[[], object]) -> None:
    """A step whose failure (the runtime or the store away) the next occasion retries."""
    try:
        step()
    except FlwdError:
        pass
