"""Unit tests of the argument contract (SPEC section 2): checking, coercion, ULC delivery."""

from __future__ import annotations

import json

import pytest

from flwd.domain.args.contract import check_args
from flwd.domain.args.ulc import public_args, secret_values, ulc_environment
from flwd.domain.errors import ArgProblem, ArgsInvalidError
from flwd.domain.model import SECRET_PLACEHOLDER, ArgSpec, ArgType
from flwd.entrypoints.cli.spellings import negative_option_names, text_option_names

T = ArgType
SECRET = "s3cr3t-Zq9vXw7LpK2m"


def arg(name: str, kind: ArgType = T.STRING, **kw: object) -> ArgSpec:
    return ArgSpec(name=name, type=kind, **kw)


def problems_of(
    specs: tuple[ArgSpec, ...], raw: dict[str, object], *, text: bool
) -> tuple[ArgProblem, ...]:
    with pytest.raises(ArgsInvalidError) as err:
        check_args(specs, raw, from_text=text)
    problems: tuple[ArgProblem, ...] = err.value.problems
    return problems


def only_problem(spec: ArgSpec, value: object, *, text: bool) -> ArgProblem:
    (problem,) = problems_of((spec,), {spec.name: value}, text=text)
    return problem


# --- coercion from CLI text ------------------------------------------------------------

TEXT_OK = [
    (T.STRING, None, "Alice", "Alice"),
    (T.STRING, None, "", ""),
    (T.INTEGER, None, "42", 42),
    (T.INTEGER, None, "-3", -3),
    (T.INTEGER, None, "+7", 7),
    (T.NUMBER, None, "1.5", 1.5),
    (T.NUMBER, None, "2", 2),
    (T.NUMBER, None, "1e3", 1000.0),
    (T.NUMBER, None, "-.5", -0.5),
    (T.BOOLEAN, None, True, True),
    (T.BOOLEAN, None, False, False),
    (T.BOOLEAN, None, "TRUE", True),
    (T.BOOLEAN, None, "yes", True),
    (T.BOOLEAN, None, "1", True),
    (T.BOOLEAN, None, "False", False),
    (T.BOOLEAN, None, "no", False),
    (T.BOOLEAN, None, "0", False),
    (T.ARRAY, None, "a", ["a"]),
    (T.ARRAY, None, ["a", "b"], ["a", "b"]),
    (T.ARRAY, None, '["a","b"]', ["a", "b"]),
    (T.ARRAY, T.INTEGER, ["1", "2"], [1, 2]),
    (T.ARRAY, T.INTEGER, "[1, 2]", [1, 2]),
    (T.ARRAY, T.BOOLEAN, ["yes", "false"], [True, False]),
    (T.ARRAY, T.OBJECT, ['{"a": 1}'], [{"a": 1}]),
    (T.OBJECT, None, '{"a": [1, "x"]}', {"a": [1, "x"]}),
]


@pytest.mark.parametrize(("kind", "items", "given", "expected"), TEXT_OK)
def test_check_args_coerces_text_when_from_text(
    kind: ArgType, items: ArgType | None, given: object, expected: object
) -> None:
    spec = arg("x", kind, items=items)

    values = check_args((spec,), {"x": given}, from_text=True)

    assert values == {"x": expected}
    assert type(values["x"]) is type(expected)


TEXT_TYPE_ERRORS = [
    (T.INTEGER, None, "4.0"),
    (T.INTEGER, None, "abc"),
    (T.INTEGER, None, ""),
    (T.INTEGER, None, "٣"),
    (T.INTEGER, None, "9" * 5000),
    (T.NUMBER, None, "9" * 5000),
    (T.NUMBER, None, "nan"),
    (T.NUMBER, None, "inf"),
    (T.NUMBER, None, "1e999"),
    (T.NUMBER, None, "1_000"),
    (T.BOOLEAN, None, "maybe"),
    (T.OBJECT, None, "[1]"),
    (T.OBJECT, None, "{not json"),
    (T.OBJECT, None, '{"a": NaN}'),
    (T.ARRAY, T.INTEGER, ["1", "x"]),
    (T.ARRAY, T.STRING, "[1, 2]"),
    (T.STRING, None, ["a", "b"]),
    (T.INTEGER, None, ["1", "2"]),
    (T.STRING, None, True),
]


@pytest.mark.parametrize(("kind", "items", "given"), TEXT_TYPE_ERRORS)
def test_check_args_reports_type_when_text_does_not_parse(
    kind: ArgType, items: ArgType | None, given: object
) -> None:
    problem = only_problem(arg("x", kind, items=items), given, text=True)

    assert (problem.arg, problem.code) == ("x", "type")


def test_check_args_message_is_human_when_integer_text_is_bad() -> None:
    problem = only_problem(arg("level", T.INTEGER), "abc", text=True)

    assert problem.message == "expected an integer, got 'abc'"


def test_check_args_says_given_more_than_once_when_scalar_repeated() -> None:
    problem = only_problem(arg("name"), ["a", "b"], text=True)

    assert "more than once" in problem.message


def test_check_args_accepts_negated_flag_when_key_is_no_name() -> None:
    specs = (arg("dry_run", T.BOOLEAN, default=True),)

    values = check_args(specs, {"no-dry-run": True}, from_text=True)

    assert values == {"dry_run": False}


def test_check_args_rejects_no_prefix_when_from_api() -> None:
    (problem,) = problems_of((arg("loud", T.BOOLEAN),), {"no-loud": True}, text=False)

    assert (problem.arg, problem.code) == ("no-loud", "unknown")


def test_check_args_treats_empty_list_as_absent_when_from_text() -> None:
    specs = (arg("tags", T.ARRAY, default=["x"]),)

    assert check_args(specs, {"tags": []}, from_text=True) == {"tags": ["x"]}


# --- strict JSON types from the API ------------------------------------------------------

API_OK = [
    (T.STRING, None, "Alice"),
    (T.INTEGER, None, 3),
    (T.INTEGER, None, 10**40),
    (T.NUMBER, None, 1.5),
    (T.NUMBER, None, 2),
    (T.BOOLEAN, None, False),
    (T.ARRAY, None, ["a"]),
    (T.ARRAY, T.NUMBER, [1, 2.5]),
    (T.ARRAY, T.OBJECT, [{}, {"a": None}]),
    (T.OBJECT, None, {"a": [1, {"b": True}]}),
]


@pytest.mark.parametrize(("kind", "items", "given"), API_OK)
def test_check_args_keeps_json_value_when_type_matches(
    kind: ArgType, items: ArgType | None, given: object
) -> None:
    values = check_args((arg("x", kind, items=items),), {"x": given}, from_text=False)

    assert values == {"x": given}


API_TYPE_ERRORS = [
    (T.STRING, None, 1),
    (T.INTEGER, None, "42"),
    (T.INTEGER, None, 3.0),
    (T.INTEGER, None, True),
    (T.NUMBER, None, "1.5"),
    (T.NUMBER, None, False),
    (T.NUMBER, None, float("nan")),
    (T.NUMBER, None, float("inf")),
    (T.BOOLEAN, None, "true"),
    (T.BOOLEAN, None, 1),
    (T.ARRAY, None, "a"),
    (T.ARRAY, None, ["a", 1]),
    (T.ARRAY, T.INTEGER, [1, True]),
    (T.OBJECT, None, '{"a": 1}'),
    (T.OBJECT, None, ["a"]),
    (T.OBJECT, None, {"a": float("nan")}),
    (T.OBJECT, None, {1: "a"}),
    (T.OBJECT, None, {"a": object()}),
    (T.STRING, None, "bad\ud800surrogate"),
    (T.STRING, None, "nul\x00inside"),
]


@pytest.mark.parametrize(("kind", "items", "given"), API_TYPE_ERRORS)
def test_check_args_reports_type_when_json_type_is_wrong(
    kind: ArgType, items: ArgType | None, given: object
) -> None:
    problem = only_problem(arg("x", kind, items=items), given, text=False)

    assert (problem.arg, problem.code) == ("x", "type")


def test_check_args_names_element_when_array_element_is_wrong() -> None:
    problem = only_problem(arg("ids", T.ARRAY, items=T.INTEGER), [1, 2, "3"], text=False)

    assert problem.message == "element 2: expected an integer, got '3'"


# --- constraints ---------------------------------------------------------------------------

CONSTRAINT_ERRORS = [
    (arg("c", enum=("red", "green")), "blue", "enum"),
    (arg("n", T.INTEGER, enum=(1, 2)), 3, "enum"),
    (arg("b", T.BOOLEAN, enum=(True,)), False, "enum"),
    (arg("n", T.INTEGER, minimum=1, maximum=5), 0, "range"),
    (arg("n", T.INTEGER, minimum=1, maximum=5), 6, "range"),
    (arg("f", T.NUMBER, minimum=0.5), 0.25, "range"),
    (arg("f", T.NUMBER, maximum=2), 2.5, "range"),
    (arg("s", pattern=r"[a-z]+"), "abc1", "pattern"),
    (arg("s", pattern=r"(unclosed"), "abc", "pattern"),
    (arg("t", T.ARRAY, enum=("a", "b")), ["a", "c"], "enum"),
    (arg("t", T.ARRAY, items=T.INTEGER, maximum=9), [1, 10], "range"),
    (arg("t", T.ARRAY, pattern=r"\d+"), ["1", "x"], "pattern"),
]


@pytest.mark.parametrize(("spec", "value", "code"), CONSTRAINT_ERRORS)
@pytest.mark.parametrize("text", [False, True])
def test_check_args_reports_constraint_when_value_breaks_it(
    spec: ArgSpec, value: object, code: str, text: bool
) -> None:
    given = _as_text(value) if text else value

    problem = only_problem(spec, given, text=text)

    assert (problem.arg, problem.code) == (spec.name, code)


CONSTRAINT_OK = [
    (arg("c", enum=("red", "green")), "red"),
    (arg("n", T.INTEGER, minimum=1, maximum=5), 1),
    (arg("n", T.INTEGER, minimum=1, maximum=5), 5),
    (arg("f", T.NUMBER, minimum=0.5, maximum=0.5), 0.5),
    (arg("s", minimum=5, maximum=6), "longer than six"),
    (arg("s", pattern=r"[a-z]+"), "abc"),
    (arg("t", T.ARRAY, items=T.INTEGER, minimum=0), [0, 1]),
]


@pytest.mark.parametrize(("spec", "value"), CONSTRAINT_OK)
def test_check_args_accepts_value_when_constraints_hold(spec: ArgSpec, value: object) -> None:
    assert check_args((spec,), {spec.name: value}, from_text=False) == {spec.name: value}


def test_check_args_range_message_shows_bounds_when_out_of_range() -> None:
    problem = only_problem(arg("level", T.INTEGER, minimum=1.0, maximum=5.0), 9, text=False)

    assert problem.message == "must be between 1 and 5, got 9"


def _as_text(value: object) -> object:
    if isinstance(value, list):
        return [v if isinstance(v, str) else json.dumps(v) for v in value]
    return value if isinstance(value, str) else json.dumps(value)


# --- presence: required, defaults, unknown, spellings --------------------------------------


@pytest.mark.parametrize("text", [False, True])
def test_check_args_reports_required_when_required_arg_absent(text: bool) -> None:
    (problem,) = problems_of((arg("name", required=True),), {}, text=text)

    assert (problem.arg, problem.code) == ("name", "required")


def test_check_args_reports_required_when_api_gives_none_for_required() -> None:
    (problem,) = problems_of((arg("name", required=True),), {"name": None}, text=False)

    assert problem.code == "required"


def test_check_args_fills_default_when_api_gives_none_for_optional() -> None:
    specs = (arg("loud", T.BOOLEAN, default=False), arg("tag"))

    assert check_args(specs, {"loud": None, "tag": None}, from_text=False) == {"loud": False}


def test_check_args_fills_defaults_and_omits_optional_without_default_when_absent() -> None:
    specs = (arg("loud", T.BOOLEAN, default=False), arg("tag"), arg("none", default=None))

    assert check_args(specs, {}, from_text=False) == {"loud": False, "none": None}


def test_check_args_copies_default_when_mutable() -> None:
    spec = arg("tags", T.ARRAY, default=["a"])

    tags = check_args((spec,), {}, from_text=False)["tags"]
    assert isinstance(tags, list)
    tags.append("mutated")

    assert spec.default == ["a"]
    assert check_args((spec,), {}, from_text=False) == {"tags": ["a"]}


@pytest.mark.parametrize("key", ["secret_token", "secret-token"])
@pytest.mark.parametrize("declared", ["secret_token", "secret-token"])
def test_check_args_matches_name_when_dash_and_underscore_differ(key: str, declared: str) -> None:
    assert check_args((arg(declared),), {key: "v"}, from_text=True) == {declared: "v"}


def test_check_args_reports_unknown_with_suggestion_when_key_is_close() -> None:
    (problem,) = problems_of((arg("level", T.INTEGER),), {"levle": 3}, text=False)

    assert problem == ArgProblem(
        arg="levle", code="unknown", message="unknown argument; did you mean 'level'?"
    )


def test_check_args_reports_two_spellings_when_api_repeats_an_argument() -> None:
    (problem,) = problems_of((arg("a_b"),), {"a_b": "x", "a-b": "y"}, text=False)

    assert (problem.code, problem.message) == ("type", "given more than once (as 'a_b' and 'a-b')")


def test_check_args_reports_every_problem_at_once_when_many_are_wrong() -> None:
    specs = (
        arg("name", required=True),
        arg("level", T.INTEGER, minimum=1, maximum=5),
        arg("count", T.INTEGER),
        arg("colour", enum=("red", "green")),
        arg("code", pattern=r"[A-Z]{3}"),
    )
    raw = {"level": 9, "count": "x", "colour": "blue", "code": "abc", "extra": 1}

    problems = problems_of(specs, raw, text=False)

    assert {(p.arg, p.code) for p in problems} == {
        ("name", "required"),
        ("level", "range"),
        ("count", "type"),
        ("colour", "enum"),
        ("code", "pattern"),
        ("extra", "unknown"),
    }


def test_check_args_error_carries_code_and_job_when_invalid() -> None:
    with pytest.raises(ArgsInvalidError) as err:
        check_args((arg("n", T.INTEGER),), {"n": "x"}, from_text=True, job="demo")

    assert err.value.code == "args.invalid"
    assert err.value.context == {"job": "demo"}
    assert "demo" in err.value.detail


# --- secrets never in messages ------------------------------------------------------------

SECRET_CASES = [
    (arg("tok", T.INTEGER, secret=True), SECRET, True),
    (arg("tok", T.INTEGER, secret=True), SECRET, False),
    (arg("tok", secret=True, enum=("a",)), SECRET, False),
    (arg("tok", secret=True, pattern=r"\d+"), SECRET, True),
    (arg("tok", T.ARRAY, items=T.INTEGER, secret=True), [SECRET], True),
    (arg("tok", T.OBJECT, secret=True), SECRET, True),
    (arg("tok", secret=True), [SECRET, SECRET], True),
]


@pytest.mark.parametrize(("spec", "value", "text"), SECRET_CASES)
def test_check_args_hides_secret_value_when_reporting_it(
    spec: ArgSpec, value: object, text: bool
) -> None:
    with pytest.raises(ArgsInvalidError) as err:
        check_args((spec,), {spec.name: value}, from_text=text)

    (problem,) = err.value.problems
    assert SECRET not in repr(err.value.problems) + str(err.value) + repr(err.value.context)
    assert "value hidden" in problem.message or "more than once" in problem.message


# --- ULC delivery ---------------------------------------------------------------------------


def test_ulc_environment_renders_every_kind_when_values_are_checked() -> None:
    specs = (
        arg("name"),
        arg("level", T.INTEGER),
        arg("ratio", T.NUMBER),
        arg("loud", T.BOOLEAN),
        arg("tags", T.ARRAY),
        arg("meta-data", T.OBJECT),
        arg("api_token", secret=True),
    )
    values = {
        "name": "Zoë",
        "level": 3,
        "ratio": 1.5,
        "loud": False,
        "tags": ["a", "b"],
        "meta-data": {"k": "v"},
        "api_token": SECRET,
    }

    env = ulc_environment(specs, values, run_id="r1", job_id="demo")

    assert env == {
        "ARG_NAME": "Zoë",
        "ARG_LEVEL": "3",
        "ARG_RATIO": "1.5",
        "ARG_LOUD": "false",
        "ARG_TAGS": '["a","b"]',
        "ARG_META_DATA": '{"k":"v"}',
        "FLWD_ARGS_JSON": '{"level":3,"loud":false,"meta-data":{"k":"v"},"name":"Zoë",'
        '"ratio":1.5,"tags":["a","b"]}',
        "FLWD_RUN_ID": "r1",
        "FLWD_JOB_ID": "demo",
        "FLWD_JOB_DIR": "/flwd/job",
        "FLWD_RUN_DIR": "/flwd/run",
        "FLWD_SECRETS_DIR": "/run/secrets",
    }


def test_ulc_environment_omits_variable_but_keeps_null_when_value_is_none() -> None:
    env = ulc_environment((arg("x"),), {"x": None}, run_id="r", job_id="j")

    assert "ARG_X" not in env
    assert env["FLWD_ARGS_JSON"] == '{"x":null}'


def test_secret_values_gives_text_of_each_secret_when_present() -> None:
    specs = (
        arg("a", secret=True),
        arg("pin", T.INTEGER, secret=True),
        arg("b"),
        arg("c", secret=True),
    )

    texts = secret_values(specs, {"a": SECRET, "pin": 1234, "b": "x"})

    assert texts == {"a": SECRET, "pin": "1234"}


def test_public_args_replaces_secrets_when_rendering() -> None:
    specs = (arg("a", secret=True), arg("b"))

    assert public_args(specs, {"a": SECRET, "b": "x"}) == {"a": SECRET_PLACEHOLDER, "b": "x"}


OPTION_NAMES = [
    ("secret_token", ("--secret-token", "--secret_token")),
    ("secret-token", ("--secret-token", "--secret_token")),
    ("name", ("--name",)),
    ("a-b_c", ("--a-b-c", "--a_b_c", "--a-b_c")),
]


@pytest.mark.parametrize(("name", "expected"), OPTION_NAMES)
def test_text_option_names_lists_spellings_when_name_has_separators(
    name: str, expected: tuple[str, ...]
) -> None:
    assert text_option_names(arg(name)) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("dry_run", ("--no-dry-run", "--no_dry_run", "--no-dry_run")),
        ("loud", ("--no-loud", "--no_loud")),
    ],
)
def test_negative_option_names_lists_no_forms_when_boolean(
    name: str, expected: tuple[str, ...]
) -> None:
    assert negative_option_names(arg(name, T.BOOLEAN)) == expected


def test_negative_option_names_is_empty_when_not_boolean() -> None:
    assert negative_option_names(arg("name")) == ()
