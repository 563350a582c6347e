"""A job's argument contract as an HTML form, and a submitted form back to contract input.

The form carries text; the argument contract itself (``check_args(from_text=True)``, the CLI's
coercion) decides what it means, so the console accepts exactly what the CLI accepts. A secret
is never given a value to show: not its default (it has none), not a query parameter, not what
was submitted before a validation error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Protocol

from flwd.domain.errors import ArgProblem
from flwd.domain.model import ArgSpec, ArgType, JobSpec

PREFIX = "arg."  # a form field holding an argument's value
SEEN_PREFIX = "seen."  # marks a checkbox as shown, so an unchecked one means false
PROFILES = ("secure", "permissive", "disabled")


class FormData(Protocol):
    """What a form or a query string offers: every value given for a name."""

    def getall(self, key: str) -> list[Any]: ...

    def __contains__(self, key: object) -> bool: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ArgField:
    """One argument as the template draws it."""

    spec: ArgSpec
    control: str  # text | number | checkbox | select | repeat | choices | json | secret
    values: tuple[str, ...] = ()  # what to show (never for a secret)
    problems: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return PREFIX + self.spec.name

    @property
    def dom_id(self) -> str:
        return "arg-" + "".join(c if c.isalnum() else "-" for c in self.spec.name)

    @property
    def value(self) -> str:
        return self.values[0] if self.values else ""

    @property
    def step(self) -> str:
        return "1" if self.spec.type is ArgType.INTEGER or self.spec.items is ArgType.INTEGER \
            else "any"

    @property
    def input_type(self) -> str:
        """The HTML input type of a text-like control (and of each element of an array)."""
        kind = self.spec.items if self.spec.type is ArgType.ARRAY else self.spec.type
        return "number" if kind in (ArgType.INTEGER, ArgType.NUMBER) else "text"

    @property
    def bound_min(self) -> str:
        return _bound(self.spec.minimum)

    @property
    def bound_max(self) -> str:
        return _bound(self.spec.maximum)

    @property
    def options(self) -> tuple[str, ...]:
        return tuple(_text(choice) for choice in self.spec.enum or ())

    @property
    def checked(self) -> bool:
        return self.value.strip().lower() in ("true", "yes", "1", "on")

    @property
    def default_text(self) -> str:
        return _text(self.spec.default) if self.spec.has_default else ""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobForm:
    """The whole form: one field per argument, the profile asked for, and problems that belong
    to no field (an unknown argument)."""

    job: JobSpec
    fields: tuple[ArgField, ...]
    profile: str = ""
    general: tuple[str, ...] = field(default=())


def control_of(spec: ArgSpec) -> str:
    if spec.secret:
        return "secret"
    if spec.type is ArgType.BOOLEAN:
        return "checkbox"
    if spec.type is ArgType.ARRAY:
        return "choices" if spec.enum is not None else "repeat"
    if spec.type is ArgType.OBJECT:
        return "json"
    if spec.enum is not None:
        return "select"
    return "number" if spec.type in (ArgType.INTEGER, ArgType.NUMBER) else "text"


def blank_form(job: JobSpec, given: FormData | None = None, *, query: bool = False) -> JobForm:
    """The form of *job*: defaults, overridden by *given* (a query string when *query*: its
    keys are the bare argument names). Secrets stay empty whatever was given."""
    fields = []
    for spec in job.args:
        values = _default_values(spec)
        if given is not None and not spec.secret:
            shown = _given_values(spec, given, PREFIX if not query else "", query=query)
            if shown is not None:
                values = shown
        fields.append(ArgField(spec=spec, control=control_of(spec),
                               values=() if spec.secret else values))
    profile = _first(given, "profile") if given is not None else ""
    return JobForm(job=job, fields=tuple(fields), profile=profile if profile in PROFILES else "")


def with_problems(form: JobForm, problems: Iterable[ArgProblem]) -> JobForm:
    """*form* with each problem beside its argument; problems of no argument go on top."""
    by_arg: dict[str, list[str]] = {}
    general: list[str] = []
    names = {spec.name for spec in form.job.args}
    for problem in problems:
        if problem.arg in names:
            by_arg.setdefault(problem.arg, []).append(problem.message)
        else:
            general.append(f"{problem.arg}: {problem.message}")
    fields = tuple(ArgField(spec=f.spec, control=f.control, values=f.values,
                            problems=tuple(by_arg.get(f.spec.name, ())))
                   for f in form.fields)
    return JobForm(job=form.job, fields=fields, profile=form.profile,
                   general=form.general + tuple(general))


def contract_input(job: JobSpec, data: FormData) -> dict[str, object]:
    """The submitted form as CLI-style input of the argument contract: an empty field is an
    absent argument; a shown checkbox left unchecked is false; an array is its non-empty
    inputs; an object is its JSON text."""
    raw: dict[str, object] = {}
    for spec in job.args:
        values = _values(data, PREFIX + spec.name)
        if spec.type is ArgType.BOOLEAN and not spec.secret:
            if values:
                raw[spec.name] = "true"
            elif SEEN_PREFIX + spec.name in data:
                raw[spec.name] = "false"
        elif spec.type is ArgType.ARRAY:
            items = [v for v in values if v.strip()]
            if items:
                raw[spec.name] = items
        elif values and values[0].strip():
            raw[spec.name] = values[0]
    return raw


def requested_profile(data: FormData) -> str | None:
    profile = _first(data, "profile")
    return profile if profile in PROFILES else None


def _given_values(spec: ArgSpec, data: FormData, prefix: str, *, query: bool) -> tuple[str, ...] | None:
    key = prefix + spec.name
    values = _values(data, key)
    if spec.type is ArgType.BOOLEAN:
        if values:
            return ("true",) if values[0].strip().lower() in ("true", "yes", "1", "on") else ("false",)
        if not query and SEEN_PREFIX + spec.name in data:
            return ("false",)
        return None
    if not values:
        return None
    if spec.type is ArgType.ARRAY:
        return tuple(v for v in values if v.strip()) or None
    return (values[0],)


def _default_values(spec: ArgSpec) -> tuple[str, ...]:
    if not spec.has_default or spec.secret:
        return ()
    if spec.type is ArgType.ARRAY and isinstance(spec.default, list):
        return tuple(_text(item) for item in spec.default)
    return (_text(spec.default),)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _bound(limit: float | None) -> str:
    if limit is None:
        return ""
    return str(int(limit)) if float(limit).is_integer() and abs(limit) < 1e16 else repr(limit)


def _first(data: FormData | None, key: str) -> str:
    if data is None:
        return ""
    values = _values(data, key)
    return values[0] if values else ""


def _values(data: FormData, key: str) -> list[str]:
    """Every text given for *key* (an uploaded file is not an argument value)."""
    return [v for v in data.getall(key) if isinstance(v, str)] if key in data else []


def prefill_query(values: Mapping[str, object]) -> str:
    """A query string that pre-fills a job's form with a run's *values* (a secret, stored as
    ``<secret>``, is left out), for the "run again" link of a run page."""
    from urllib.parse import urlencode

    pairs: list[tuple[str, str]] = []
    for name, value in values.items():
        if value == "<secret>":
            continue
        if isinstance(value, list):
            pairs.extend((name, _text(item)) for item in value)
        else:
            pairs.append((name, _text(value)))
    return urlencode(pairs)
