"""Wire formats of the API (msgspec Structs) and their explicit conversion to domain requests."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from flwd.domain.errors import RequestInvalidError
from flwd.domain.model import RunStatus
from flwd.domain.plan.use_cases import RunRequest

JobId = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
ProfileName = Literal["secure", "permissive", "disabled"]
RUN_STATUSES = tuple(status.value for status in RunStatus)
MAX_IDEMPOTENCY_KEY = 255


class RunBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Body of ``POST /plans`` and ``POST /runs``; ``job_id`` is a synonym of ``job``."""

    job: JobId | None = None
    job_id: JobId | None = None
    args: dict[str, Any] = msgspec.field(default_factory=dict)
    requested_security_profile: ProfileName | None = None

    def to_domain(self) -> RunRequest:
        """The domain request; API values must already have their JSON types (no coercion)."""
        if self.job and self.job_id and self.job != self.job_id:
            raise RequestInvalidError("give either job or job_id, not two different ones")
        job = self.job or self.job_id
        if not job:
            raise RequestInvalidError("the body needs a job (or job_id)")
        return RunRequest(job=job, args=dict(self.args), from_text=False,
                          requested_profile=self.requested_security_profile)


class RunPageView(msgspec.Struct, frozen=True):
    """Body of ``GET /runs``: newest first; pass ``next_cursor`` as ``cursor`` for more."""

    runs: list[dict[str, Any]]
    next_cursor: str | None


class RuntimeView(msgspec.Struct, frozen=True):
    name: str
    version: str
    rootless: bool


class RuntimeProblemView(msgspec.Struct, frozen=True):
    """Why the runtime is unreachable: ``container.runtime.unavailable`` and what was tried."""

    code: str
    detail: str


class HealthView(msgspec.Struct, frozen=True, omit_defaults=True):
    """Body of ``GET /healthz`` (always 200: liveness). ``runtime`` is null when the server
    runs without one or it does not answer; then ``status`` is ``degraded`` and
    ``runtime_problem`` says why (runs fail until it answers again)."""

    status: Literal["ok", "degraded"]
    runtime: RuntimeView | None
    runtime_problem: RuntimeProblemView | None = None


def check_status_filter(status: str | None) -> str | None:
    if status is not None and status not in RUN_STATUSES:
        raise RequestInvalidError(f"status must be one of {', '.join(RUN_STATUSES)}", field="status")
    return status


def check_idempotency_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not (key.isascii() and key.isprintable()):
        raise RequestInvalidError(
            f"Idempotency-Key must be 1..{MAX_IDEMPOTENCY_KEY} printable ASCII characters",
            field="Idempotency-Key")
    return key
