"""How one API server is set up: its token grants, bind scope, runtime mode and stream timing."""

from __future__ import annotations

from dataclasses import dataclass, field

from flwd.entrypoints.tokens import TokenGrant
from flwd.entrypoints.http.sse import StreamTiming

MAX_BODY_BYTES = 1 << 20


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerSettings:
    """``loopback``: bound to loopback only (``/metrics`` then needs no token).
    ``runtime_enabled``: false for ``--no-runtime`` (plan-only: ``/healthz`` names no runtime;
    ``POST /runs`` is refused by the container's dispatcher, after validation)."""

    grants: tuple[TokenGrant, ...]
    loopback: bool = True
    runtime_enabled: bool = True
    max_body_bytes: int = MAX_BODY_BYTES
    timing: StreamTiming = field(default_factory=StreamTiming)
    # the resident unix socket: a request arriving on it is its owner's (every scope)
    resident_path: str | None = None
