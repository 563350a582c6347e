"""Splitting the command line: global options, then a command or a job and its options."""

from __future__ import annotations

from dataclasses import dataclass

from flwd.domain.errors import UsageError
from flwd.entrypoints.config import CliOverrides

_GLOBAL_VALUE_OPTIONS = {
    "--jobs-dir": "jobs_dirs",
    "--config": "config",
    "--runtime": "runtime",
    "--data-dir": "data_dir",
    "--server": "server",
    "--token": "token",
}
HELP_FLAGS = ("--help", "-h")


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandLine:
    """The command line split into global flags, the command and what follows it."""

    overrides: CliOverrides
    command: str | None  # ":plan", a job id, or None
    rest: tuple[str, ...]
    help: bool = False
    version: bool = False


def split_command_line(argv: list[str] | tuple[str, ...]) -> CommandLine:
    """Global options may only come before the command or job name; after it every token
    belongs to the command (so a job may have its own ``--token`` argument)."""
    values: dict[str, str] = {}
    jobs_dirs: list[str] = []
    index = 0
    while index < len(argv):
        token = argv[index]
        if token in HELP_FLAGS:
            return CommandLine(overrides=_overrides(values, jobs_dirs), command=None, rest=(),
                               help=True)
        if token == "--version":
            return CommandLine(overrides=_overrides(values, jobs_dirs), command=None, rest=(),
                               version=True)
        if not token.startswith("-"):
            return CommandLine(overrides=_overrides(values, jobs_dirs), command=token,
                               rest=tuple(argv[index + 1:]))
        name, eq, inline = token.partition("=")
        field = _GLOBAL_VALUE_OPTIONS.get(name)
        if field is None:
            raise UsageError(f"unknown global option {name} (see flwd --help)", option=name)
        if eq:
            value = inline
        else:
            index += 1
            if index >= len(argv):
                raise UsageError(f"option {name} needs a value", option=name)
            value = argv[index]
        if not value.strip():
            raise UsageError(f"option {name} needs a value, not an empty string", option=name)
        if field == "jobs_dirs":
            jobs_dirs.append(value)
        else:
            values[field] = value
        index += 1
    return CommandLine(overrides=_overrides(values, jobs_dirs), command=None, rest=())


def _overrides(values: dict[str, str], jobs_dirs: list[str]) -> CliOverrides:
    return CliOverrides(
        jobs_dirs=tuple(jobs_dirs),
        config=values.get("config"),
        data_dir=values.get("data_dir"),
        runtime=values.get("runtime"),
        server=values.get("server"),
        token=values.get("token"),
    )
