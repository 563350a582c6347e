"""The plain job command line (``--NAME VALUE`` pairs and the run options, nothing else) read
without Cyclopts: most runs look so, and importing Cyclopts is a third of a run's start-up.
Anything else (help, booleans, arrays, secrets, ``--``, values that start with ``-``, repeats,
unknown names) answers None and goes to the Cyclopts parser, which has the last word."""

from __future__ import annotations

from typing import Sequence

from flwd.domain.model import ArgType, JobSpec
from flwd.entrypoints.cli.grammar import Option
from flwd.entrypoints.cli.spellings import text_option_names

PlainInvocation = tuple[dict[str, object], dict[str, object]]  # job args, run options by field


def parse_plain(job: JobSpec, tokens: Sequence[str],
                run_options: Sequence[Option]) -> PlainInvocation | None:
    """The job's arguments (text, as Cyclopts gives them) and the run options' values, or
    None when *tokens* are not plain (see the module)."""
    if any(spec.secret for spec in job.args):
        return None  # secrets have their own input forms and prompt: the full parser's
    valued = {name: spec.name for spec in job.args
              if spec.type not in (ArgType.BOOLEAN, ArgType.ARRAY)
              for name in text_option_names(spec)}
    options = {name: option for option in run_options for name in (option.name, *option.aliases)}
    args: dict[str, object] = {}
    run: dict[str, object] = {}
    at = 0
    while at < len(tokens):
        name, sep, value = tokens[at].partition("=")
        option = options.get(name)
        if option is not None and option.flag:
            if sep or option.field in run:
                return None
            run[option.field], at = True, at + 1
            continue
        target, into = (valued.get(name), args) if option is None else (option.field, run)
        if target is None or not name.startswith("--") or target in into:
            return None
        if not sep:
            if at + 1 >= len(tokens):
                return None
            value, at = tokens[at + 1], at + 1
        if not value or value.startswith("-"):
            return None
        into[target], at = value, at + 1
    return args, run
