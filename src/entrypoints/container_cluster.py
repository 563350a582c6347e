"""The container's cluster pieces: worker liveness (SPEC section 11). Every store is also the
worker registry; a lost run is queued again on the queue, and without one the requeue refuses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Collection

from dependency_injector import providers

from flwd.entrypoints.lazy_module import Lazy

if TYPE_CHECKING:
    from flwd.domain.worker import liveness, query, requeue, sweep

    # requeue, list_workers, sweep_lost_runs, lost_run_sweeper, worker_liveness, worker_hooks;
    # a plain tuple, as a NamedTuple's class would cost every start-up
    LivenessProviders = tuple[providers.Selector[Any], providers.Factory[query.ListWorkers],
                              providers.Factory[sweep.SweepLostRuns],
                              providers.Factory[liveness.LostRunSweeper],
                              providers.Singleton[liveness.WorkerLiveness], providers.List]
else:
    liveness, query, requeue, sweep = (
        Lazy(f"flwd.domain.worker.{name}") for name in ("liveness", "query", "requeue", "sweep"))


def stop_runs(supervisor: Any) -> Callable[[Collection[str]], None]:
    """What a worker does with runs the store gave to another owner while it was away: kill
    them (a sweeper has ended or requeued them already)."""
    def stop(run_ids: Collection[str]) -> None:
        for run_id in run_ids:
            supervisor.kill(run_id)

    return stop


def liveness_providers(config: providers.Configuration, *, store: providers.Provider[Any],
                       clock: providers.Provider[Any], owner: providers.Provider[Any],
                       pending: providers.Provider[Any], runtime: providers.Provider[Any],
                       secrets: providers.Provider[Any], supervisor: providers.Provider[Any],
                       run_queue: providers.Provider[Any], jobs: providers.Provider[Any]
                       ) -> LivenessProviders:
    """Heartbeats and the lost-run sweep of ``config.dispatch``'s kind of process:
    ``(requeue, list_workers, sweep_lost_runs, lost_run_sweeper, worker_liveness,
    worker_hooks)``."""
    requeue_lost = providers.Selector(
        config.dispatch, queue=providers.Singleton(requeue.QueueRequeue, queue=run_queue, jobs=jobs),
        local=providers.Singleton(requeue.NoRequeue),
        none=providers.Singleton(requeue.NoRequeue))
    sweep_lost_runs = providers.Factory(
        sweep.SweepLostRuns, registry=store, store=store, clock=clock, claimant=owner,
        timeout=config.worker_timeout, requeue=requeue_lost, pending=pending)
    worker_liveness = providers.Singleton(
        liveness.WorkerLiveness, registry=store, store=store, runtime=runtime.provider,
        clock=clock, interval=config.heartbeat_interval, timeout=config.worker_timeout,
        requeue=requeue_lost, pending=pending, secrets=secrets,
        on_disowned=providers.Factory(stop_runs, supervisor=supervisor))
    list_workers = providers.Factory(query.ListWorkers, registry=store, clock=clock,
                                     timeout=config.worker_timeout)
    lost_run_sweeper = providers.Factory(liveness.LostRunSweeper, sweep=sweep_lost_runs,
                                         interval=config.heartbeat_interval)
    # what a worker tells at start and stop (ports.worker.WorkerHook): its heartbeats, the
    # lost-run sweep and the removal of containers it no longer owns
    worker_hooks = providers.List(worker_liveness)
    return (requeue_lost, list_workers, sweep_lost_runs, lost_run_sweeper, worker_liveness,
            worker_hooks)
