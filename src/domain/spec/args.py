"""Parsing of a job spec's ``args:`` list into validated ``ArgSpec`` values (SPEC sections 1-3)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping  # isinstance against typing.Mapping costs ~35 us a call

from flwd.domain.args.contract import same_json_value
from flwd.domain.errors import SpecInvalidError
from flwd.domain.model import NO_DEFAULT, ArgSpec, ArgType, env_name
from flwd.domain.spec.patterns import Fail as _Fail
from flwd.domain.spec.patterns import check_default_pattern, parse_pattern

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*\Z")
_SAFE_FILE_NAME = re.compile(r"^[A-Za-z0-9_.-]+\Z")
RESERVED_ARG_NAMES = frozenset({"profile", "json", "detach", "help"})
_SCALARS = (ArgType.STRING, ArgType.INTEGER, ArgType.NUMBER, ArgType.BOOLEAN)
_NUMERIC = (ArgType.INTEGER, ArgType.NUMBER)
_KNOWN_KEYS = frozenset(
    {
        "name", "type", "required", "default", "description", "items", "items_type",
        "minimum", "maximum", "enum", "pattern", "format", "secret",
    }
)
_FORMATS = ("secret",)
_MAX_SECRET_NAME = 128


def spec_error(spec_path: str, field: str, message: str) -> SpecInvalidError:
    """``SpecInvalidError`` whose detail reads ``<file>: <field>: <message>``."""
    return SpecInvalidError(f"{spec_path}: {field}: {message}", file=spec_path, field=field)


def _type_list(types: tuple[ArgType, ...] | type[ArgType]) -> str:
    return ", ".join(t.value for t in types)


def matches_type(value: object, arg_type: ArgType, items: ArgType | None = None) -> bool:
    """True when *value* (as parsed from YAML/JSON) is a legal value of *arg_type*."""
    if arg_type is ArgType.STRING:
        return isinstance(value, str)
    if arg_type is ArgType.BOOLEAN:
        return isinstance(value, bool)
    if arg_type is ArgType.INTEGER:
        return isinstance(value, int) and not isinstance(value, bool)
    if arg_type is ArgType.NUMBER:
        return (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
        )
    if arg_type is ArgType.ARRAY:
        if not isinstance(value, list):
            return False
        return items is None or all(matches_type(v, items) for v in value)
    return isinstance(value, dict) and all(isinstance(k, str) for k in value)


def parse_arg_specs(raw: object, *, spec_path: str, field: str = "args") -> tuple[ArgSpec, ...]:
    """Validate the ``args:`` list of a spec and return its ``ArgSpec`` values in order.

    ``None`` means no arguments. Every rule of SPEC sections 1-3 is enforced: names are
    well formed, unique (also after mapping to ``ARG_<NAME>``) and not reserved CLI run
    options; types are known; defaults, enums and ranges agree with the type; secrets
    have safe file names. The first problem found raises ``SpecInvalidError`` (code
    ``spec.invalid``) whose detail starts with ``<spec_path>: <field>[i].<key>:``.
    """
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise spec_error(spec_path, field, f"must be a list of arguments, not {_kind(raw)}")
    specs: list[ArgSpec] = []
    seen: dict[str, tuple[int, str]] = {}
    for index, item in enumerate(raw):
        where = f"{field}[{index}]"
        spec = _parse_one(item, spec_path=spec_path, where=where)
        previous = seen.get(spec.env_name)
        if previous is not None:
            other_index, other_name = previous
            raise spec_error(
                spec_path,
                f"{where}.name",
                f"duplicate argument name {spec.name!r}: collides with {field}[{other_index}] "
                f"{other_name!r} (both become {spec.env_name} and the same CLI option)",
            )
        seen[spec.env_name] = (index, spec.name)
        specs.append(spec)
    _check_negations(specs, spec_path=spec_path, field=field)
    return tuple(specs)


def _check_negations(specs: list[ArgSpec], *, spec_path: str, field: str) -> None:
    """A boolean ``loud`` owns ``--no-loud`` on the CLI, so no argument may be called ``no-loud``."""
    booleans = {env_name(s.name): s.name for s in specs if s.type is ArgType.BOOLEAN}
    for index, spec in enumerate(specs):
        if spec.name[:3].lower() in ("no-", "no_"):
            owner = booleans.get(env_name(spec.name[3:]))
            if owner is not None:
                raise spec_error(
                    spec_path,
                    f"{field}[{index}].name",
                    f"{spec.name!r} collides with --no-{owner}, the negation of boolean {owner!r}",
                )


def _parse_one(item: object, *, spec_path: str, where: str) -> ArgSpec:
    def fail(key: str, message: str) -> SpecInvalidError:
        return spec_error(spec_path, f"{where}.{key}" if key else where, message)

    if not isinstance(item, Mapping):
        raise fail("", f"must be a mapping with name and type, not {_kind(item)}")
    unknown = sorted(str(k) for k in item if k not in _KNOWN_KEYS and not str(k).startswith("x-"))
    if unknown:
        raise fail(unknown[0], f"unknown key (expected one of {', '.join(sorted(_KNOWN_KEYS))})")
    name = _parse_name(item.get("name"), fail)
    _check_magnitudes(item, fail)
    arg_type = _parse_type(item.get("type"), "type", fail, ArgType)
    required = _optional_bool(item, "required", fail)
    description = item.get("description")
    if description is None:
        description = ""
    elif not isinstance(description, str):
        raise fail("description", f"must be a string, not {_kind(description)}")
    items = _parse_items(item, arg_type, fail)
    minimum, maximum = _parse_range(item, arg_type, fail)
    enum = _parse_enum(item.get("enum"), arg_type, items, fail)
    pattern = parse_pattern(item.get("pattern"), arg_type, fail)
    secret = _parse_secret(item, name, arg_type, fail)
    # `default:` left empty is YAML null, which no argument type admits: read it as absent.
    default = item["default"] if item.get("default") is not None else NO_DEFAULT
    if default is not NO_DEFAULT and secret:
        # Its value would sit in the spec file and show in every job listing and --help.
        raise fail("default", "a secret argument cannot have a default (pass its value on each run)")
    if default is not NO_DEFAULT:
        _check_default(default, required, arg_type, items, enum, minimum, maximum, fail)
        check_default_pattern(default, pattern, fail)
    return ArgSpec(
        name=name,
        type=arg_type,
        required=required,
        default=default,
        description=description,
        items=items,
        minimum=minimum,
        maximum=maximum,
        enum=enum,
        pattern=pattern,
        secret=secret,
    )


def _check_magnitudes(item: Mapping[object, object], fail: _Fail) -> None:
    """Numbers in ``default``, ``enum``, ``minimum`` and ``maximum`` must fit a double (as JSON
    numbers do): a 401-digit integer would overflow every comparison with a float bound."""
    for key in ("default", "enum", "minimum", "maximum"):
        stack = [item.get(key)]
        while stack:
            value = stack.pop()
            if isinstance(value, (list, tuple)):
                stack.extend(value)
            elif isinstance(value, Mapping):
                stack.extend(value.values())
            elif isinstance(value, int) and not isinstance(value, bool) and not _fits_double(value):
                raise fail(key, f"holds an integer of {len(str(abs(value)))} digits, beyond the "
                                "range of a number (about ±1.8e308)")


def _fits_double(value: int) -> bool:
    try:
        float(value)
    except OverflowError:
        return False
    return True


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__


def _parse_name(value: object, fail: _Fail) -> str:
    if value is None:
        raise fail("name", "missing (every argument needs a name)")
    if not isinstance(value, str) or not _NAME.match(value):
        raise fail(
            "name",
            f"{value!r} is not a valid argument name (a letter, then letters, digits, '_', '.', '-')",
        )
    if value.lower() in RESERVED_ARG_NAMES:
        raise fail(
            "name",
            f"{value!r} is reserved: --{value.lower()} is a run option of the CLI "
            f"(reserved: {', '.join(sorted(RESERVED_ARG_NAMES))})",
        )
    return value


def _parse_type(
    value: object, key: str, fail: _Fail, allowed: tuple[ArgType, ...] | type[ArgType]
) -> ArgType:
    expected = f"expected one of {_type_list(allowed)}"
    if value is None:
        raise fail(key, f"missing ({expected})")
    if not isinstance(value, str):
        raise fail(key, f"must be a type name, not {_kind(value)} ({expected})")
    try:
        arg_type = ArgType(value.strip().lower())
    except ValueError:
        raise fail(key, f"unknown type {value!r} ({expected})") from None
    if arg_type not in tuple(allowed):
        raise fail(key, f"{value!r} is not allowed here ({expected})")
    return arg_type


def _optional_bool(item: Mapping[object, object], key: str, fail: _Fail) -> bool:
    value = item.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise fail(key, f"must be true or false, not {_kind(value)}")
    return value


def _parse_items(item: Mapping[object, object], arg_type: ArgType, fail: _Fail) -> ArgType | None:
    found: dict[str, ArgType] = {}
    for key in ("items", "items_type"):
        value = item.get(key)
        if value is None:
            continue
        if arg_type is not ArgType.ARRAY:
            raise fail(key, f"only arrays have an element type, this argument is {arg_type.value}")
        if isinstance(value, Mapping):  # JSON Schema style: items: {type: string}
            value = value.get("type")
        found[key] = _parse_type(value, key, fail, _SCALARS)
    if len(set(found.values())) > 1:
        raise fail("items_type", f"disagrees with items ({found['items'].value})")
    return next(iter(found.values()), None)


def _parse_range(
    item: Mapping[object, object], arg_type: ArgType, fail: _Fail
) -> tuple[float | None, float | None]:
    bounds: dict[str, float | None] = {}
    for key in ("minimum", "maximum"):
        value = item.get(key)
        bounds[key] = None
        if value is None:
            continue
        if arg_type not in _NUMERIC:
            raise fail(key, f"only integer and number arguments have a range, this is {arg_type.value}")
        if not matches_type(value, ArgType.NUMBER):
            raise fail(key, f"must be a number, not {_kind(value)}")
        bounds[key] = float(value)  # type: ignore[arg-type]
    low, high = bounds["minimum"], bounds["maximum"]
    if low is not None and high is not None and low > high:
        raise fail("minimum", f"{item.get('minimum')} is greater than maximum {item.get('maximum')}")
    return low, high


def _parse_enum(
    value: object, arg_type: ArgType, items: ArgType | None, fail: _Fail
) -> tuple[object, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise fail("enum", "must be a non-empty list of allowed values")
    # An array's enum lists the allowed elements: the contract checks each element against it.
    kind = (items or None) if arg_type is ArgType.ARRAY else arg_type
    for index, choice in enumerate(value):
        if choice is None or (kind is not None and not matches_type(choice, kind)):
            raise fail(f"enum[{index}]", f"{choice!r} is not a {(kind or arg_type).value}")
    return tuple(value)


def _parse_secret(item: Mapping[object, object], name: str, arg_type: ArgType, fail: _Fail) -> bool:
    fmt = item.get("format")
    if fmt is not None and fmt not in _FORMATS:
        raise fail("format", f"unknown format {fmt!r} (expected one of {', '.join(_FORMATS)})")
    secret = fmt == "secret" or _optional_bool(item, "secret", fail)
    if not secret:
        return False
    if arg_type not in _SCALARS:
        raise fail("type", f"a secret must be a scalar (string, integer, number, boolean), not {arg_type.value}")
    if not _SAFE_FILE_NAME.match(name) or name in (".", ".."):
        raise fail("name", f"secret name {name!r} is not a safe file name ([A-Za-z0-9_.-], not . or ..)")
    if len(name) > _MAX_SECRET_NAME:  # the secret writer refuses longer file names at run time
        raise fail("name", f"secret name is {len(name)} characters, over the {_MAX_SECRET_NAME} a file name may have")
    return True


def _check_default(
    default: object,
    required: bool,
    arg_type: ArgType,
    items: ArgType | None,
    enum: tuple[object, ...] | None,
    minimum: float | None,
    maximum: float | None,
    fail: _Fail,
) -> None:
    if required:
        raise fail("default", "a required argument cannot have a default (drop one of them)")
    if not matches_type(default, arg_type, items):
        kind = f"array of {items.value}" if items else arg_type.value
        raise fail("default", f"{default!r} is not a {kind}")
    if enum is not None:
        # An array's enum lists allowed elements, as the contract checks it.
        elements = default if isinstance(default, list) else [default]
        for element in elements:
            if not any(same_json_value(element, choice) for choice in enum):
                raise fail("default", f"{element!r} is not one of the enum values {list(enum)!r}")
    if arg_type in _NUMERIC:
        number = float(default)  # type: ignore[arg-type]
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            raise fail("default", f"{default!r} is outside the range [{minimum}, {maximum}]")
