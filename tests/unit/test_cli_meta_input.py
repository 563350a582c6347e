"""Meta commands refuse arguments that are not valid text instead of failing inside flwd."""

from __future__ import annotations

import io as stdio

import pytest

from flwd.entrypoints.cli.main import main
from flwd.entrypoints.cli.render import Io
from flwd.entrypoints.container import Container


@pytest.mark.parametrize("argv", [[":logs", "\udcff"], [":runs", "--job", "\udcff"],
                                  [":cancel", "\udcff"]])
def test_meta_command_is_a_usage_error_when_an_argument_is_not_valid_text(
        engine: Container, argv: list[str]) -> None:
    # Bytes that are not UTF-8 reach Python as lone surrogates; SQLite cannot take them.
    out, err = stdio.StringIO(), stdio.StringIO()

    code = main(argv, Io(out=out, err=err), {"HOME": "/nonexistent"}, container=engine)

    assert code == 2 and err.getvalue().startswith("error[usage.invalid]: ")


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_doctor_prints_its_usage_when_asked_for_help(flag: str) -> None:
    out, err = stdio.StringIO(), stdio.StringIO()

    code = main([":doctor", flag], Io(out=out, err=err), {"HOME": "/nonexistent"})

    assert (code, err.getvalue()) == (0, "")
    assert out.getvalue().startswith("Usage: flwd :doctor")
