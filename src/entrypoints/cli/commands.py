"""The CLI's commands: running a job, :plan, and the Cyclopts app of the other meta commands."""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, Any, Mapping, Optional, Protocol

from flwd.domain.errors import FlwdError, UsageError
from flwd.domain.model import JobSpec
from flwd.entrypoints.cli.argv import CommandLine
from flwd.entrypoints.cli.exit_codes import EXIT_OK, EXIT_USAGE, exit_for_run
from flwd.entrypoints.cli.job_parser import parse_job_options
from flwd.entrypoints.cli.render import (
    EventPrinter,
    Io,
    dumps,
    print_error,
    print_jobs,
    print_plan,
    print_runs,
    print_spec_warnings,
)
from flwd.entrypoints.config import FlwdConfig, load_config

if TYPE_CHECKING:
    from flwd.entrypoints.container import Container
    from flwd.ports.store import RunRecord

META_COMMANDS = (":jobs", ":plan", ":serve", ":runs", ":logs", ":cancel", ":doctor")
# commands that end as soon as they have printed: they may run without garbage collection
SHORT_COMMANDS = (":jobs", ":plan")


class Backend(Protocol):
    """What the CLI needs from flwd, locally (DI container) or remotely (HTTP)."""

    def list_jobs(self) -> dict[str, Any]: ...
    def get_job(self, job_id: str) -> JobSpec: ...
    def plan(self, job: JobSpec, args: dict[str, object], profile: str | None) -> dict[str, Any]: ...
    def run(self, job: JobSpec, args: dict[str, object], profile: str | None, *,
            printer: EventPrinter, detach: bool) -> RunRecord: ...
    def runs(self, job: str | None, status: str | None) -> list[dict[str, Any]]: ...
    def logs(self, run_id: str, follow: bool, printer: Any) -> RunRecord: ...
    def cancel(self, run_id: str) -> dict[str, Any]: ...


def dispatch(line: CommandLine, io: Io, env: Mapping[str, str],
             container: Container | None = None) -> int:
    config = load_config(line.overrides, env)
    command = line.command or ""
    if command not in SHORT_COMMANDS:
        gc.enable()  # console() starts with the collector off; a run or a server needs it
    if command == ":serve":
        from flwd.entrypoints.http.serve import serve_command

        return serve_command(config, list(line.rest), io, env)
    if command == ":doctor":
        from flwd.entrypoints.cli.doctor import doctor, remote_doctor

        if config.server_url and container is None:
            return remote_doctor(config.server_url, list(line.rest), io)
        return doctor(config, list(line.rest), io, env)
    if command.startswith(":") and command not in META_COMMANDS:
        raise UsageError(f"unknown command {command} (commands: {', '.join(META_COMMANDS)})")
    if command == ":jobs" and not config.server_url:
        _warn_missing_roots(config, io)
    backend, close = _backend(config, io, container)
    try:
        if command == ":plan":
            return _plan(backend, list(line.rest), io)
        if command.startswith(":"):
            return _meta(backend, command, list(line.rest), io)
        return _run(backend, command, list(line.rest), io)
    finally:
        close()


def _warn_missing_roots(config: FlwdConfig, io: Io) -> None:
    import os

    for root in config.jobs_dirs:
        if not os.path.isdir(os.path.expanduser(root)):
            io.err.write(f"warning: jobs root {root} does not exist\n")


def _backend(config: FlwdConfig, io: Io, given: Container | None) -> tuple[Backend, Any]:
    if config.server_url and given is None:
        from flwd.entrypoints.cli.remote import RemoteBackend

        remote = RemoteBackend(config.server_url, config.token, io)
        return remote, remote.close
    from flwd.entrypoints.cli.local import local_backend
    from flwd.entrypoints.container import build_container

    local = local_backend(given or build_container(config), io)
    return local, local.close


def _run(backend: Backend, job_id: str, tokens: list[str], io: Io) -> int:
    job = backend.get_job(job_id)
    print_spec_warnings(io, job.id, job.warnings)
    invocation = parse_job_options(job, tokens, prog=f"flwd {job.id}", out=io.out)
    if invocation.help_shown:
        return EXIT_OK
    printer = EventPrinter(io, as_json=invocation.json)
    record = backend.run(job, invocation.args, invocation.profile,
                         printer=printer, detach=invocation.detach)
    if invocation.detach:  # with --json every stdout line stays one JSON document
        started = {"run_id": record.run_id, "job_id": record.job_id, "status": record.status}
        io.out.write((dumps(started) if invocation.json else record.run_id) + "\n")
        return EXIT_OK
    if record.code:
        print_error(io, record.code, record.detail or record.status)
    return exit_for_run(record.status, record.exit_code, record.code)


def _plan(backend: Backend, tokens: list[str], io: Io) -> int:
    if not tokens or tokens[0].startswith("-"):
        if tokens and tokens[0] in ("--help", "-h"):
            io.out.write("Usage: flwd :plan JOB [--ARG VALUE ...] [--profile P] [--json]\n")
            return EXIT_OK
        raise UsageError("usage: flwd :plan JOB [--ARG VALUE ...] [--profile P] [--json]")
    job = backend.get_job(tokens[0])
    print_spec_warnings(io, job.id, job.warnings)
    invocation = parse_job_options(job, tokens[1:], prog=f"flwd :plan {job.id}",
                                   allow_detach=False, out=io.out)
    if invocation.help_shown:
        return EXIT_OK
    plan = backend.plan(job, invocation.args, invocation.profile)
    print_plan(io, plan, invocation.json)
    return EXIT_OK


def _meta(backend: Backend, command: str, tokens: list[str], io: Io) -> int:
    import cyclopts
    from cyclopts import App, Parameter

    app = App(name="flwd", result_action="return_value", exit_on_error=False,
              print_error=False, help_on_error=False, version_flags=[],
              default_parameter=Parameter(negative=()))

    @app.command(name=":jobs")
    def jobs(*, json: bool = False) -> int:
        """List jobs; invalid ones are shown with their reason."""
        print_jobs(io, backend.list_jobs(), json)
        return EXIT_OK

    @app.command(name=":runs")
    def runs(*, job: Optional[str] = None, status: Optional[str] = None, json: bool = False) -> int:
        """List recorded runs, newest first."""
        print_runs(io, backend.runs(job, status), json)
        return EXIT_OK

    @app.command(name=":logs")
    def logs(run_id: str, /, *, follow: bool = False) -> int:
        """Print a run's output; --follow waits for the run to end."""
        record = backend.logs(run_id, follow, EventPrinter(io, as_json=False, show_progress=False))
        return exit_for_run(record.status, record.exit_code, record.code) if follow else EXIT_OK

    @app.command(name=":cancel")
    def cancel(run_id: str, /) -> int:
        """Cancel an active run (graceful stop, then kill after the grace period)."""
        run = backend.cancel(run_id)
        io.out.write(f"cancel requested for run {run['run_id']}\n")
        return EXIT_OK

    for token in tokens:
        if not token.isprintable():  # also lone surrogates: bytes that were not UTF-8
            raise UsageError(f"{command}: {token!r} is not printable UTF-8 text")
    try:
        result = app([command, *tokens])
    except cyclopts.CycloptsError as exc:
        raise UsageError(str(exc).strip().splitlines()[0] if str(exc).strip() else "bad usage") from None
    except FlwdError:
        raise
    return result if isinstance(result, int) else EXIT_OK if result is None else EXIT_USAGE
