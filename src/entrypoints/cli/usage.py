"""Help texts generated from the declarations in ``grammar``: ``flwd --help`` and
``flwd :COMMAND --help`` (a job's own help is Cyclopts', in ``job_parser``)."""

from __future__ import annotations

from typing import Iterable

from flwd.entrypoints.cli.grammar import (
    ABOUT,
    COMMANDS,
    EXIT_CODES,
    GLOBAL_OPTIONS,
    HELP,
    RUN,
    VERSION,
    Command,
    Option,
)

_WIDEST_LEFT = 27  # a longer left column puts its help on the next line


def top_help() -> str:
    """``flwd --help``."""
    return "".join((
        f"Usage: flwd [GLOBAL OPTIONS] {RUN.synopsis}\n",
        "       flwd [GLOBAL OPTIONS] :COMMAND ...\n\n",
        f"{ABOUT}\n\n",
        "Commands:\n",
        _table((command.synopsis, command.summary) for command in (RUN, *COMMANDS)),
        "\nGlobal options (before the job or command):\n",
        _table(_option_rows((*GLOBAL_OPTIONS, HELP, VERSION))),
        f"\n{EXIT_CODES}\n",
    ))


def command_help(command: Command) -> str:
    """``flwd :COMMAND --help``."""
    parts = [f"Usage: flwd {command.synopsis}\n\n", f"{command.description or command.summary}\n"]
    operands = [(operand.name, operand.help) for operand in command.operands]
    if command.takes_job:
        operands.append(("--ARG VALUE ...", "the job's arguments (`flwd JOB --help` lists them)"))
    if operands:
        parts += ["\nArguments:\n", _table(operands)]
    options = (*command.options, *(command.run_options or ()), HELP)
    parts += ["\nOptions:\n", _table(_option_rows(options))]
    return "".join(parts)


def _option_rows(options: Iterable[Option]) -> Iterable[tuple[str, str]]:
    for option in options:
        yield ", ".join(option.names) + (f" {option.metavar}" if option.metavar else ""), option.help


def _table(rows: Iterable[tuple[str, str]]) -> str:
    rows = list(rows)
    width = min(_WIDEST_LEFT, max((len(left) for left, _ in rows), default=0) + 2)
    lines = []
    for left, text in rows:
        if len(left) > width - 2:
            lines.append(f"  {left}\n  {'':<{width}}{text}\n")
        else:
            lines.append(f"  {left:<{width}}{text}\n")
    return "".join(lines)
