"""A ``:command``'s own arguments, read by Cyclopts from the command's declaration in
``grammar``, whose help ``usage.command_help`` generates from the same declaration.

``:plan JOB ...`` is read like the global options (``argv.split_leading``): everything after
the job's name is the job's, for ``job_parser``.
"""

import inspect
from typing import Annotated, Any, NamedTuple, Optional, Sequence

from flwd.domain.errors import UsageError
from flwd.entrypoints.cli.argv import HELP_FLAGS, split_leading
from flwd.entrypoints.cli.grammar import Command, Option

_TERMINATOR = "--"


class ParsedCommand(NamedTuple):  # a NamedTuple, annotations unpostponed: start-up (see grammar)
    """Each operand and option of the command by its field name (``run_id``, ``no_runtime``);
    for a command that takes a job, the tokens after the job's name."""

    values: dict[str, Any]
    job_tokens: tuple[str, ...] = ()
    help: bool = False


def parse_command(command: Command, tokens: Sequence[str]) -> ParsedCommand:
    """Raise UsageError for what *command* does not declare; ``help`` when it was asked."""
    if command.takes_job:
        return _parse_job_command(command, tokens)
    own = tokens[: tokens.index(_TERMINATOR)] if _TERMINATOR in tokens else tokens
    if any(token in HELP_FLAGS for token in own):
        return ParsedCommand(values={}, help=True)
    for token in tokens:
        if not token.isprintable():  # also lone surrogates: bytes that were not UTF-8
            raise UsageError(f"{command.name}: {token!r} is not printable UTF-8 text")
    defaults = {option.field: _default(option) for option in command.options}
    if not tokens and not command.operands:  # nothing to read: no need to load Cyclopts
        return ParsedCommand(values=defaults)
    return ParsedCommand(values={**defaults, **_parse_with_cyclopts(command, tokens)})


def _parse_job_command(command: Command, tokens: Sequence[str]) -> ParsedCommand:
    usage = f"usage: flwd {command.synopsis}"
    leading = split_leading(tokens, (), unknown=f"unknown option {{}} before the job; {usage}")
    if leading.help:
        return ParsedCommand(values={}, help=True)
    if leading.name is None:
        raise UsageError(usage)
    return ParsedCommand(values={command.operands[0].field: leading.name},
                         job_tokens=leading.rest)


def _parse_with_cyclopts(command: Command, tokens: Sequence[str]) -> dict[str, Any]:
    import cyclopts
    from cyclopts import App

    params = [inspect.Parameter(operand.field, inspect.Parameter.POSITIONAL_ONLY, annotation=str)
              for operand in command.operands]
    params += [option_parameter(option, option.field) for option in command.options]
    fields = [operand.field for operand in command.operands]

    def invoke(*operands: str, **options: Any) -> dict[str, Any]:
        return {**dict(zip(fields, operands)), **options}

    invoke.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    app = App(name=f"flwd {command.name}", result_action="return_value", exit_on_error=False,
              print_error=False, help_on_error=False, help_flags=(), version_flags=())
    app.default(invoke)
    try:
        result = app(list(tokens))
    except cyclopts.CycloptsError as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else "bad usage"
        raise UsageError(f"{message} (usage: flwd {command.synopsis})") from None
    assert isinstance(result, dict)
    return result


def option_parameter(option: Option, ident: str, **extra: Any) -> inspect.Parameter:
    """*option* as a keyword-only parameter for Cyclopts: a flag (no ``--no-`` form) or a
    text value, with its declared names and help."""
    from cyclopts import Parameter

    kind: Any = (bool if option.flag else Optional[list[str]] if option.repeatable
                 else Optional[str])
    annotation = Annotated[kind, Parameter(name=list(option.names), negative=(), help=option.help,
                                           show_default=False, **extra)]
    return inspect.Parameter(ident, inspect.Parameter.KEYWORD_ONLY, default=_default(option),
                             annotation=annotation)


def _default(option: Option) -> bool | None:
    return False if option.flag else None
