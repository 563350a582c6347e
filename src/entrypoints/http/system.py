"""``/healthz`` and ``/metrics``: liveness with the runtime's identity, and Prometheus figures."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from litestar import Controller, Response, get

from flwd.entrypoints.http.auth import metrics_guard
from flwd.entrypoints.http.deps import ClusterFiguresDep, MetricsDep, ProbeDep, RunCountsDep
from flwd.entrypoints.http.metrics import CONTENT_TYPE
from flwd.entrypoints.http.schemas import HealthView, RuntimeProblemView


class SystemController(Controller):
    tags = ["system"]

    @get("/healthz", security=[{}], summary="Liveness, plus the container runtime's name, version, rootless")
    async def healthz(self, probe: ProbeDep) -> HealthView:
        runtime = await anyio.to_thread.run_sync(probe.current)
        if isinstance(runtime, RuntimeProblemView):
            return HealthView(status="degraded", runtime=None, runtime_problem=runtime)
        return HealthView(status="ok", runtime=runtime)

    @get("/metrics", guards=[metrics_guard], summary="Prometheus metrics",
         media_type=CONTENT_TYPE)
    async def metrics(self, run_counts: RunCountsDep, metrics: MetricsDep,
                      cluster_figures: ClusterFiguresDep) -> Response[Any]:
        counts = await anyio.to_thread.run_sync(run_counts)
        cluster = await anyio.to_thread.run_sync(cluster_figures)  # workers, queue depths
        return Response(metrics.render(counts) + cluster, media_type=CONTENT_TYPE)
