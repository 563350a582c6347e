"""A job's arguments as real Cyclopts options, shared by ``flwd JOB`` and ``flwd :plan JOB``.

Cyclopts only tokenises and renders help: every option is taken as text (or a list of text,
or a flag) and the domain's argument contract coerces and validates it, so the CLI and the
API report problems identically and all at once.
"""

import inspect
import re
from typing import Annotated, Any, Mapping, NamedTuple, NoReturn, Optional, Sequence, TextIO

from flwd.domain.args.contract import check_args
from flwd.domain.args.ulc import compact_json
from flwd.domain.errors import ArgProblem, ArgsInvalidError, UsageError
from flwd.domain.model import ArgSpec, ArgType, JobSpec
from flwd.entrypoints.cli.command_parser import option_parameter
from flwd.entrypoints.cli.grammar import HELP, RUN_OPTIONS, Option
from flwd.entrypoints.cli.job_collect import identifier, parse_collecting
from flwd.entrypoints.cli.plain_options import parse_plain
from flwd.entrypoints.cli.spellings import negative_option_names, text_option_names

# what `flwd JOB --help` shows as each option's value (Cyclopts would say STR: all are text)
_METAVARS = {ArgType.STRING: "TEXT", ArgType.INTEGER: "INT", ArgType.NUMBER: "NUM",
             ArgType.BOOLEAN: "BOOL", ArgType.OBJECT: "JSON"}


class JobInvocation(NamedTuple):  # a NamedTuple, annotations unpostponed: start-up (see grammar)
    """What the command line asked of a job: its raw argument text and the run options."""

    args: dict[str, object]
    profile: str | None = None
    json: bool = False
    detach: bool = False
    help_shown: bool = False


def parse_job_options(job: JobSpec, tokens: Sequence[str], *, prog: str,
                      run_options: Sequence[Option] = RUN_OPTIONS,
                      out: TextIO | None = None) -> JobInvocation:
    """Parse *tokens* (everything after the job name): the job's arguments and
    *run_options*. ``--help`` prints the job's help to *out* (default stdout)."""
    tokens = list(tokens)
    plain = parse_plain(job, tokens, run_options)
    if plain is not None:
        return _plain_invocation(*plain)
    import cyclopts

    tokens = _stdin_values_joined(job, tokens)
    wants_help = any(t in HELP.names for t in _before_terminator(tokens))
    app = _build_app(job, prog, run_options, out if wants_help else None)
    if wants_help:
        app(["--help"])
        return JobInvocation(args={}, help_shown=True)
    bound, problems = parse_collecting(app, job, tokens, cyclopts.CycloptsError, run_options)
    names = {identifier(spec.name): spec.name for spec in job.args}  # db_host -> db.host
    parsed = {names.get(str(key)) or str(key): value for key, value in bound.items()}
    if problems:
        raise_with_contract_problems(job, parsed, problems)
    run_opts = {key: parsed.pop(key) for key in ("_profile", "_json", "_detach") if key in parsed}
    args = {name: value for name, value in parsed.items() if value is not None}
    return JobInvocation(
        args=args,
        profile=run_opts.get("_profile"),
        json=bool(run_opts.get("_json")),
        detach=bool(run_opts.get("_detach")),
    )


def _plain_invocation(args: dict[str, object], run: dict[str, object]) -> JobInvocation:
    profile = run.get("profile")
    return JobInvocation(args=args, profile=profile if isinstance(profile, str) else None,
                         json=bool(run.get("json")), detach=bool(run.get("detach")))


def raise_with_contract_problems(job: JobSpec, parsed: Mapping[str, Any],
                                 problems: list[ArgProblem]) -> NoReturn:
    """Raise *problems* together with the contract's problems of the other arguments."""
    args = {k: v for k, v in parsed.items() if v is not None and not k.startswith("_")}
    try:
        check_args(job.args, args, from_text=True, job=job.id)
    except ArgsInvalidError as exc:
        reported = {p.arg for p in problems}
        problems = problems + [p for p in exc.problems if p.arg not in reported]
    raise ArgsInvalidError(problems, job=job.id)


def _stdin_values_joined(job: JobSpec, tokens: list[str]) -> list[str]:
    """``--token -`` as ``--token=-`` for secrets, which Cyclopts would take ``-`` for an option."""
    secret_names = {name for spec in job.args if spec.secret for name in text_option_names(spec)}
    joined: list[str] = []
    end = len(_before_terminator(tokens))
    at = 0
    while at < len(tokens):
        if at + 1 < end and tokens[at] in secret_names and tokens[at + 1] == "-":
            joined.append(tokens[at] + "=-")
            at += 2
            continue
        joined.append(tokens[at])
        at += 1
    return joined


def _before_terminator(tokens: list[str]) -> list[str]:
    return tokens[: tokens.index("--")] if "--" in tokens else tokens


def _build_app(job: JobSpec, prog: str, run_options: Sequence[Option],
               help_out: TextIO | None) -> Any:
    """*help_out*: where help goes when it is asked for (rich is imported only then)."""
    from cyclopts import App

    def invoke(**kwargs: object) -> dict[str, object]:
        return dict(kwargs)

    params = [_job_parameter(spec) for spec in job.args]
    params += _run_parameters(run_options)
    invoke.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    invoke.__doc__ = job.description or job.name or f"Run job {job.id}."
    app = App(
        name=prog,
        help=job.description or job.name or f"Run job {job.id}.",
        result_action="return_value",
        version_flags=[],
        help_flags=[] if help_out is None else ["--help", "-h"],  # help only when asked for
        exit_on_error=False,
        print_error=False,
        help_on_error=False,
        help_format="plaintext",  # a job's descriptions are its author's text, not markdown
    )
    if help_out is not None:
        from rich.console import Console

        app.console = Console(file=help_out, width=None if help_out.isatty() else 100)
    app.default(invoke)
    return app


def _job_parameter(spec: ArgSpec) -> inspect.Parameter:
    from cyclopts import Parameter

    names = list(text_option_names(spec))
    kind: Any = Optional[str]
    options: dict[str, Any] = {"name": names, "help": _help(spec), "show_default": False,
                               "metavar": _METAVARS.get(spec.type)}
    if spec.type is ArgType.BOOLEAN:
        kind = Optional[bool]
        options["negative"] = list(negative_option_names(spec))
    elif spec.type is ArgType.ARRAY:
        kind = Optional[list[str]]
        options["consume_multiple"] = False
        options["negative"] = ()
        options["metavar"] = _METAVARS[spec.items or ArgType.STRING] + "..."
    return inspect.Parameter(
        identifier(spec.name), inspect.Parameter.KEYWORD_ONLY, default=None,
        annotation=Annotated[kind, Parameter(**options)],
    )


def _run_parameters(options: Sequence[Option]) -> list[inspect.Parameter]:
    """flwd's options after the job name, declared in ``grammar``; ``_`` keeps their names
    apart from the job's arguments."""
    from cyclopts import Group

    group = Group("Run options", sort_key=1)
    return [option_parameter(option, f"_{option.field}", group=group) for option in options]


def _help(spec: ArgSpec) -> str:
    facts = [spec.type.value if spec.type is not ArgType.ARRAY
             else f"array of {(spec.items or ArgType.STRING).value}"]
    if spec.required:
        facts.append("required")
    if spec.has_default:
        facts.append(f"default: {_shown(spec.default)}")
    if spec.enum:
        facts.append("one of: " + ", ".join(_shown(v) for v in spec.enum))
    if spec.minimum is not None:
        facts.append(f"min {spec.minimum:g}")
    if spec.maximum is not None:
        facts.append(f"max {spec.maximum:g}")
    if spec.pattern:
        facts.append(f"pattern {spec.pattern}")
    if spec.secret:
        facts.append("secret: delivered as /run/secrets/" + spec.name
                     + "; @PATH reads it from a file, - from standard input"
                     + (", and left out on a terminal it is asked for without echo"
                        if spec.required else ""))
    if spec.type is ArgType.ARRAY:
        facts.append("repeat the option for each element")
    if spec.type is ArgType.OBJECT:
        facts.append("JSON text")
    description = spec.description.strip()
    return (description + " " if description else "") + "[" + "; ".join(facts) + "]"


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return compact_json(value)
