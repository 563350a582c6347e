"""Global options before the job name (SPEC section 7)."""

from __future__ import annotations

import pytest

from flwd.domain.errors import UsageError
from flwd.entrypoints.cli.argv import split_command_line


@pytest.mark.parametrize("argv", [
    ["--jobs-dir", "", ":jobs"],
    ["--jobs-dir=", ":jobs"],
    ["--data-dir", " ", ":runs"],
    ["--config=", ":jobs"],
])
def test_global_option_is_a_usage_error_when_its_value_is_empty(argv: list[str]) -> None:
    # An empty --jobs-dir used to mean the current directory, scanned for jobs recursively.
    with pytest.raises(UsageError) as err:
        split_command_line(argv)

    assert "needs a value" in err.value.detail


def test_job_options_are_left_to_the_job_when_they_come_after_its_name() -> None:
    line = split_command_line(["--token", "T", "deploy", "--token", "X", "--jobs-dir", ""])

    assert line.overrides.token == "T" and line.command == "deploy"
    assert line.rest == ("--token", "X", "--jobs-dir", "")
