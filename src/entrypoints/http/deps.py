"""Typed handler dependencies: each handler receives the use cases it calls, never the container.

One ``Provide`` per use case, calling the container's provider; values the app holds once
(hub, metrics, settings, probe) are constants. None is validated: they are not user input.
"""

from __future__ import annotations

from typing import Callable

from litestar.di import NamedDependency, Provide
from litestar.params import SkipValidation

from flwd.domain.plan.use_cases import ListJobs, PlanJob
from flwd.domain.run.start import StartRun
from flwd.domain.run.use_cases import CancelRun, QueryRuns
from flwd.domain.sources.use_cases import AddSource, QuerySources, RefreshSource, RemoveSource
from flwd.domain.worker.query import ListWorkers
from flwd.entrypoints.container import Container
from flwd.entrypoints.http.metrics import Metrics, count_runs_by_state
from flwd.entrypoints.http.settings import ServerSettings
from flwd.entrypoints.http.sse import EventHub
from flwd.entrypoints.http.system_probe import RuntimeProbe
from flwd.entrypoints.http.worker_metrics import cluster_figures

RunCounts = Callable[[], dict[str, int]]
ClusterFigures = Callable[[], str]

ListJobsDep = SkipValidation[NamedDependency[ListJobs]]
PlanJobDep = SkipValidation[NamedDependency[PlanJob]]
StartRunDep = SkipValidation[NamedDependency[StartRun]]
QueryRunsDep = SkipValidation[NamedDependency[QueryRuns]]
CancelRunDep = SkipValidation[NamedDependency[CancelRun]]
RunCountsDep = SkipValidation[NamedDependency[RunCounts]]
HubDep = SkipValidation[NamedDependency[EventHub]]
MetricsDep = SkipValidation[NamedDependency[Metrics]]
SettingsDep = SkipValidation[NamedDependency[ServerSettings]]
ProbeDep = SkipValidation[NamedDependency[RuntimeProbe]]
AddSourceDep = SkipValidation[NamedDependency[AddSource]]
RefreshSourceDep = SkipValidation[NamedDependency[RefreshSource]]
RemoveSourceDep = SkipValidation[NamedDependency[RemoveSource]]
QuerySourcesDep = SkipValidation[NamedDependency[QuerySources]]
ListWorkersDep = SkipValidation[NamedDependency[ListWorkers]]
ClusterFiguresDep = SkipValidation[NamedDependency[ClusterFigures]]


def use_case_dependencies(container: Container) -> dict[str, Provide]:
    """A ``Provide`` per use case, each a call of its provider in *container* (the use cases
    are cheap factories over singletons, so building one per request costs nothing)."""

    def provide_list_jobs() -> ListJobs:
        return container.list_jobs()

    def provide_plan_job() -> PlanJob:
        return container.plan_job()

    def provide_start_run() -> StartRun:
        return container.start_run()

    def provide_query_runs() -> QueryRuns:
        return container.query_runs()

    def provide_cancel_run() -> CancelRun:
        return container.cancel_run()

    def provide_run_counts() -> RunCounts:
        return lambda: count_runs_by_state(container.store())

    def provide_add_source() -> AddSource:
        return container.add_source()

    def provide_refresh_source() -> RefreshSource:
        return container.refresh_source()

    def provide_remove_source() -> RemoveSource:
        return container.remove_source()

    def provide_query_sources() -> QuerySources:
        return container.query_sources()

    def provide_list_workers() -> ListWorkers:
        return container.list_workers()

    def provide_cluster_figures() -> ClusterFigures:
        probe = container.queue_probe if container.config.queue_url() else None
        return lambda: cluster_figures(container.list_workers(), probe)

    providers = (provide_list_jobs, provide_plan_job, provide_start_run, provide_query_runs,
                 provide_cancel_run, provide_run_counts, provide_add_source,
                 provide_refresh_source, provide_remove_source, provide_query_sources,
                 provide_list_workers, provide_cluster_figures)
    return {fn.__name__.removeprefix("provide_"): Provide(fn, sync_to_thread=False)
            for fn in providers}
