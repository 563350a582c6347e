"""Options up to a name, then everything after it belongs to that name (SPEC section 7).

``flwd [GLOBAL OPTIONS] JOB|:COMMAND ...`` and ``flwd :plan JOB [--ARG ...]`` are read this
way, from the option declarations in ``grammar``, so that a job may have its own ``--token``
argument. No parser library: ``flwd --help`` starts without one.
"""

from typing import TYPE_CHECKING, NamedTuple, Sequence

from flwd.entrypoints.cli.grammar import GLOBAL_OPTIONS, HELP, VERSION, Option

if TYPE_CHECKING:  # imported when needed: the hand-off client splits argv with neither
    from flwd.domain.errors import UsageError
    from flwd.entrypoints.config import CliOverrides

HELP_FLAGS = HELP.names


class Leading(NamedTuple):  # a NamedTuple, annotations unpostponed: start-up (see grammar)
    """What came before the first name (*name*, None if none), and the tokens after it."""

    values: dict[str, str | tuple[str, ...]]
    name: str | None = None
    rest: tuple[str, ...] = ()
    help: bool = False
    version: bool = False


class CommandLine(NamedTuple):
    """The command line split into global flags, the command and what follows it."""

    overrides: "CliOverrides"
    command: str | None  # ":plan", a job id, or None
    rest: tuple[str, ...]
    help: bool = False
    version: bool = False


def split_command_line(argv: Sequence[str]) -> CommandLine:
    """Global options may only come before the command or job name; after it every token
    belongs to the command (so a job may have its own ``--token`` argument)."""
    from flwd.entrypoints.config import CliOverrides

    leading = split_global(argv)
    overrides = CliOverrides(**leading.values)  # type: ignore[arg-type]  # GLOBAL_OPTIONS' fields
    return CommandLine(overrides=overrides, command=leading.name, rest=leading.rest,
                       help=leading.help, version=leading.version)


def split_global(argv: Sequence[str]) -> Leading:
    """The global options, and the command or job name with what follows it."""
    return split_leading(argv, GLOBAL_OPTIONS, flags=(HELP, VERSION),
                         unknown="unknown global option {} (see flwd --help)")


def split_leading(tokens: Sequence[str], options: Sequence[Option], *,
                  flags: Sequence[Option] = (HELP,), unknown: str) -> Leading:
    """Read *options* (each takes a value; the last one counts unless it is repeatable) and
    *flags* until the first token that is not an option. A flag ends the scan at once.
    *unknown*: the message for an option not declared, ``{}`` standing for its name."""
    by_name = {name: option for option in options for name in option.names}
    values: dict[str, str | tuple[str, ...]] = {}
    index = 0
    while index < len(tokens):
        token = tokens[index]
        flag = next((flag for flag in flags if token in flag.names), None)
        if flag is not None:
            return Leading(values=values, help=flag is HELP, version=flag is VERSION)
        if not token.startswith("-"):
            return Leading(values=values, name=token, rest=tuple(tokens[index + 1:]))
        name, eq, inline = token.partition("=")
        option = by_name.get(name)
        if option is None:
            raise _usage(unknown.format(name), option=name)
        if eq:
            value = inline
        else:
            index += 1
            if index >= len(tokens):
                raise _usage(f"option {name} needs a value", option=name)
            value = tokens[index]
        if not value.strip():
            raise _usage(f"option {name} needs a value, not an empty string", option=name)
        if option.repeatable:  # --jobs-dir A --jobs-dir B
            values[option.field] = (*values.get(option.field, ()), value)
        else:
            values[option.field] = value
        index += 1
    return Leading(values=values)


def _usage(message: str, **context: str) -> "UsageError":
    from flwd.domain.errors import UsageError

    return UsageError(message, **context)
