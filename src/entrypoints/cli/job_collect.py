"""Every problem of a job's command line at once (SPEC section 2), in Cyclopts' words.

Cyclopts stops at the first option it refuses. The contract of ``job_parser`` is the loop
below: parse, drop the refused option (and its value), parse again, until the line parses.
``job_line`` replays that loop in one pass over the tokens, so that a line with N problems
costs one or two Cyclopts parses rather than N (each of which also grows with the line); the
loop then has the last word on the line as replayed, as it did on the whole line before.
"""

import re
from contextlib import suppress
from typing import Any, Sequence

from flwd.domain.errors import ArgProblem, ArgsInvalidError, UsageError
from flwd.domain.model import ArgType, JobSpec
from flwd.entrypoints.cli.grammar import Option
from flwd.entrypoints.cli.job_line import Known, Refusal, collapse, replay
from flwd.entrypoints.cli.spellings import negative_option_names, text_option_names

# a line this short is first parsed as it is: most lines parse, and replaying one costs about
# a parse (Cyclopts' argument collection); a longer one is replayed first (see job_line)
_SHORT_LINE = 32
_OPTION_IN_MESSAGE = re.compile(r"(--?[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?)")


def parse_collecting(app: Any, job: JobSpec, tokens: list[str], error: type[Exception],
                     run_options: Sequence[Option]) -> tuple[dict[str, Any], list[ArgProblem]]:
    """What Cyclopts binds once every unknown or repeated option (and every other refused
    one) is dropped, and the problem each of those is."""
    if len(tokens) <= _SHORT_LINE:
        with suppress(error):
            parsed = app(tokens)
            assert isinstance(parsed, dict)
            return parsed, []
    names = _Names(app, job, run_options)
    problems, tokens = _replayed(app, job, tokens, error, names)
    collapsed = _collapsed(app, tokens, error, names)
    if collapsed is not None:
        return collapsed, problems
    for _ in range(len(tokens) + 1):
        try:
            parsed = app(tokens)
            assert isinstance(parsed, dict)
            return parsed, problems
        except error as exc:
            converted = as_args_error(job, exc)
            remaining = _without_offender(tokens, exc)
            if not isinstance(converted, ArgsInvalidError) or remaining is None:
                if problems and isinstance(converted, ArgsInvalidError):
                    problems.extend(converted.problems)
                    raise ArgsInvalidError(problems, job=job.id) from None
                raise converted from None
            problems.extend(converted.problems)
            tokens = remaining
    raise ArgsInvalidError(problems, job=job.id)


def _replayed(app: Any, job: JobSpec, tokens: list[str], error: type[Exception],
              names: "_Names") -> tuple[list[ArgProblem], list[str]]:
    """The problems the loop would meet first and the line left after them (nothing, and the
    whole line, when the job's options are not all modelled by ``job_line``)."""
    from cyclopts.utils import is_option_like

    if not names.modelled:
        return [], tokens
    replayed = replay(names, tokens, is_option_like)
    if not names.modelled:
        return [], tokens
    problems: list[ArgProblem] = []
    words = _Words(app, job, error)
    for refusal in replayed.refusals:
        said = words.problems(refusal)
        if said is None:  # Cyclopts refuses it otherwise than modelled: the loop decides
            return [], tokens
        problems += said
    return problems, replayed.tokens


def _collapsed(app: Any, tokens: list[str], error: type[Exception],
               names: "_Names") -> dict[str, Any] | None:
    """What Cyclopts binds for *tokens*, parsing each array option once (``collapse``); None
    when that does not apply or Cyclopts disagrees with the model, for the loop to decide."""
    from cyclopts.utils import is_option_like

    collapsed = collapse(names, tokens, is_option_like) if names.modelled else None
    if collapsed is None:
        return None
    line, arrays = collapsed
    try:
        bound = app(line)
    except error:
        return None
    if not isinstance(bound, dict) or not names.modelled or any(
            bound.get(param) != values[:1] for param, values in arrays.items()):
        return None
    return {**bound, **arrays}


class _Names:
    """What Cyclopts' own matcher makes of an option name (cached: asked once a name)."""

    def __init__(self, app: Any, job: JobSpec, run_options: Sequence[Option]) -> None:
        self._collection = app.assemble_argument_collection()
        self._arrays = {identifier(s.name) for s in job.args if s.type is ArgType.ARRAY}
        self._booleans = {identifier(s.name) for s in job.args if s.type is ArgType.BOOLEAN}
        self._seen: dict[str, Known | None] = {}
        self.modelled = not any(option.repeatable for option in run_options)

    def __call__(self, name: str) -> Known | None:
        if name not in self._seen:
            try:
                argument, keys, implicit = self._collection.match(name)
            except ValueError:
                self._seen[name] = None
                return None
            if keys:  # a dict-like parameter: flwd declares none
                self.modelled = False
            param = str(argument.field_info.name)
            self._seen[name] = Known(param, flag=isinstance(implicit, bool),
                                     many=param in self._arrays,
                                     unsets=implicit is True and param in self._booleans)
        return self._seen[name]


def identifier(name: str) -> str:
    """The Python identifier an argument is declared to Cyclopts as; Cyclopts binds by it and
    ``job_parser`` maps it back (``db.host``: ``db_host``)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


class _Words:
    """Cyclopts' own error for each refusal, as the loop would have met it: made once per
    option name by a parse of that option alone (a few ms), then reworded for other values."""

    def __init__(self, app: Any, job: JobSpec, error: type[Exception]) -> None:
        self._app, self._job, self._error = app, job, error
        self._made: dict[tuple[str, str], Exception | None] = {}
        self._said: dict[Refusal, Sequence[ArgProblem] | None] = {}

    def problems(self, refusal: Refusal) -> Sequence[ArgProblem] | None:
        if refusal not in self._said:
            exc = self._error_for(refusal)
            converted = None if exc is None else as_args_error(self._job, exc)
            self._said[refusal] = (converted.problems if isinstance(converted, ArgsInvalidError)
                                   else None)
        return self._said[refusal]

    def _error_for(self, refusal: Refusal) -> Exception | None:
        kind, keyword, value = refusal
        by_name = kind in ("repeat", "missing")  # a few names: Cyclopts' very words for each
        key = (kind, "" if kind == "unknown" else keyword)  # unknown: the same suggestions
        if key not in self._made:
            self._made[key] = self._caught({
                "repeat": [keyword + "=1", keyword + "=1"],
                "missing": [keyword],
                "coercion": [f"{keyword}={value}"],
                "unknown": ["--", keyword],
            }[kind], kind)
        made = self._made[key]
        if made is not None and not by_name:  # reworded in place: converted at once
            fields = {"keyword": keyword, "source": "cli"} | ({"value": value} if value else {})
            made.token = type(made.token)(**fields)  # type: ignore[attr-defined]
        return made

    def _caught(self, tokens: list[str], kind: str) -> Exception | None:
        expected = {"repeat": "RepeatArgumentError", "missing": "MissingArgumentError",
                    "coercion": "CoercionError", "unknown": "UnknownOptionError"}[kind]
        try:
            self._app(tokens)
        except self._error as exc:
            return exc if type(exc).__name__ == expected else None
        return None


def _without_offender(tokens: list[str], exc: Exception) -> list[str] | None:
    """*tokens* without the option Cyclopts refused (and its value); None if not found."""
    token = getattr(exc, "token", None)
    keyword = getattr(token, "keyword", None) or getattr(exc, "keyword", None)
    if not keyword:
        return None
    repeated = type(exc).__name__ == "RepeatArgumentError"
    positions = [i for i, t in enumerate(tokens) if t == keyword or t.startswith(keyword + "=")]
    if type(exc).__name__ == "MissingArgumentError":  # the occurrence that lacks its value
        positions = [i for i in positions if "=" not in tokens[i] and
                     (i + 1 == len(tokens) or tokens[i + 1].startswith("-"))] or positions
    if not positions or (repeated and len(positions) < 2):
        return None
    at = positions[-1] if repeated else positions[0]
    end = at + 1
    if "=" not in tokens[at] and end < len(tokens) and not tokens[end].startswith("-"):
        end += 1
    return tokens[:at] + tokens[end:]


def as_args_error(job: JobSpec, exc: Exception) -> Exception:
    """Cyclopts' tokenising errors, in the contract's vocabulary."""
    name = type(exc).__name__
    text = str(exc).strip()  # Cyclopts renders it anew each time: the bulk of the cost
    message = text.splitlines()[0] if text else name
    option = _OPTION_IN_MESSAGE.search(message)
    arg = option.group(1).lstrip("-") if option else ""
    if name == "UnknownOptionError" or name == "UnusedCliTokensError":
        tokens = getattr(exc, "unused_tokens", None) or []
        if name == "UnusedCliTokensError" and tokens:
            return UsageError(f"unexpected argument(s) {' '.join(map(str, tokens))} for job {job.id}; "
                              "arguments are given as --NAME VALUE")
        keyword = getattr(getattr(exc, "token", None), "keyword", None)
        arg = keyword.lstrip("-") if isinstance(keyword, str) and keyword.strip("-") else arg
        return ArgsInvalidError([ArgProblem(arg=arg, code="unknown", message=message)], job=job.id)
    if name == "RepeatArgumentError":
        return ArgsInvalidError([ArgProblem(arg=arg, code="type", message="given more than once")],
                                job=job.id)
    if name == "MissingArgumentError":
        return ArgsInvalidError([ArgProblem(arg=arg, code="type", message="option needs a value")],
                                job=job.id)
    if name == "CoercionError":  # only flags are coerced by Cyclopts: --loud=maybe
        return ArgsInvalidError([_flag_problem(job, getattr(exc, "token", None), arg)], job=job.id)
    return UsageError(message)


def _flag_problem(job: JobSpec, token: object, arg: str) -> ArgProblem:
    """A flag given a value that is not a boolean; a secret's value is never shown."""
    keyword = str(getattr(token, "keyword", "") or "")
    value = str(getattr(token, "value", ""))
    for spec in job.args:
        if keyword in text_option_names(spec) + negative_option_names(spec):
            shown = "(value hidden)" if spec.secret else f"got {value!r}"
            return ArgProblem(arg=spec.name, code="type",
                              message=f"expected a boolean (true or false), {shown}")
    return ArgProblem(arg=arg, code="type", message="expected a boolean (true or false)")
