"""Property tests of the argument contract: valid values pass, round-trip via text, never leak."""

from __future__ import annotations

import dataclasses
import json
import re
import string

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from flwd.domain.args.contract import check_args
from flwd.domain.args.ulc import secret_values, ulc_environment
from flwd.domain.errors import ArgsInvalidError
from flwd.domain.model import ArgSpec, ArgType

T = ArgType
FAST = settings(max_examples=200, deadline=None)

names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
texts = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12)
finite_floats = st.floats(allow_nan=False, allow_infinity=False)
secret_tokens = st.text(string.ascii_letters + string.digits, min_size=16, max_size=24).map(
    lambda token: "tok_" + token
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | finite_floats | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
json_objects = st.dictionaries(texts, json_values, max_size=4)
SCALARS: dict[ArgType, st.SearchStrategy[object]] = {
    T.STRING: texts,
    T.INTEGER: st.integers(),
    T.NUMBER: finite_floats | st.integers(),
    T.BOOLEAN: st.booleans(),
    T.OBJECT: json_objects,
}


@st.composite
def arg_and_value(draw: st.DrawFn, name: str) -> tuple[ArgSpec, object]:
    """One spec with a value that satisfies it (secrets are distinctive string tokens)."""
    if draw(st.booleans()):
        return ArgSpec(name=name, type=T.STRING, secret=True), draw(secret_tokens)
    kind = draw(st.sampled_from(list(T)))
    if kind is T.ARRAY:
        items = draw(st.sampled_from([T.STRING, T.INTEGER, T.NUMBER, T.BOOLEAN, T.OBJECT]))
        value: object = draw(st.lists(SCALARS[items], max_size=4))
        return ArgSpec(name=name, type=kind, items=items), value
    value = draw(SCALARS[kind])
    spec = ArgSpec(name=name, type=kind)
    if kind is T.INTEGER and draw(st.booleans()):
        assert isinstance(value, int)
        low, high = value - draw(st.integers(0, 5)), value + draw(st.integers(0, 5))
        spec = dataclasses.replace(spec, minimum=low, maximum=high)
    if kind in (T.STRING, T.INTEGER) and draw(st.booleans()):
        spec = dataclasses.replace(spec, enum=(value, *draw(st.lists(SCALARS[kind], max_size=2))))
    if kind is T.STRING and draw(st.booleans()):
        pattern = draw(st.sampled_from([re.escape(str(value)), r"(?s).*"]))
        spec = dataclasses.replace(spec, pattern=pattern)
    return spec, value


@st.composite
def contracts(draw: st.DrawFn) -> tuple[tuple[ArgSpec, ...], dict[str, object]]:
    """Specs with distinct names, and a valid value for each (optional ones sometimes absent)."""
    arg_names = draw(st.lists(names, max_size=6, unique_by=lambda n: n.replace("-", "_")))
    specs: list[ArgSpec] = []
    values: dict[str, object] = {}
    for name in arg_names:
        spec, value = draw(arg_and_value(name))
        if draw(st.booleans()):
            spec = dataclasses.replace(spec, required=True)
            values[name] = value
        elif draw(st.booleans()):
            values[name] = value
        specs.append(spec)
    return tuple(specs), values


@FAST
@given(contracts())
def test_check_args_accepts_and_ulc_hides_secrets_when_values_are_valid(
    contract: tuple[tuple[ArgSpec, ...], dict[str, object]],
) -> None:
    specs, values = contract
    secrets = [values[s.name] for s in specs if s.secret and s.name in values]
    public = json.dumps([v for k, v in values.items() if not _spec(specs, k).secret])
    assume(not any(str(secret) in public for secret in secrets))  # a collision is no leak

    checked = check_args(specs, values, from_text=False)
    env = ulc_environment(specs, checked, run_id="run-1", job_id="job-1")

    assert checked == values
    everything = "\n".join(f"{key}={value}" for key, value in env.items())
    assert not any(str(secret) in everything for secret in secrets)
    expected = {s.name: values[s.name] for s in specs if s.secret and s.name in values}
    assert secret_values(specs, checked) == expected


def _spec(specs: tuple[ArgSpec, ...], name: str) -> ArgSpec:
    return next(spec for spec in specs if spec.name == name)


def _scalar_text(kind: ArgType, value: object) -> str:
    if kind is T.STRING:
        assert isinstance(value, str)
        return value
    if kind is T.NUMBER and isinstance(value, float):
        return repr(value)
    return json.dumps(value)  # integers, booleans (true/false), objects


def _cli_text(spec: ArgSpec, value: object) -> object:
    """What a user would type: text per scalar, one option per array element, JSON for objects."""
    if spec.type is not T.ARRAY:
        return _scalar_text(spec.type, value)
    assert isinstance(value, list) and spec.items is not None
    rendered = [_scalar_text(spec.items, element) for element in value]
    if not rendered or (len(rendered) == 1 and rendered[0].lstrip().startswith("[")):
        return json.dumps(value)  # an empty array, or one that repetition would make ambiguous
    return rendered


@FAST
@given(contracts(), st.booleans())
def test_check_args_round_trips_when_values_are_rendered_as_cli_text(
    contract: tuple[tuple[ArgSpec, ...], dict[str, object]], dashed: bool
) -> None:
    specs, values = contract
    raw = {
        (name.replace("_", "-") if dashed else name): _cli_text(_spec(specs, name), value)
        for name, value in values.items()
    }

    checked = check_args(specs, raw, from_text=True)

    assert checked == values


odd_texts = ["[1,2]", '{"a":1}', "nan", "1e999", "9" * 5000, "\ud800", "[", "true", "a\x00"]
weird_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
    | st.sampled_from(odd_texts)
)
weird_values = st.recursive(
    weird_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner)
        | st.dictionaries(st.text(max_size=3) | st.integers(), inner, max_size=3)
    ),
    max_leaves=6,
)
odd_patterns = ["[a-z]+", "(unclosed", "a{2,", "(?s).*", "\\"]
patterns = st.none() | st.sampled_from(odd_patterns) | st.text(max_size=5)
any_specs = st.lists(
    st.builds(
        ArgSpec,
        name=names,
        type=st.sampled_from(list(T)),
        required=st.booleans(),
        items=st.none() | st.sampled_from(list(T)),
        minimum=st.none() | st.floats(allow_nan=False),
        maximum=st.none() | st.floats(allow_nan=False),
        enum=st.none() | st.lists(weird_scalars, max_size=3).map(tuple),
        pattern=patterns,
        secret=st.booleans(),
    ),
    max_size=4,
    unique_by=lambda spec: spec.name,
).map(tuple)


@FAST
@given(any_specs, st.data(), st.booleans())
def test_check_args_raises_only_args_invalid_when_input_is_arbitrary(
    specs: tuple[ArgSpec, ...], data: st.DataObject, from_text: bool
) -> None:
    spellings = [s.name for s in specs] + [s.name.replace("_", "-") for s in specs]
    keys = (st.sampled_from(spellings) if spellings else names) | st.text(max_size=6)
    raw = data.draw(st.dictionaries(keys, weird_values, max_size=5))

    try:
        checked = check_args(specs, raw, from_text=from_text)
    except ArgsInvalidError as err:
        assert err.problems
        return

    ulc_environment(specs, checked, run_id="r", job_id="j")
    secret_values(specs, checked)
