"""What Tab offers: the words typed so far in, the candidates for the last one out.

Read from the declarations in ``grammar`` and from the catalogue through a ``JobSource``, so
that the shell's callback (``flwd :__complete WORDS...``, see ``completion_scripts``) imports
no parser library, no container, no runtime and no store.
"""

from __future__ import annotations

from typing import Iterable, NamedTuple, Protocol, Sequence

from flwd.domain.model import ArgSpec, ArgType, JobSpec, Profile, RunStatus
from flwd.entrypoints.cli.grammar import (
    COMMANDS,
    COMMANDS_BY_NAME,
    GLOBAL_OPTIONS,
    HELP,
    RUN_OPTIONS,
    VERSION,
    Option,
)
from flwd.entrypoints.cli.spellings import negative_option_names, text_option_names

SHELLS = ("bash", "zsh", "fish")
COMPLETION = ":completion"


class Candidate(NamedTuple):
    value: str
    help: str = ""


class Completion(NamedTuple):
    """*kind*: ``words`` (the candidates), ``files`` or ``dirs`` (the shell completes paths)."""

    candidates: tuple[Candidate, ...] = ()
    kind: str = "words"


class JobSource(Protocol):
    """The catalogue as completion needs it; read only when a candidate depends on it."""

    def jobs(self) -> Sequence[JobSpec]:
        """Every valid job (its arguments may be left out: ``job`` gives them)."""
        ...

    def job(self, job_id: str) -> JobSpec | None:
        """The job *job_id* with its arguments; None if there is none."""
        ...


class _Scan(NamedTuple):
    """Where the words before the current one left off."""

    values: dict[str, list[str]]  # option name -> the values given to it
    pending: Option | None  # an option whose value is the current word
    positionals: tuple[str, ...]
    stopped: bool  # a flag after which nothing is completed (--help, --version, --)
    end: int  # the index of the first word not scanned


_PATH_VALUES = {"--jobs-dir": "dirs", "--data-dir": "dirs", "--config": "files"}
_FIXED_VALUES = {
    "--runtime": ("auto", "podman", "docker"),
    "--profile": tuple(profile.value for profile in Profile),
    "--status": tuple(status.value for status in RunStatus),
}


def complete(words: Sequence[str], source_for: JobSourceFactory) -> Completion:
    """*words*: what follows ``flwd`` on the command line, the last one being the word under
    the cursor (``""`` after a space). *source_for* makes the catalogue of the global options
    typed (``--jobs-dir``, ``--config``...), given as ``{name: [values]}``."""
    *before, current = words or ("",)
    scan = _scan(before, GLOBAL_OPTIONS, flags=(HELP, VERSION), positionals=1)
    if scan.stopped:
        return Completion()
    if not scan.positionals:
        source = _Lazy(source_for, scan.values)
        return _option_value(scan.pending, current, source) or _leading(current, source)
    name, rest = scan.positionals[0], before[scan.end:]
    source = _Lazy(source_for, scan.values)
    if name.startswith(":"):
        return _command(name, rest, current, source)
    return _job(name, rest, current, source, RUN_OPTIONS)


class JobSourceFactory(Protocol):
    def __call__(self, globals_given: dict[str, list[str]]) -> JobSource: ...


class _Lazy:
    """The catalogue, made on first use and only once."""

    def __init__(self, factory: JobSourceFactory, given: dict[str, list[str]]) -> None:
        self._factory, self._given = factory, given
        self._source: JobSource | None = None

    def _made(self) -> JobSource:
        if self._source is None:
            self._source = self._factory(self._given)
        return self._source

    def jobs(self) -> Sequence[JobSpec]:
        return self._made().jobs()

    def job(self, job_id: str) -> JobSpec | None:
        return self._made().job(job_id)


def _scan(words: Sequence[str], options: Iterable[Option], *, flags: Sequence[Option] = (HELP,),
          positionals: int = 0) -> _Scan:
    """Options and their values up to *positionals* operands (leniently: an unknown option
    is skipped)."""
    by_name = {name: option for option in options for name in option.names}
    flag_names = {name for flag in flags for name in flag.names}
    values: dict[str, list[str]] = {}
    found: list[str] = []
    pending: Option | None = None
    for index, word in enumerate(words):
        if pending is not None:
            values.setdefault(pending.name, []).append(word)
            pending = None
        elif word in flag_names or word == "--":
            return _Scan(values, None, tuple(found), stopped=True, end=index)
        elif word.startswith("-"):
            name, eq, inline = word.partition("=")
            option = by_name.get(name)
            if option is None:
                continue
            given = values.setdefault(option.name, [])
            if eq:
                given.append(inline)
            elif not option.flag:
                pending = option
        else:
            found.append(word)
            if len(found) >= positionals > 0:
                return _Scan(values, None, tuple(found), stopped=False, end=index + 1)
    return _Scan(values, pending, tuple(found), stopped=False, end=len(words))


def _leading(current: str, source: _Lazy) -> Completion:
    if current.startswith("-"):
        return _options(current, (*GLOBAL_OPTIONS, HELP, VERSION), given={})
    commands = [Candidate(c.name, c.summary) for c in COMMANDS]
    jobs = [Candidate(job.id, job.name or job.description.split("\n")[0])
            for job in source.jobs()] if not current.startswith(":") else []
    return _matching(current, (*commands, *jobs))


def _command(name: str, rest: Sequence[str], current: str, source: _Lazy) -> Completion:
    command = COMMANDS_BY_NAME.get(name)
    if command is None:
        return Completion()
    if command.takes_job:  # :plan JOB [--ARG ...]
        scan = _scan(rest, (), positionals=1)
        if scan.stopped:
            return Completion()
        if scan.positionals:
            return _job(scan.positionals[0], rest[scan.end:], current, source,
                        command.run_options or ())
        return _jobs_or_help(current, source)
    scan = _scan(rest, command.options)
    if scan.stopped:
        return Completion()
    value = _option_value(scan.pending, current, source)
    if value is not None:
        return value
    if current.startswith("-"):
        return _options(current, (*command.options, HELP), scan.values)
    if name == COMPLETION and not scan.positionals:
        return _matching(current, [Candidate(shell) for shell in SHELLS])
    return Completion()


def _jobs_or_help(current: str, source: _Lazy) -> Completion:
    if current.startswith("-"):
        return _options(current, (HELP,), given={})
    return _matching(current, [Candidate(job.id, job.name) for job in source.jobs()])


def _option_value(option: Option | None, current: str, source: _Lazy) -> Completion | None:
    """Candidates for the value of *option* (the previous word), or of ``--option=`` typed
    in *current*; None when the current word is no option's value."""
    prefix = ""
    if option is None and current.startswith("--") and "=" in current:
        name, _, current = current.partition("=")
        option = next((o for o in (*GLOBAL_OPTIONS, *_all_command_options())
                       if name in o.names and not o.flag), None)
        prefix = name + "="
    if option is None:
        return None
    if option.name in _PATH_VALUES and not prefix:
        return Completion(kind=_PATH_VALUES[option.name])
    if option.name == "--job":
        values = [Candidate(job.id, job.name) for job in source.jobs()]
    else:
        values = [Candidate(value) for value in _FIXED_VALUES.get(option.name, ())]
    return _matching(current, values, prefix=prefix)


def _all_command_options() -> tuple[Option, ...]:
    return tuple(o for c in COMMANDS for o in (*c.options, *(c.run_options or ())))


def _job(job_id: str, rest: Sequence[str], current: str, source: _Lazy,
         run_options: Sequence[Option]) -> Completion:
    job = source.job(job_id)
    if job is None:
        return Completion()
    options = {_as_option(spec): spec for spec in job.args}
    scan = _scan(rest, (*options, *run_options))
    if scan.stopped:
        return Completion()
    if scan.pending is not None:
        return _arg_value(options.get(scan.pending), scan.pending, current, "")
    if current.startswith("--") and "=" in current:
        name, _, value = current.partition("=")
        option = next((o for o in (*options, *run_options) if name in o.names), None)
        if option is None:
            return Completion()
        return _arg_value(options.get(option), option, value, name + "=")
    return _options(current, (*options, *run_options, HELP), scan.values,
                    repeatable={o.name for o, spec in options.items() if spec.type is ArgType.ARRAY})


def _as_option(spec: ArgSpec) -> Option:
    """*spec* as an option: its spellings, and a flag for a boolean (``--no-`` forms too)."""
    names = text_option_names(spec) + negative_option_names(spec)
    return Option(name=names[0], aliases=names[1:], help=_summary(spec),
                  metavar="" if spec.type is ArgType.BOOLEAN else spec.type.value.upper())


def _arg_value(spec: ArgSpec | None, option: Option, current: str, prefix: str) -> Completion:
    if spec is None:  # a run option: --profile
        fixed = _FIXED_VALUES.get(option.name, ())
        return _matching(current, [Candidate(value) for value in fixed], prefix=prefix)
    values: Iterable[object] = spec.enum or ()
    if spec.type is ArgType.BOOLEAN:
        values = (True, False)
    return _matching(current, [Candidate(_shown(value)) for value in values], prefix=prefix)


def _options(current: str, options: Iterable[Option], given: dict[str, list[str]], *,
             repeatable: set[str] | frozenset[str] = frozenset()) -> Completion:
    """Each option once, by its first spelling that matches *current* (dashed first), and
    its ``--no-`` form apart; options already given are left out unless they repeat."""
    found: list[Candidate] = []
    for option in options:
        if option.name in given and not (option.repeatable or option.name in repeatable):
            continue
        positive = [n for n in option.names if not n.startswith(("--no-", "--no_"))]
        negative = [n for n in option.names if n.startswith(("--no-", "--no_"))]
        for group in (positive, negative):
            spelling = next((n for n in group if n.startswith(current)), None)
            if spelling is not None:
                found.append(Candidate(spelling, option.help))
    return Completion(tuple(found))


def _matching(current: str, candidates: Iterable[Candidate], *, prefix: str = "") -> Completion:
    return Completion(tuple(Candidate(prefix + c.value, c.help) for c in candidates
                            if c.value.startswith(current) and _one_line(c.value)))


def _one_line(value: str) -> bool:
    return value.isprintable() and "\t" not in value


def _summary(spec: ArgSpec) -> str:
    text = spec.description.strip().split("\n")[0]
    return f"{spec.type.value}{', required' if spec.required else ''}" + (f": {text}" if text else "")


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)
