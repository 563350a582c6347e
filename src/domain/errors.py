"""Coded errors: every failure a user can see carries one stable code declared here once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


class FlwdError(Exception):
    """Base of every flwd error; ``code`` is stable and never reused."""

    code: ClassVar[str] = "flwd.internal"

    def __init__(self, detail: str, **context: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.context = context


# --- specs, arguments, configuration ------------------------------------------------


class SpecInvalidError(FlwdError):
    """A job spec (or a secret name in it) breaks SPEC section 1; context: file, field."""

    code = "spec.invalid"


@dataclass(frozen=True, slots=True, kw_only=True)
class ArgProblem:
    """One problem with one argument; ``code`` is required|type|enum|range|pattern|unknown."""

    arg: str
    code: str
    message: str


class ArgsInvalidError(FlwdError):
    """The arguments break the job's contract; ``problems`` lists every one of them."""

    code = "args.invalid"

    def __init__(self, problems: tuple[ArgProblem, ...] | list[ArgProblem], job: str = "") -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        where = f" for job {job}" if job else ""
        super().__init__(f"{count} argument {noun}{where}", job=job)


class ConfigInvalidError(FlwdError):
    """The config file, the policy bundle or an FLWD_* variable is malformed."""

    code = "config.invalid"


class UsageError(FlwdError):
    """The command line itself is malformed (unknown command, missing value...)."""

    code = "usage.invalid"


# --- lookups and run state ----------------------------------------------------------


class JobNotFoundError(FlwdError):
    code = "job.not.found"


class RunNotFoundError(FlwdError):
    code = "run.not.found"


class RunNotActiveError(FlwdError):
    """Cancel asked of a run that has already finished."""

    code = "run.not.active"


class RunLostError(FlwdError):
    """A run found active at start-up whose container no longer exists."""

    code = "run.lost"


class RunOutputIncompleteError(FlwdError):
    """The job's output could not be read to its end (the runtime's log read failed, or gave
    nothing for too long after the exit): the run ends ``error``, never as if it had it all."""

    code = "run.output.incomplete"


class IdempotencyConflictError(FlwdError):
    """An Idempotency-Key reused with a different request body."""

    code = "idempotency.conflict"


# --- policy denials -----------------------------------------------------------------


class PolicyDeniedError(FlwdError):
    """Base of every denial; raised before any container exists. context: decisions."""

    code = "policy.denied"


class ImageRegistryNotAllowedError(PolicyDeniedError):
    code = "image.registry.not.allowed"


class PolicyOverrideDeniedError(PolicyDeniedError):
    code = "policy.override.denied"


class PolicyProfileDeniedError(PolicyDeniedError):
    code = "policy.profile.denied"


class PolicyCeilingExceededError(PolicyDeniedError):
    code = "policy.ceiling.exceeded"


class RuntimeRootfulError(PolicyDeniedError):
    code = "runtime.rootful"


class RuntimeLimitsUnenforcedError(PolicyDeniedError):
    code = "runtime.limits.unenforced"


class ImageSignatureRequiredError(PolicyDeniedError):
    """``verify_signatures: required`` and the add-on's digest carries no signature."""

    code = "image.signature.required"


class ImageSignatureInvalidError(PolicyDeniedError):
    """``verify_signatures: required`` and no signature of the digest checks out against any
    of the policy's ``signature_keys``."""

    code = "image.signature.invalid"


# --- runtime ------------------------------------------------------------------------


class RuntimeUnavailableError(FlwdError):
    """No container runtime could be reached; the detail says what was tried."""

    code = "container.runtime.unavailable"


class OciError(FlwdError):
    """The runtime failed to pull, create or start; the detail carries its own message."""

    code = "E_OCI"


class ContainerNameConflictError(FlwdError):
    code = "container.name.conflict"


# --- add-ons (SPEC section 10) ------------------------------------------------------


class AddonManifestError(FlwdError):
    """An add-on image's manifest is missing, undecodable or has bad top-level fields;
    context: ``image``, ``path`` (inside the image), ``field`` (the first bad field path) and
    ``problems`` (every ``{field, message}``)."""

    code = "E_ADDON_MANIFEST"


class SecretMaterialisationError(FlwdError):
    """The per-run secrets directory could not be written safely."""

    code = "secret.write.failed"


class SecretKeyMissingError(FlwdError):
    """Cluster mode: secrets must be sealed or opened but this process has no secret key
    (``FLWD_SECRET_KEY`` / ``secret_key_file``): it refuses secret runs."""

    code = "secret.key.missing"


class SecretSealInvalidError(FlwdError):
    """Sealed secrets that cannot be opened: sealed with another key, for another run, or
    altered. The detail never carries the key or a secret."""

    code = "secret.key.invalid"


class RunWorkspaceError(FlwdError):
    """The per-run working directory could not be created."""

    code = "run.workspace.failed"


class RunStoreError(FlwdError):
    """The run store could not be read or written: a corrupt file, a full disk, a lock held
    past the busy timeout. (A data directory that cannot hold it at all is config.invalid.)"""

    code = "run.store.failed"


class StoreUnavailableError(RunStoreError):
    """The shared run store (PostgreSQL, ``store_url``) does not answer: down, unreachable,
    refusing connections. A ``RunStoreError``, so every rule for a failing store holds."""

    code = "store.unavailable"


# --- cluster mode: workers and the queue (SPEC section 11) --------------------------


class WorkerLostError(FlwdError):
    """The worker executing a run stopped heartbeating for longer than ``worker_timeout``
    after the run's container had started (or after its one requeue): the run ends ``error``."""

    code = "worker.lost"


class QueueUnavailableError(FlwdError):
    """Cluster mode: the queue's broker (``queue_url``) does not answer, so a run cannot be
    handed to a worker; the recorded run ends ``error`` with this code (SPEC section 11)."""

    code = "queue.unavailable"


# --- HTTP-facing --------------------------------------------------------------------


class AuthUnauthenticatedError(FlwdError):
    code = "auth.unauthenticated"


class AuthForbiddenError(FlwdError):
    code = "auth.forbidden"


class RequestInvalidError(FlwdError):
    """A request body or query that cannot be understood at all."""

    code = "request.invalid"


class RequestTooLargeError(FlwdError):
    code = "request.too.large"


class RouteNotFoundError(FlwdError):
    """No API endpoint has this path."""

    code = "route.not.found"


class MethodNotAllowedError(FlwdError):
    """The API endpoint exists but not with this HTTP method."""

    code = "method.not.allowed"


class RemoteServerError(FlwdError):
    """The CLI could not talk to the flwd server given with --server."""

    code = "server.unreachable"


# --- sources (SPEC section 10) --------------------------------------------------------


class SourceTrustRequiredError(FlwdError):
    """An add-on source was added without the explicit ``trusted: true`` opt-in."""

    code = "source.trust.required"


class SourceExistsError(FlwdError):
    """A source of that name is already added."""

    code = "source.exists"


class SourceNotFoundError(FlwdError):
    """No source of that name is added (or configured)."""

    code = "source.not.found"


class SourceChangedError(FlwdError):
    """An add-on source was re-pinned (refresh, another run's on-run pull) between the
    signature check of a run and its planning, or while the run waited in the queue: the
    run would have used an image its checks never saw. Context: ``checked``, ``planned``."""

    code = "source.changed"


def all_error_classes() -> tuple[type[FlwdError], ...]:
    """Every FlwdError subclass, for the guard test that codes are unique and mapped."""
    seen: list[type[FlwdError]] = []
    stack: list[type[FlwdError]] = [FlwdError]
    while stack:
        cls = stack.pop()
        seen.append(cls)
        stack.extend(cls.__subclasses__())
    return tuple(seen)
