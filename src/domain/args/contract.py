"""The argument contract: check and coerce a job's typed arguments, for CLI and API alike."""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Iterable, Mapping

from flwd.domain.args.matching import PatternMatcher
from flwd.domain.errors import ArgProblem, ArgsInvalidError
from flwd.domain.model import ArgSpec, ArgType
from flwd.domain.suggest import did_you_mean
_ABSENT = object()
_NOTHING = object()
_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_NOUNS = {
    ArgType.STRING: "a string",
    ArgType.INTEGER: "an integer",
    ArgType.NUMBER: "a number",
    ArgType.BOOLEAN: "a boolean (true or false)",
    ArgType.ARRAY: "an array",
    ArgType.OBJECT: "a JSON object",
}


class _Bad(Exception):
    """One problem with one value; ``check_args`` turns it into an ``ArgProblem``."""

    def __init__(self, code: str, text: str, value: object = _NOTHING, where: str = "") -> None:
        super().__init__(text)
        self.code, self.text, self.value, self.where = code, text, value, where

    def problem(self, spec: ArgSpec) -> ArgProblem:
        message = self.where + self.text
        if self.value is not _NOTHING:
            message += " (value hidden)" if spec.secret else f", got {_show(self.value)}"
        return ArgProblem(arg=spec.name, code=self.code, message=message)


def check_args(
    specs: tuple[ArgSpec, ...], raw: Mapping[str, object], *, from_text: bool, job: str = ""
) -> dict[str, object]:
    """Check *raw* against *specs* and return the complete, coerced argument values.

    Keys match argument names with ``-`` and ``_`` treated alike. Absent optional
    arguments take a deep copy of their default, or stay absent without one; ``None``
    counts as absent. ``from_text=True`` (CLI) coerces text (``str``, ``list[str]``
    from repeated options, ``bool`` from flags, ``no-<name>`` keys for negated
    flags; an empty list counts as absent); ``from_text=False`` (API) demands the
    right JSON types and never coerces. Then ``enum``, ``minimum``/``maximum``
    (numbers) and ``pattern`` (strings, matched whole, all matches of one call within
    ``matching.PATTERN_TIME_BUDGET``) apply, to each element of an array. Raises ``ArgsInvalidError`` (``args.invalid``) listing every problem
    at once, one per argument, codes required|type|enum|range|pattern|unknown;
    messages never contain the value of a secret argument.
    """
    by_key = {_key(spec.name): spec for spec in specs}
    given: dict[str, list[tuple[str, object]]] = {}
    problems: list[ArgProblem] = []
    for key, value in raw.items():
        spec, value = _match(by_key, str(key), value, from_text)
        if spec is None:
            problems.append(_unknown(str(key), specs))
        else:
            given.setdefault(spec.name, []).append((str(key), value))
    values: dict[str, object] = {}
    matcher = PatternMatcher()
    for spec in specs:
        try:
            value = _resolve(spec, given.get(spec.name, []), from_text, matcher)
        except _Bad as bad:
            problems.append(bad.problem(spec))
            continue
        if value is not _ABSENT:
            values[spec.name] = value
    if problems:
        raise ArgsInvalidError(problems, job=job)
    return values


def _key(name: str) -> str:
    return name.replace("-", "_")


def _match(
    by_key: Mapping[str, ArgSpec], key: str, value: object, from_text: bool
) -> tuple[ArgSpec | None, object]:
    normal = _key(key)
    spec = by_key.get(normal)
    if spec is not None or not from_text or not normal.startswith("no_"):
        return spec, value
    spec = by_key.get(normal[3:])
    if spec is None or spec.type is not ArgType.BOOLEAN:
        return None, value
    return spec, _negate(value)


def _negate(value: object) -> object:
    if isinstance(value, (list, tuple)):
        return [_negate(item) for item in value]
    if isinstance(value, bool):
        return not value
    if isinstance(value, str) and value.strip().lower() in _BOOLEANS:
        return not _BOOLEANS[value.strip().lower()]
    return value


def _unknown(key: str, specs: tuple[ArgSpec, ...]) -> ArgProblem:
    names = [_key(spec.name) for spec in specs]
    hint = did_you_mean(_key(key), names)
    if not hint:
        hint = ("; this job takes: " + ", ".join(spec.name for spec in specs) if names
                else "; this job takes no arguments")
    return ArgProblem(arg=key, code="unknown", message="unknown argument" + hint)


def _resolve(spec: ArgSpec, entries: list[tuple[str, object]], from_text: bool,
             matcher: PatternMatcher) -> object:
    given = _merge_text(spec, entries) if from_text else _merge_json(entries)
    if given is _ABSENT:
        if spec.required:
            raise _Bad("required", "this argument is required")
        return copy.deepcopy(spec.default) if spec.has_default else _ABSENT
    if from_text:
        value = _text_value(spec, given)
    else:
        value = _json_value(spec.type, spec.items or ArgType.STRING, given)
    _check_constraints(spec, value, matcher)
    return value


def _merge_json(entries: list[tuple[str, object]]) -> object:
    present = [(key, value) for key, value in entries if value is not None]
    if len(present) > 1:
        keys = " and ".join(repr(key) for key, _ in present)
        raise _Bad("type", f"given more than once (as {keys})")
    return present[0][1] if present else _ABSENT


def _merge_text(spec: ArgSpec, entries: list[tuple[str, object]]) -> object:
    items: list[object] = []
    for _, value in entries:
        if isinstance(value, (list, tuple)):
            items.extend(item for item in value if item is not None)
        elif value is not None:
            items.append(value)
    if not items:
        return _ABSENT
    if spec.type is ArgType.ARRAY:
        return items
    if len(items) > 1:
        raise _Bad("type", f"given more than once ({len(items)} values)")
    return items[0]


def _text_value(spec: ArgSpec, given: object) -> object:
    if spec.type is not ArgType.ARRAY:
        return _from_text(spec.type, given)
    assert isinstance(given, list)
    if len(given) == 1 and isinstance(given[0], str) and given[0].lstrip().startswith("["):
        decoded = _decode_json(given[0])
        if isinstance(decoded, list):
            given = decoded
    elements: list[object] = []
    for index, element in enumerate(given):
        try:
            elements.append(_from_text(spec.items or ArgType.STRING, element))
        except _Bad as bad:
            raise _Bad(bad.code, bad.text, bad.value, f"element {index}: ") from None
    return elements


def _from_text(kind: ArgType, value: object) -> object:
    if isinstance(value, bool) and kind is not ArgType.BOOLEAN:
        raise _Bad("type", f"expected {_NOUNS[kind]}, got an option without a value")
    if not isinstance(value, str):
        return _json_value(kind, None, value)
    text = value.strip()
    if kind is ArgType.STRING:
        return _json_value(kind, None, value)
    if kind is ArgType.INTEGER and _INTEGER.fullmatch(text):
        try:
            return int(text)
        except ValueError:  # more digits than int() will read
            raise _Bad("type", "expected an integer of reasonable size", value) from None
    if kind is ArgType.NUMBER and _NUMBER.fullmatch(text):
        try:
            number = int(text) if _INTEGER.fullmatch(text) else float(text)
        except ValueError:  # more digits than int() will read
            raise _Bad("type", "expected a number of reasonable size", value) from None
        return _json_value(kind, None, number)
    if kind is ArgType.BOOLEAN and text.lower() in _BOOLEANS:
        return _BOOLEANS[text.lower()]
    if kind in (ArgType.ARRAY, ArgType.OBJECT):
        decoded = _decode_json(value)
        if decoded is not _NOTHING:
            return _json_value(kind, None, decoded)
        raise _Bad("type", f"expected {_NOUNS[kind]} written as JSON", value)
    raise _Bad("type", f"expected {_NOUNS[kind]}", value)


def _decode_json(text: str) -> object:
    def refuse(constant: str) -> object:
        raise ValueError(constant)

    try:
        return json.loads(text, parse_constant=refuse)
    except (ValueError, RecursionError):
        return _NOTHING


def _json_value(kind: ArgType, items: ArgType | None, value: object) -> object:
    if kind is ArgType.STRING and isinstance(value, str):
        _check_text(value)
        return value
    if kind is ArgType.INTEGER and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is ArgType.NUMBER and isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise _Bad("type", "expected a finite number", value)
        return value
    if kind is ArgType.BOOLEAN and isinstance(value, bool):
        return value
    if kind is ArgType.ARRAY and isinstance(value, (list, tuple)):
        return _json_array(items, value)
    if kind is ArgType.OBJECT and isinstance(value, dict):
        _check_plain_json(value)
        return value
    raise _Bad("type", f"expected {_NOUNS[kind]}", value)


def _json_array(items: ArgType | None, value: list[object] | tuple[object, ...]) -> list[object]:
    if items is None:
        _check_plain_json(value)
        return list(value)
    elements: list[object] = []
    for index, element in enumerate(value):
        try:
            elements.append(_json_value(items, None, element))
        except _Bad as bad:
            raise _Bad(bad.code, bad.text, bad.value, f"element {index}: ") from None
    return elements


def _check_text(text: str) -> None:
    if text.isascii():  # the common case; only non-ASCII text can hold a lone surrogate
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _Bad("type", "expected valid Unicode text") from None


def _check_plain_json(value: object) -> None:
    """Refuse what JSON cannot carry (non-finite numbers, non-text keys, other objects)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if not all(isinstance(key, str) for key in item):
                raise _Bad("type", "expected JSON data, found a key that is not text")
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise _Bad("type", "expected JSON data, found a non-finite number")
        elif isinstance(item, str):
            _check_text(item)
        elif item is not None and not isinstance(item, (bool, int, float)):
            raise _Bad("type", f"expected JSON data, found a {type(item).__name__}")


def _check_constraints(spec: ArgSpec, value: object, matcher: PatternMatcher) -> None:
    if spec.type is ArgType.STRING and isinstance(value, str) and "\x00" in value:
        raise _Bad("type", "must not contain NUL characters")
    if spec.type is not ArgType.ARRAY:
        _check_element(spec, value, matcher)
        return
    assert isinstance(value, list)
    for index, element in enumerate(value):
        try:
            _check_element(spec, element, matcher)
        except _Bad as bad:
            raise _Bad(bad.code, bad.text, bad.value, f"element {index}: ") from None


def _check_element(spec: ArgSpec, value: object, matcher: PatternMatcher) -> None:
    if spec.enum is not None and not any(same_json_value(value, allowed) for allowed in spec.enum):
        allowed = ", ".join(_show(option) for option in spec.enum) or "(nothing)"
        raise _Bad("enum", f"must be one of {allowed}", value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        _check_range(spec, value)
    if isinstance(value, str) and spec.pattern is not None:
        mismatch = matcher.mismatch(spec.pattern, value)
        if mismatch is not None:
            message, show_value = mismatch
            raise _Bad("pattern", message, value if show_value else _NOTHING)


def same_json_value(value: object, allowed: object) -> bool:
    """Equal as JSON values: ``true`` is not ``1`` (Python's ``True == 1`` notwithstanding)."""
    return isinstance(value, bool) == isinstance(allowed, bool) and value == allowed


def _check_range(spec: ArgSpec, value: int | float) -> None:
    low, high = spec.minimum, spec.maximum
    if (low is None or value >= low) and (high is None or value <= high):
        return
    if low is not None and high is not None:
        rule = f"must be between {_bound(low)} and {_bound(high)}"
    elif low is not None:
        rule = f"must be at least {_bound(low)}"
    else:
        rule = f"must be at most {_bound(high)}"
    raise _Bad("range", rule, value)


def _bound(limit: float | None) -> str:
    if isinstance(limit, float) and limit.is_integer() and abs(limit) < 1e16:
        return str(int(limit))
    return _show(limit)


def _show(value: object) -> str:
    """A short, readable rendering of a (non-secret) value for messages."""
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, int):
        return str(value) if value.bit_length() < 200 else "a very large integer"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"
