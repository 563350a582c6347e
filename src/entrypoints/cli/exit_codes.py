"""Exit codes of SPEC section 7, one lookup table from error code to exit status."""

from __future__ import annotations

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_TIMED_OUT = 124
EXIT_FLWD = 125
EXIT_CANCELED = 130

#: Every FlwdError code, mapped to the process exit status the CLI uses for it.
EXIT_FOR_CODE: dict[str, int] = {
    "flwd.internal": EXIT_FLWD,
    "spec.invalid": EXIT_USAGE,
    "args.invalid": EXIT_USAGE,
    "config.invalid": EXIT_USAGE,
    "usage.invalid": EXIT_USAGE,
    "job.not.found": EXIT_USAGE,
    "run.not.found": EXIT_USAGE,
    "run.not.active": EXIT_FLWD,
    "run.lost": EXIT_FLWD,
    "worker.lost": EXIT_FLWD,
    "run.output.incomplete": EXIT_FLWD,
    "idempotency.conflict": EXIT_FLWD,
    "policy.denied": EXIT_FLWD,
    "image.registry.not.allowed": EXIT_FLWD,
    "policy.override.denied": EXIT_FLWD,
    "policy.profile.denied": EXIT_FLWD,
    "policy.ceiling.exceeded": EXIT_FLWD,
    "runtime.rootful": EXIT_FLWD,
    "runtime.limits.unenforced": EXIT_FLWD,
    "image.signature.required": EXIT_FLWD,
    "image.signature.invalid": EXIT_FLWD,
    "container.runtime.unavailable": EXIT_FLWD,
    "E_OCI": EXIT_FLWD,
    "E_ADDON_MANIFEST": EXIT_USAGE,
    "container.name.conflict": EXIT_FLWD,
    "secret.key.missing": EXIT_FLWD,
    "secret.key.invalid": EXIT_FLWD,
    "secret.write.failed": EXIT_FLWD,
    "run.workspace.failed": EXIT_FLWD,
    "run.store.failed": EXIT_FLWD,
    "store.unavailable": EXIT_FLWD,
    "queue.unavailable": EXIT_FLWD,
    "auth.unauthenticated": EXIT_FLWD,
    "auth.forbidden": EXIT_FLWD,
    "request.invalid": EXIT_USAGE,
    "request.too.large": EXIT_USAGE,
    "route.not.found": EXIT_FLWD,
    "method.not.allowed": EXIT_FLWD,
    "server.unreachable": EXIT_FLWD,
    "source.trust.required": EXIT_FLWD,
    "source.exists": EXIT_FLWD,
    "source.not.found": EXIT_USAGE,
    "source.changed": EXIT_FLWD,
}


def exit_for_code(code: str) -> int:
    return EXIT_FOR_CODE.get(code, EXIT_FLWD)


def exit_for_run(status: str, exit_code: int | None, code: str | None) -> int:
    """The job's own code when it ran to the end; 124, 130 or 125 otherwise."""
    from flwd.domain.model import RunStatus  # here: `flwd --help` and errors need no model

    if status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
        return exit_code if exit_code is not None else EXIT_FLWD
    if status == RunStatus.TIMED_OUT:
        return EXIT_TIMED_OUT
    if status == RunStatus.CANCELED:
        return EXIT_CANCELED
    return exit_for_code(code or "flwd.internal")
