"""A worker's heartbeat: itself and the runs it executes, written to the worker registry."""

from __future__ import annotations

from typing import Callable, Collection

from flwd.domain.errors import FlwdError
from flwd.domain.model import RunStatus
from flwd.ports.clock import Clock
from flwd.ports.runtime import ContainerRuntime
from flwd.ports.store import RunRecord, RunStore
from flwd.ports.worker import WorkerInfo
from flwd.ports.workers import RunBeat, WorkerBeat, WorkerRegistry


class Heartbeat:
    """One heartbeat per call for the worker *identity* (whose ``owner`` tag, carried by the
    runs it executes, is its id): the worker's row and one heartbeat per active run it owns,
    with whether that run's container has started (the run is ``running``, or a container
    labelled with its id exists on this worker's runtime: a container created but not yet
    recorded as started counts, so a run is never queued twice while its container may run).

    *on_return* is called after a heartbeat that succeeds following one or more that failed
    (the store or the network was away: the worker "comes back"). *local_runs* are the runs
    this process executes (its supervisor's); those it had beaten as its own and that the
    store now gives to another owner (a sweeper declared them lost) are passed to
    *on_disowned*."""

    def __init__(self, *, identity: WorkerInfo, registry: WorkerRegistry, store: RunStore,
                 runtime: Callable[[], ContainerRuntime], clock: Clock,
                 on_return: Callable[[], object] = lambda: None,
                 local_runs: Callable[[], Collection[str]] = frozenset,
                 on_disowned: Callable[[Collection[str]], object] = lambda runs: None) -> None:
        self.identity = identity
        self._registry = registry
        self._store = store
        self._runtime = runtime
        self._clock = clock
        self._on_return = on_return
        self._local_runs = local_runs
        self._on_disowned = on_disowned
        self._failed = False
        self._mine: frozenset[str] = frozenset()

    def __call__(self) -> tuple[RunBeat, ...]:
        """Write one heartbeat; the run heartbeats written. Raises the store's coded error
        (and remembers it, so the next success counts as a return)."""
        try:
            runs = self._beat()
        except FlwdError:
            self._failed = True
            raise
        if self._failed:
            self._failed = False
            self._on_return()
        return runs

    def _beat(self) -> tuple[RunBeat, ...]:
        now = self._clock.now_iso()
        owned = list(self._registry.runs_of(self.identity.owner))
        started = self._started_containers(owned)
        beats = tuple(RunBeat(run_id=r.run_id, worker_id=self.identity.owner,
                              container_started=r.run_id in started, beat_at=now)
                      for r in owned)
        me = self.identity
        self._registry.beat(WorkerBeat(
            worker_id=me.owner, host=me.host, queues=me.queues, runtime=me.runtime,
            rootless=me.rootless, concurrency=me.concurrency,
            active_runs=tuple(b.run_id for b in beats), last_heartbeat=now), beats)
        self._disowned({b.run_id for b in beats})
        return beats

    def _started_containers(self, owned: list[RunRecord]) -> set[str]:
        started = {r.run_id for r in owned if r.status == RunStatus.RUNNING.value}
        if len(started) == len(owned):
            return started
        try:
            present = {c.run_id for c in self._runtime().managed()}
        except FlwdError:
            return started  # the runtime is away: what the store knows
        return started | {r.run_id for r in owned if r.run_id in present}

    def _disowned(self, mine_now: set[str]) -> None:
        lost = (self._mine - mine_now) & set(self._local_runs())
        self._mine = frozenset(mine_now)
        taken = set()
        for run_id in lost:
            record = self._store.get(run_id)
            if record is not None and record.owner != self.identity.owner:
                taken.add(run_id)
        if taken:
            self._on_disowned(taken)
