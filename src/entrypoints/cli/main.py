"""The ``flwd`` command: dispatch to meta commands (``:plan``...) or run a job."""

from __future__ import annotations

import gc
import os
import sys
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
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
    # imported here, not at the top, so that console() has the collector off for them too
    from flwd.domain.errors import FlwdError
    from flwd.entrypoints.cli.argv import split_command_line
    from flwd.entrypoints.cli.exit_codes import EXIT_CANCELED, EXIT_FLWD, EXIT_OK, exit_for_code
    from flwd.entrypoints.cli.render import Io, print_error, print_flwd_error

    io = io or Io()
    try:
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
