"""The CLI's commands: running a job and each ``:command`` declared in ``grammar``."""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol, Sequence

from flwd.domain.errors import UsageError
from flwd.domain.model import JobSpec
from flwd.entrypoints.cli.argv import CommandLine
from flwd.entrypoints.cli.command_parser import ParsedCommand, parse_command
from flwd.entrypoints.cli.exit_codes import EXIT_OK, exit_for_run
from flwd.entrypoints.cli.grammar import COMMANDS_BY_NAME, HELP
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
from flwd.entrypoints.cli.secret_input import read_secrets
from flwd.entrypoints.config import FlwdConfig, load_config

if TYPE_CHECKING:
    from flwd.entrypoints.container import Container
    from flwd.ports.store import RunRecord

PLAN = COMMANDS_BY_NAME[":plan"]
# commands that end as soon as they have printed: they may run without garbage collection
SHORT_COMMANDS = (":jobs", ":plan")
HELP_NAMES = frozenset(HELP.names)  # `flwd JOB --help` runs nothing: no runtime looked for


class JobRunner(Protocol):
    """What running a job needs: also a resident server's hand-off (``cli.handoff_server``)."""

    def get_job(self, job_id: str) -> JobSpec: ...
    def run(self, job: JobSpec, args: dict[str, object], profile: str | None, *,
            printer: EventPrinter, detach: bool) -> RunRecord: ...


class Backend(JobRunner, Protocol):
    """What the CLI needs from flwd, locally (DI container) or remotely (HTTP)."""

    def list_jobs(self) -> dict[str, Any]: ...
    def plan(self, job: JobSpec, args: dict[str, object], profile: str | None) -> dict[str, Any]: ...
    def runs(self, job: str | None, status: str | None) -> list[dict[str, Any]]: ...
    def logs(self, run_id: str, follow: bool, printer: Any) -> RunRecord: ...
    def cancel(self, run_id: str) -> dict[str, Any]: ...
    def workers(self) -> list[dict[str, Any]]: ...


def dispatch(line: CommandLine, io: Io, env: Mapping[str, str],
             container: Container | None = None) -> int:
    """Run the job or ``:command`` *line* names; returns the exit status (errors raise)."""
    name = line.command or ""
    if name == ":completion":  # needs no configuration: a broken flwd.yaml must not break it
        return _completion(parse_command(COMMANDS_BY_NAME[name], line.rest), io)
    config = load_config(line.overrides, env)
    if name not in SHORT_COMMANDS:
        gc.enable()  # console() starts with the collector off; a run or a server needs it
    if not name.startswith(":"):
        return _with_backend(config, io, container,
                             lambda backend: run_job(backend, name, line.rest, io), env,
                             prefetch=not HELP_NAMES.intersection(line.rest))
    if name == ":sources":
        from flwd.entrypoints.cli.sources import sources_command

        return sources_command(config, line.rest, io, container)
    command = COMMANDS_BY_NAME.get(name)
    if command is None:
        raise UsageError(f"unknown command {name} (commands: {', '.join(COMMANDS_BY_NAME)})")
    parsed = parse_command(command, line.rest)
    if parsed.help:
        from flwd.entrypoints.cli.usage import command_help

        io.out.write(command_help(command))
        return EXIT_OK
    if name == ":serve":
        return _serve(config, parsed, io, env)
    if name == ":worker":
        return _worker(config, parsed, io, env)
    if name == ":doctor":
        return _doctor(config, parsed, io, env, remote=bool(config.server_url) and container is None)
    if name == ":jobs" and not config.server_url:
        _warn_missing_roots(config, io)
    handler = _BACKEND_COMMANDS[name]
    resident_env = None if name in SHORT_COMMANDS else env  # plans and listings need no server
    return _with_backend(config, io, container, lambda backend: handler(backend, parsed, io),
                         resident_env)


def _completion(parsed: ParsedCommand, io: Io) -> int:
    from flwd.entrypoints.cli.completion_scripts import SCRIPTS

    if parsed.help:
        from flwd.entrypoints.cli.usage import command_help

        io.out.write(command_help(COMMANDS_BY_NAME[":completion"]))
        return EXIT_OK
    shell = parsed.values["shell"]
    if shell not in SCRIPTS:
        raise UsageError(f"no completion for shell {shell!r} (shells: {', '.join(SCRIPTS)})")
    io.out.write(SCRIPTS[shell])
    return EXIT_OK


def _serve(config: FlwdConfig, parsed: ParsedCommand, io: Io, env: Mapping[str, str]) -> int:
    from flwd.entrypoints.cli.handoff_server import handoff_listener
    from flwd.entrypoints.cli.serve_args import serve_options
    from flwd.entrypoints.http.serve import serve

    serve(config, serve_options(parsed.values, config.server_bind), io.err, env,
          handoff=handoff_listener)
    return EXIT_OK


def _worker(config: FlwdConfig, parsed: ParsedCommand, io: Io, env: Mapping[str, str]) -> int:
    from flwd.entrypoints.worker import work, worker_options

    return work(config, worker_options(parsed.values), io.err, env)


def _doctor(config: FlwdConfig, parsed: ParsedCommand, io: Io, env: Mapping[str, str], *,
            remote: bool) -> int:
    from flwd.entrypoints.cli.doctor import doctor, remote_doctor

    if remote:
        return remote_doctor(config.server_url or "", parsed.values["json"], io)
    return doctor(config, parsed.values["json"], io, env)


def _with_backend(config: FlwdConfig, io: Io, given: Container | None,
                  call: Callable[[Backend], int], env: Mapping[str, str] | None = None, *,
                  prefetch: bool = False) -> int:
    """*env* given: a resident local server for *config* (``flwd :serve``'s unix socket in
    the data directory) serves the command when one answers. *prefetch* (a run): else the
    runtime is looked for in the background from now on."""
    backend, close = _backend(config, io, given, env, prefetch)
    try:
        return call(backend)
    finally:
        close()


def _warn_missing_roots(config: FlwdConfig, io: Io) -> None:
    import os

    for root in config.jobs_dirs:
        if not os.path.isdir(os.path.expanduser(root)):
            io.err.write(f"warning: jobs root {root} does not exist\n")


def _backend(config: FlwdConfig, io: Io, given: Container | None,
             env: Mapping[str, str] | None, prefetch: bool = False) -> tuple[Backend, Any]:
    if config.server_url and given is None:
        from flwd.entrypoints.cli.remote import RemoteBackend

        remote = RemoteBackend(config.server_url, config.token, io)
        return remote, remote.close
    # cluster mode: runs go through the queue, never to a local server's socket
    resident = (_resident(config, env) if given is None and env is not None
                and not config.cluster else None)
    if resident is not None:
        from flwd.entrypoints.cli.resident_client import resident_backend

        backend = resident_backend(resident, io)
        return backend, backend.close
    from flwd.entrypoints.cli.local import local_backend
    from flwd.entrypoints.container import build_container

    if given is not None or not prefetch or env is None or config.cluster:
        local = local_backend(given or build_container(config), io)
        return local, local.close
    from dependency_injector import providers

    from flwd.entrypoints.cli.prefetch import prefetch_runtime

    ahead = prefetch_runtime(config.runtime.value, env)
    container = build_container(config)
    container.runtime_found.override(providers.Callable(ahead.endpoint))
    local = local_backend(container, io)

    def close() -> None:
        try:
            local.close()
        finally:
            ahead.close()

    return local, close


def _resident(config: FlwdConfig, env: Mapping[str, str]) -> str | None:
    from flwd.entrypoints.resident import find_resident, socket_path

    return find_resident(socket_path(config, env), env)


def run_job(backend: JobRunner, job_id: str, tokens: Sequence[str], io: Io) -> int:
    """``flwd JOB TOKENS`` on *backend*: parse, read secrets, run (or detach), report; also
    what a resident server runs for a command line handed to it (``cli.handoff_server``)."""
    job = backend.get_job(job_id)
    print_spec_warnings(io, job.id, job.warnings)
    invocation = parse_job_options(job, tokens, prog=f"flwd {job.id}", out=io.out)
    if invocation.help_shown:
        return EXIT_OK
    args = read_secrets(job, invocation.args, io.secrets)
    printer = EventPrinter(io, as_json=invocation.json)
    record = backend.run(job, args, invocation.profile,
                         printer=printer, detach=invocation.detach)
    if invocation.detach:  # with --json every stdout line stays one JSON document
        started = {"run_id": record.run_id, "job_id": record.job_id, "status": record.status}
        io.out.write((dumps(started) if invocation.json else record.run_id) + "\n")
        return EXIT_OK
    if record.code:
        print_error(io, record.code, record.detail or record.status)
    return exit_for_run(record.status, record.exit_code, record.code)


def _plan(backend: Backend, parsed: ParsedCommand, io: Io) -> int:
    job = backend.get_job(parsed.values["job"])
    print_spec_warnings(io, job.id, job.warnings)
    invocation = parse_job_options(job, parsed.job_tokens, prog=f"flwd :plan {job.id}",
                                   run_options=PLAN.run_options or (), out=io.out)
    if invocation.help_shown:
        return EXIT_OK
    plan = backend.plan(job, read_secrets(job, invocation.args, io.secrets), invocation.profile)
    print_plan(io, plan, invocation.json)
    return EXIT_OK


def _jobs(backend: Backend, parsed: ParsedCommand, io: Io) -> int:
    print_jobs(io, backend.list_jobs(), parsed.values["json"])
    return EXIT_OK


def _runs(backend: Backend, parsed: ParsedCommand, io: Io) -> int:
    values = parsed.values
    print_runs(io, backend.runs(values["job"], values["status"]), values["json"])
    return EXIT_OK


def _logs(backend: Backend, parsed: ParsedCommand, io: Io) -> int:
    follow = parsed.values["follow"]
    record = backend.logs(parsed.values["run_id"], follow,
                          EventPrinter(io, as_json=False, show_progress=False))
    return exit_for_run(record.status, record.exit_code, record.code) if follow else EXIT_OK


def _cancel(backend: Backend, parsed: ParsedCommand, io: Io) -> int:
    run = backend.cancel(parsed.values["run_id"])
    io.out.write(f"cancel requested for run {run['run_id']}\n")
    return EXIT_OK


def _workers(backend: Backend, parsed: ParsedCommand, io: Io) -> int:
    from flwd.entrypoints.cli.workers import workers_command  # cluster mode (SPEC section 11)

    return workers_command(backend, parsed, io)


_BACKEND_COMMANDS: dict[str, Callable[[Backend, ParsedCommand, Io], int]] = {
    ":jobs": _jobs, ":plan": _plan, ":runs": _runs, ":logs": _logs, ":cancel": _cancel,
    ":workers": _workers,
}
