"""The ``flwd`` command: dispatch to meta commands (``:plan``...) or run a job."""

from __future__ import annotations

import gc
import os
import sys
from typing import TYPE_CHECKING, Callable, Sequence

if TYPE_CHECKING:
    from flwd.entrypoints.cli.argv import Leading
    from flwd.entrypoints.cli.render import Io
    from flwd.entrypoints.container import Container

VERSION = "0.1.0"


def main(argv: Sequence[str] | None = None, io: Io | None = None,
         env: dict[str, str] | None = None, container: Container | None = None) -> int:
    """Entry point of the console script; returns the process exit status.

    Tests pass a *container* whose providers they overrode with fakes.
    """
    env = dict(os.environ) if env is None else env
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [":__complete"]:  # a shell's Tab (see completion_scripts): hidden, quick,
        from flwd.entrypoints.cli.completion_scripts import run_callback  # so before the rest

        return run_callback(argv[1:], io.out if io else sys.stdout, env)
    if io is None and container is None:
        handed = _handed_off(argv, env)
        if handed is not None:
            return handed
    # imported here, not at the top, so that console() has the collector off for them too
    from flwd.entrypoints.cli.argv import split_command_line
    from flwd.entrypoints.cli.exit_codes import EXIT_OK
    from flwd.entrypoints.cli.render import Io

    io = io or Io()

    def command() -> int:
        line = split_command_line(argv)
        if line.version:
            io.out.write(f"flwd {VERSION}\n")
            return EXIT_OK
        if line.command is None:
            from flwd.entrypoints.cli.usage import top_help

            io.out.write(top_help())
            return EXIT_OK
        from flwd.entrypoints.cli.commands import dispatch

        return dispatch(line, io, env, container)

    return reporting_errors(io, command)


def reporting_errors(io: Io, command: Callable[[], int],
                     passing: tuple[type[BaseException], ...] = ()) -> int:
    """*command*'s exit status, or the one of the error it raised, reported on *io* as
    ``error[CODE]: ...`` (never a stack trace); errors of the *passing* types are raised."""
    from flwd.domain.errors import FlwdError
    from flwd.entrypoints.cli.exit_codes import EXIT_CANCELED, EXIT_FLWD, exit_for_code
    from flwd.entrypoints.cli.render import print_error, print_flwd_error

    try:
        return command()
    except passing:
        raise
    except FlwdError as exc:
        print_flwd_error(io, exc)
        return exit_for_code(exc.code)
    except KeyboardInterrupt:  # outside a run (a run ends itself canceled): quietly, as docker
        return EXIT_CANCELED
    except BrokenPipeError:
        return EXIT_FLWD
    except Exception as exc:  # noqa: BLE001 - never a stack trace for users
        print_error(io, "flwd.internal", f"{type(exc).__name__}: {exc}")
        return EXIT_FLWD


def _handed_off(argv: list[str], env: dict[str, str]) -> int | None:
    """The exit status of ``flwd JOB ...`` run whole by a resident local flwd found for this
    configuration (``cli.handoff``), before anything heavier is imported; None: run here
    (a meta command, no such server, a remote or cluster configuration, a command the server
    leaves to this side, or anything wrong with the command line or the configuration, which
    the usual path then reports). The server is found through the memo of an earlier run
    with the same settings, else by reading the configuration."""
    from flwd.entrypoints.cli.argv import split_global
    from flwd.entrypoints.cli.handoff import RunHere, hand_off
    from flwd.entrypoints.resident import disabled, recall

    if disabled(env) or not argv or argv[0].startswith(":"):
        return None
    try:
        line = split_global(argv)
    except Exception:  # noqa: BLE001 - a usage error: reported by the usual path
        return None
    if line.help or line.version or not line.name or line.name.startswith(":"):
        return None
    try:
        known = recall(env, line.values)
        handed = hand_off(known, line.name, line.rest) if known else None
        return handed if handed is not None else _found_and_handed_off(line, env)
    except RunHere:
        return None


def _found_and_handed_off(line: Leading, env: dict[str, str]) -> int | None:
    from flwd.entrypoints.cli.handoff import hand_off
    from flwd.entrypoints.resident import handoff_path, remember, socket_path, watched_files

    try:
        from flwd.entrypoints.config import CliOverrides, load_config

        config = load_config(CliOverrides(**line.values), env)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - reported by the usual path, which meets it again
        return None
    if config.server_url or config.cluster:
        return None
    path = handoff_path(socket_path(config, env))
    if os.path.exists(path):
        remember(env, line.values, path, watched_files(config))
    return hand_off(path, line.name or "", line.rest)


def console() -> None:
    """The ``flwd`` console script: run, flush, run the atexit handlers, and leave without
    finalising every imported module (a quarter of a second for a run, for nothing).

    Start-up (imports, configuration, parsing) runs with the garbage collector off: what it
    allocates lives on, so each collection was wasted work (~20 ms of ``:plan``). Commands
    that may run for long turn it back on first (``commands.dispatch``).
    """
    import atexit

    gc.disable()
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    atexit._run_exitfuncs()
    os._exit(code)
