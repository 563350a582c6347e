"""Every ``:command``, the global options and the run options are declared once (cli/grammar):
the parsers read them and every help text is generated from them."""

from __future__ import annotations

import io as stdio
from pathlib import Path

import pytest

from flwd.domain.errors import UsageError
from flwd.domain.spec.args import RESERVED_ARG_NAMES
from flwd.entrypoints.cli.argv import split_command_line
from flwd.entrypoints.cli.command_parser import parse_command
from flwd.entrypoints.cli.grammar import (
    COMMANDS,
    COMMANDS_BY_NAME,
    GLOBAL_OPTIONS,
    HELP,
    RUN_OPTIONS,
    Command,
    Option,
)
from flwd.entrypoints.cli.main import main
from flwd.entrypoints.cli.render import Io

ENV = {"HOME": "/nonexistent"}


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = stdio.StringIO(), stdio.StringIO()
    code = main(list(argv), Io(out=out, err=err), dict(ENV))
    return code, out.getvalue(), err.getvalue()


def test_top_help_lists_every_declared_command_and_global_option_when_asked() -> None:
    code, out, err = _cli("--help")

    assert (code, err) == (0, "")
    for command in COMMANDS:
        assert f"  {command.synopsis}" in out and command.summary in out
    for option in GLOBAL_OPTIONS:
        assert f"  {option.name} {option.metavar}" in out and option.help in out
    assert "flwd [GLOBAL OPTIONS] JOB [--ARG VALUE ...] [--profile P] [--json] [--detach]" in out


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
@pytest.mark.parametrize("flag", HELP.names)
def test_command_help_lists_its_declared_arguments_when_asked(command: Command, flag: str) -> None:
    code, out, err = _cli(command.name, flag)

    assert (code, err) == (0, "")
    assert out.startswith(f"Usage: flwd {command.synopsis}\n")
    for item in (*command.operands, *command.options, *(command.run_options or ())):
        assert f"  {item.name}" in out and item.help in out


def test_doctor_prints_its_usage_when_asked_for_help_with_a_server() -> None:
    # the server is not asked (nothing listens on port 9): the help comes from the declaration
    code, out, err = _cli("--server", "http://127.0.0.1:9", ":doctor", "--help")

    assert (code, err) == (0, "")
    assert out.startswith("Usage: flwd :doctor [--json]\n")


def test_run_options_are_the_argument_names_a_job_may_not_use() -> None:
    names = {option.name.removeprefix("--") for option in (*RUN_OPTIONS, HELP)}

    assert names == RESERVED_ARG_NAMES


@pytest.mark.parametrize(("name", "tokens", "values"), [
    (":jobs", [], {"json": False}),
    (":jobs", ["--json"], {"json": True}),
    (":runs", ["--status=failed"], {"job": None, "status": "failed", "json": False}),
    (":logs", ["--follow", "r1"], {"run_id": "r1", "follow": True}),
    (":cancel", ["r1"], {"run_id": "r1"}),
    (":doctor", ["--json"], {"json": True}),
    (":serve", ["--bind", ":1", "--no-runtime"],
     {"bind": ":1", "dev": False, "profile": None, "no_runtime": True, "local": False}),
])
def test_parse_command_gives_every_declared_field_when_tokens_are_valid(
        name: str, tokens: list[str], values: dict[str, object]) -> None:
    parsed = parse_command(COMMANDS_BY_NAME[name], tokens)

    assert (parsed.values, parsed.help) == (values, False)


def test_parse_command_leaves_the_job_its_options_when_the_command_takes_a_job() -> None:
    parsed = parse_command(COMMANDS_BY_NAME[":plan"], ["deploy", "--help", "--token", "T", "--"])

    assert (parsed.values, parsed.job_tokens, parsed.help) == (
        {"job": "deploy"}, ("--help", "--token", "T", "--"), False)


@pytest.mark.parametrize(("name", "tokens"), [
    (":jobs", ["--bogus"]), (":jobs", ["extra"]), (":jobs", ["--json", "--json"]),
    (":runs", ["--job"]), (":runs", ["--job", "a", "--job", "b"]), (":logs", []),
    (":logs", ["a", "b"]), (":cancel", []), (":doctor", ["--bogus"]), (":plan", []),
    (":plan", ["--json", "deploy"]),
])
def test_parse_command_is_a_usage_error_naming_the_usage_when_tokens_are_invalid(
        name: str, tokens: list[str]) -> None:
    with pytest.raises(UsageError) as err:
        parse_command(COMMANDS_BY_NAME[name], tokens)

    assert f"usage: flwd {COMMANDS_BY_NAME[name].synopsis}" in err.value.detail


def test_unknown_command_lists_the_declared_commands(tmp_path: Path) -> None:
    code, _, err = _cli("--data-dir", str(tmp_path), ":nope")

    assert code == 2
    assert err == f"error[usage.invalid]: unknown command :nope (commands: {', '.join(COMMANDS_BY_NAME)})\n"


@pytest.mark.parametrize("option", GLOBAL_OPTIONS, ids=lambda o: o.name)
def test_each_global_option_reaches_the_config_overrides_when_given_before_the_command(
        option: Option) -> None:
    line = split_command_line([option.name, "v1", f"{option.name}=v2", ":jobs", option.name, "x"])

    expected = ("v1", "v2") if option.repeatable else "v2"
    assert getattr(line.overrides, option.field) == expected
    assert (line.command, line.rest) == (":jobs", (option.name, "x"))
