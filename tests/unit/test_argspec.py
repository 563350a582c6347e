"""Rules of a spec's ``args:`` list: one row per way an argument can be ill-formed."""

from __future__ import annotations

import pytest

from flwd.domain.spec.args import parse_arg_specs
from flwd.domain.errors import SpecInvalidError
from flwd.domain.model import NO_DEFAULT, ArgType

SPEC = "jobs/x/job.yaml"

INVALID = [
    # (id, raw args, field named in the error, fragment of the message)
    ("not-a-list", {"name": "a"}, "args", "must be a list"),
    ("item-not-mapping", ["a"], "args[0]", "must be a mapping"),
    ("name-missing", [{"type": "string"}], "args[0].name", "missing"),
    ("name-not-string", [{"name": 3, "type": "string"}], "args[0].name", "not a valid argument name"),
    ("name-leading-digit", [{"name": "1x", "type": "string"}], "args[0].name", "not a valid"),
    ("name-with-space", [{"name": "my arg", "type": "string"}], "args[0].name", "not a valid"),
    ("name-with-slash", [{"name": "a/b", "type": "string"}], "args[0].name", "not a valid"),
    # `$` also matches before a final line break: a secret file named "tok\n" was accepted
    ("name-trailing-newline", [{"name": "tok\n", "type": "string", "format": "secret"}],
     "args[0].name", "not a valid"),
    ("reserved-profile", [{"name": "profile", "type": "string"}], "args[0].name", "reserved"),
    ("reserved-json", [{"name": "json", "type": "boolean"}], "args[0].name", "reserved"),
    ("reserved-detach", [{"name": "detach", "type": "boolean"}], "args[0].name", "reserved"),
    ("reserved-help", [{"name": "Help", "type": "string"}], "args[0].name", "reserved"),
    ("type-missing", [{"name": "a"}], "args[0].type", "missing"),
    ("type-unknown", [{"name": "a", "type": "string"}, {"name": "b", "type": "strng"}], "args[1].type", "unknown type 'strng'"),
    ("type-not-string", [{"name": "a", "type": ["string"]}], "args[0].type", "must be a type name"),
    ("duplicate-name", [{"name": "a", "type": "string"}, {"name": "a", "type": "integer"}], "args[1].name", "duplicate"),
    ("dash-underscore-clash", [{"name": "my-x", "type": "string"}, {"name": "my_x", "type": "string"}], "args[1].name", "ARG_MY_X"),
    ("case-clash", [{"name": "Tok", "type": "string"}, {"name": "tok", "type": "string"}], "args[1].name", "duplicate"),
    ("boolean-negation-clash", [{"name": "no-loud", "type": "string"}, {"name": "loud", "type": "boolean"}], "args[0].name", "--no-loud"),
    ("required-not-bool", [{"name": "a", "type": "string", "required": "yes"}], "args[0].required", "true or false"),
    ("description-not-string", [{"name": "a", "type": "string", "description": 5}], "args[0].description", "string"),
    ("items-on-string", [{"name": "a", "type": "string", "items": "string"}], "args[0].items", "only arrays"),
    ("items-unknown", [{"name": "a", "type": "array", "items": "strin"}], "args[0].items", "unknown type"),
    ("items-not-scalar", [{"name": "a", "type": "array", "items": "object"}], "args[0].items", "not allowed"),
    ("items-type-disagrees", [{"name": "a", "type": "array", "items": "string", "items_type": "integer"}], "args[0].items_type", "disagrees"),
    ("minimum-on-string", [{"name": "a", "type": "string", "minimum": 1}], "args[0].minimum", "only integer and number"),
    ("maximum-not-number", [{"name": "a", "type": "integer", "maximum": "5"}], "args[0].maximum", "must be a number"),
    ("minimum-bool", [{"name": "a", "type": "integer", "minimum": True}], "args[0].minimum", "must be a number"),
    ("minimum-above-maximum", [{"name": "a", "type": "integer", "minimum": 5, "maximum": 1}], "args[0].minimum", "greater than maximum"),
    ("enum-empty", [{"name": "a", "type": "string", "enum": []}], "args[0].enum", "non-empty list"),
    ("enum-not-list", [{"name": "a", "type": "string", "enum": "red"}], "args[0].enum", "non-empty list"),
    ("enum-wrong-type", [{"name": "a", "type": "integer", "enum": [1, "two"]}], "args[0].enum[1]", "not a integer"),
    ("pattern-on-integer", [{"name": "a", "type": "integer", "pattern": "^1$"}], "args[0].pattern", "only string"),
    ("pattern-not-compiling", [{"name": "a", "type": "string", "pattern": "(["}], "args[0].pattern", "not a valid regular expression"),
    ("pattern-backtracking", [{"name": "a", "type": "string", "pattern": "^(\\w+\\s?)*$"}], "args[0].pattern", "exponential time"),
    ("format-unknown", [{"name": "a", "type": "string", "format": "email"}], "args[0].format", "unknown format"),
    ("secret-array", [{"name": "a", "type": "array", "format": "secret"}], "args[0].type", "scalar"),
    ("secret-flag-not-bool", [{"name": "a", "type": "string", "secret": "yes"}], "args[0].secret", "true or false"),
    ("unknown-key", [{"name": "a", "type": "string", "fromat": "secret"}], "args[0].fromat", "unknown key"),
    ("required-with-default", [{"name": "a", "type": "string", "required": True, "default": "x"}], "args[0].default", "required"),
    ("default-wrong-type", [{"name": "a", "type": "string", "default": 5}], "args[0].default", "not a string"),
    ("default-bool-for-integer", [{"name": "a", "type": "integer", "default": True}], "args[0].default", "not a integer"),
    ("default-float-for-integer", [{"name": "a", "type": "integer", "default": 1.5}], "args[0].default", "not a integer"),
    ("default-nan-number", [{"name": "a", "type": "number", "default": float("nan")}], "args[0].default", "not a number"),
    ("default-array-items", [{"name": "a", "type": "array", "items": "integer", "default": [1, "x"]}], "args[0].default", "array of integer"),
    ("default-object-list", [{"name": "a", "type": "object", "default": [1]}], "args[0].default", "not a object"),
    ("default-not-in-enum", [{"name": "a", "type": "string", "enum": ["r", "g"], "default": "b"}], "args[0].default", "enum"),
    ("default-below-minimum", [{"name": "a", "type": "integer", "minimum": 1, "default": 0}], "args[0].default", "range"),
    ("default-above-maximum", [{"name": "a", "type": "number", "maximum": 1.5, "default": 2}], "args[0].default", "range"),
    ("secret-name-too-long", [{"name": "t" * 129, "type": "string", "format": "secret"}], "args[0].name", "128"),
    ("secret-with-default", [{"name": "tok", "type": "string", "format": "secret", "default": "hunter2"}], "args[0].default", "secret"),
    ("default-not-matching-pattern", [{"name": "a", "type": "string", "pattern": "[a-z]+", "default": "ABC"}], "args[0].default", "pattern"),
    ("array-enum-wrong-element-type", [{"name": "a", "type": "array", "items": "integer", "enum": [1, "two"]}], "args[0].enum[1]", "not a integer"),
    ("array-default-element-not-in-enum", [{"name": "a", "type": "array", "items": "string", "enum": ["r", "g"], "default": ["r", "b"]}], "args[0].default", "enum"),
]


@pytest.mark.parametrize(("raw", "field", "fragment"), [row[1:] for row in INVALID], ids=[row[0] for row in INVALID])
def test_parse_arg_specs_rejects_with_file_and_field_when_arg_is_ill_formed(
    raw: object, field: str, fragment: str
) -> None:
    with pytest.raises(SpecInvalidError) as err:
        parse_arg_specs(raw, spec_path=SPEC)

    assert err.value.code == "spec.invalid"
    assert err.value.detail.startswith(f"{SPEC}: {field}: ")
    assert fragment in err.value.detail
    assert err.value.context == {"file": SPEC, "field": field}


def test_parse_arg_specs_names_the_alias_field_when_given_one() -> None:
    with pytest.raises(SpecInvalidError) as err:
        parse_arg_specs([{"name": "a"}], spec_path=SPEC, field="argspec.args")

    assert err.value.context["field"] == "argspec.args[0].type"


def test_parse_arg_specs_returns_nothing_when_args_absent() -> None:
    assert parse_arg_specs(None, spec_path=SPEC) == ()


def test_parse_arg_specs_reads_every_attribute_when_valid() -> None:
    raw = [
        {"name": "name", "type": "string", "required": True, "description": "Who to greet"},
        {"name": "loud", "type": "boolean", "default": False},
        {"name": "tags", "type": "array", "items": "string", "default": ["a"]},
        {"name": "ids", "type": "array", "items_type": "integer"},
        {"name": "level", "type": "integer", "minimum": 1, "maximum": 5, "default": 3},
        {"name": "ratio", "type": "number", "minimum": 0, "default": 1},
        {"name": "colour", "type": "string", "enum": ["red", "green"], "pattern": "^[a-z]+$"},
        {"name": "api_token", "type": "string", "format": "secret"},
        {"name": "pin", "type": "integer", "secret": True},
        {"name": "opts", "type": "object", "default": {"k": 1}, "x-ui": "hidden"},
    ]

    specs = parse_arg_specs(raw, spec_path=SPEC)

    by_name = {spec.name: spec for spec in specs}
    assert [spec.name for spec in specs] == [item["name"] for item in raw]
    assert by_name["name"].required and by_name["name"].default is NO_DEFAULT
    assert by_name["name"].description == "Who to greet"
    assert by_name["loud"].type is ArgType.BOOLEAN and by_name["loud"].default is False
    assert by_name["tags"].items is ArgType.STRING
    assert by_name["ids"].items is ArgType.INTEGER
    assert (by_name["level"].minimum, by_name["level"].maximum) == (1.0, 5.0)
    assert isinstance(by_name["level"].minimum, float)
    assert by_name["colour"].enum == ("red", "green")
    assert by_name["colour"].pattern == "^[a-z]+$"
    assert by_name["api_token"].secret and by_name["pin"].secret
    assert not by_name["colour"].secret
    assert by_name["opts"].default == {"k": 1}


def test_parse_arg_specs_accepts_json_schema_items_when_given_as_mapping() -> None:
    specs = parse_arg_specs([{"name": "a", "type": "array", "items": {"type": "number"}}], spec_path=SPEC)

    assert specs[0].items is ArgType.NUMBER


def test_parse_arg_specs_treats_null_default_as_absent_when_default_is_empty() -> None:
    """``default:`` with nothing after it is YAML null, which no argument type admits."""
    specs = parse_arg_specs([{"name": "a", "type": "string", "default": None}], spec_path=SPEC)

    assert not specs[0].has_default


def test_parse_arg_specs_reads_enum_per_element_when_arg_is_array() -> None:
    """The contract checks an array's enum against each element, so the spec lists elements."""
    raw = [{"name": "tags", "type": "array", "items": "string", "enum": ["red", "green"], "default": ["red"]}]

    specs = parse_arg_specs(raw, spec_path=SPEC)

    assert specs[0].enum == ("red", "green")
    assert specs[0].default == ["red"]
