"""The runtime's identity for /healthz, probed at most every few seconds."""

from __future__ import annotations

import logging
import time
from typing import Callable

from flwd.domain.errors import FlwdError
from flwd.entrypoints.http.schemas import RuntimeProblemView, RuntimeView
from flwd.ports.runtime import ContainerRuntime

_PROBE_TTL_SECONDS = 5.0
_log = logging.getLogger("flwd.http")


class RuntimeProbe:
    """The runtime's identity, probed at most every few seconds (health checks are frequent)."""

    def __init__(self, runtime: Callable[[], ContainerRuntime], enabled: bool) -> None:
        self._runtime = runtime
        self._enabled = enabled
        self._cached: tuple[float, RuntimeView | RuntimeProblemView | None] | None = None

    def current(self) -> RuntimeView | RuntimeProblemView | None:
        """The runtime's identity, why it cannot be reached, or None without a runtime."""
        if not self._enabled:
            return None
        now = time.monotonic()
        if self._cached is not None and now - self._cached[0] < _PROBE_TTL_SECONDS:
            return self._cached[1]
        view: RuntimeView | RuntimeProblemView
        try:
            info = self._runtime().probe()
            view = RuntimeView(name=info.name, version=info.version, rootless=info.rootless)
        except FlwdError as exc:
            _log.warning("runtime probe failed: [%s] %s", exc.code, exc.detail)
            view = RuntimeProblemView(code=exc.code, detail=exc.detail)
        self._cached = (now, view)
        return view
