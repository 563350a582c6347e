"""``/healthz`` and ``/metrics``: liveness with the runtime's identity, and Prometheus figures."""

from __future__ import annotations

import logging
import time
from typing import Any

import anyio.to_thread
from litestar import Controller, Response, get

from flwd.domain.errors import FlwdError
from flwd.entrypoints.container import Container
from flwd.entrypoints.http.auth import metrics_guard
from flwd.entrypoints.http.deps import ContainerDep, MetricsDep, SettingsDep
from flwd.entrypoints.http.metrics import CONTENT_TYPE, count_runs_by_state
from flwd.entrypoints.http.schemas import HealthView, RuntimeView

_PROBE_TTL_SECONDS = 5.0
_log = logging.getLogger("flwd.http")


class RuntimeProbe:
    """The runtime's identity, probed at most every few seconds (health checks are frequent)."""

    def __init__(self, container: Container, enabled: bool) -> None:
        self._container = container
        self._enabled = enabled
        self._cached: tuple[float, RuntimeView | None] | None = None

    def current(self) -> RuntimeView | None:
        if not self._enabled:
            return None
        now = time.monotonic()
        if self._cached is not None and now - self._cached[0] < _PROBE_TTL_SECONDS:
            return self._cached[1]
        view: RuntimeView | None
        try:
            info = self._container.runtime().probe()
            view = RuntimeView(name=info.name, version=info.version, rootless=info.rootless)
        except FlwdError as exc:
            _log.warning("runtime probe failed: [%s] %s", exc.code, exc.detail)
            view = None
        self._cached = (now, view)
        return view


class SystemController(Controller):
    tags = ["system"]

    @get("/healthz", summary="Liveness, plus the container runtime's name, version, rootless")
    async def healthz(self, probe: RuntimeProbe, settings: SettingsDep) -> HealthView:
        runtime = await anyio.to_thread.run_sync(probe.current)
        degraded = settings.runtime_enabled and runtime is None
        return HealthView(status="degraded" if degraded else "ok", runtime=runtime)

    @get("/metrics", guards=[metrics_guard], summary="Prometheus metrics",
         media_type=CONTENT_TYPE)
    async def metrics(self, container: ContainerDep, metrics: MetricsDep) -> Response[Any]:
        counts = await anyio.to_thread.run_sync(count_runs_by_state, container.store())
        return Response(metrics.render(counts), media_type=CONTENT_TYPE)
