"""Masking secrets in output lines and event data."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flwd.domain.args.redact import Redactor


@pytest.mark.parametrize(
    ("secrets", "text", "expected"),
    [
        (["s3cr3t"], "token=s3cr3t!", "token=***!"),
        (["s3cr3t"], "s3cr3t s3cr3t", "*** ***"),
        (["s3cr3t"], "nothing here", "nothing here"),
        (["abc", "abcdef"], "x abcdef y abc", "x *** y ***"),
        (["abcd", "cdef"], "zabcdefz", "z***z"),
        (["aba"], "ababa", "***"),
        (["aa"], "xaaay", "x***y"),
        (["a"], "banana", "b***n***n***"),
        (["", "k"], "okay", "o***ay"),
        (["tøken"], "ünïcode tøken", "ünïcode ***"),
        (["***"], "a***b", "a***b"),
        (["one", "two"], "one and two", "*** and ***"),
    ],
)
def test_redact_masks_every_occurrence_when_secret_present(
    secrets: list[str], text: str, expected: str
) -> None:
    assert Redactor(secrets).redact(text) == expected


def test_redact_returns_same_text_when_no_secrets() -> None:
    text = "plain"

    assert Redactor([]).redact(text) is text
    assert Redactor([""]).redact(text) is text


def test_redact_obj_masks_nested_strings_when_event_data_holds_secrets() -> None:
    data = {"line": "pw=hunter2", "args": ["hunter2", 3, None, ("hunter2x",)],
            "hunter2": {"deep": "hunter2"}, "n": 1.5}

    redacted = Redactor(["hunter2"]).redact_obj(data)

    assert redacted == {"line": "pw=***", "args": ["***", 3, None, ("***x",)],
                        "***": {"deep": "***"}, "n": 1.5}
    assert data["line"] == "pw=hunter2"


def test_redact_obj_returns_same_object_when_no_secrets() -> None:
    data = {"line": "x"}

    assert Redactor(()).redact_obj(data) is data


def test_repr_hides_secrets_when_printed() -> None:
    redactor = Redactor(["hunter2"])

    assert "hunter2" not in repr(redactor)
    assert bool(redactor) and not Redactor([])


@given(
    secrets=st.lists(st.text(alphabet="abc", min_size=1, max_size=4), max_size=4),
    text=st.text(alphabet="abc \n", max_size=40),
)
def test_redact_leaves_no_secret_when_texts_are_arbitrary(secrets: list[str], text: str) -> None:
    redacted = Redactor(secrets).redact(text)

    assert not any(secret in redacted for secret in secrets)
