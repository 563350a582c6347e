"""The human `flwd :plan` shows what the JSON plan shows (SPEC section 5), in plain words."""

from __future__ import annotations

import io as stdio
from pathlib import Path

from flwd.entrypoints.cli.main import main
from flwd.entrypoints.cli.render import Io
from flwd.entrypoints.container import Container
from tests.conftest import write_job

SPEC = """\
executor: container
image: ghcr.io/acme/tool:1
command: [/bin/true]
timeout: 90s
container: {network: bridge}
args:
  - {name: name, type: string}
  - {name: api_token, type: string, format: secret}
"""


def _plan(engine: Container, *argv: str) -> tuple[int, str]:
    out, err = stdio.StringIO(), stdio.StringIO()
    code = main([":plan", *argv], Io(out=out, err=err), {"HOME": "/nonexistent"}, container=engine)
    return code, out.getvalue()


def test_plan_text_lists_arguments_with_secrets_as_placeholders_when_a_secret_is_given(
        engine: Container, jobs_root: Path) -> None:
    write_job(jobs_root, "tool", SPEC)

    code, out = _plan(engine, "tool", "--name", "Alice", "--api-token", "tok-424242")

    assert code == 0 and "tok-424242" not in out
    assert "  name=Alice" in out and "  api_token=<secret>" in out


def test_plan_text_says_the_run_would_be_denied_when_a_decision_denies(
        engine: Container, jobs_root: Path) -> None:
    write_job(jobs_root, "tool", SPEC)

    code, out = _plan(engine, "tool")

    assert code == 0
    assert "allowed:  no (denied: policy.override.denied)" in out
    assert "timeout:  90s" in out


def test_plan_text_uses_no_python_words_when_settings_are_unset(
        engine: Container, jobs_root: Path) -> None:
    write_job(jobs_root, "tool", SPEC)

    _, out = _plan(engine, "tool")

    assert "None" not in out and "True" not in out and "False" not in out
    assert "read_only_rootfs: true" in out


def test_plan_text_keeps_each_value_on_its_line_when_values_hold_control_characters(
        engine: Container, jobs_root: Path) -> None:
    """A value must not forge plan lines, nor move the cursor to overwrite the settings shown
    (an operator reads this plan to decide whether the run is acceptable)."""
    write_job(jobs_root, "tool", SPEC.replace(
        "timeout: 90s", 'timeout: 90s\nenv: {NOTE: "x\\e[8A\\e[J\\r  network: none"}'))

    code, out = _plan(engine, "tool", "--name", "Al\nFLWD_RUN_ID=forged\u2028ice")
    lines = out.splitlines()

    assert code == 0
    assert "\x1b" not in out and "\r" not in out and "\u2028" not in out
    assert "FLWD_RUN_ID=forged" not in [line.strip() for line in lines]
    assert [line for line in lines if line.startswith("  name=")] == [
        "  name=Al\\nFLWD_RUN_ID=forged\\u2028ice"]
    assert "  NOTE=x\\x1b[8A\\x1b[J\\r  network: none" in lines


def test_job_listing_keeps_each_job_on_its_line_when_its_name_holds_control_characters(
        engine: Container, jobs_root: Path) -> None:
    write_job(jobs_root, "tool", SPEC + 'name: "Tool\\nevil  INVALID: forged\\e[2K"\n')
    out, err = stdio.StringIO(), stdio.StringIO()

    code = main([":jobs"], Io(out=out, err=err), {"HOME": "/nonexistent"}, container=engine)

    assert code == 0
    assert out.getvalue().splitlines() == ["tool  Tool\\nevil  INVALID: forged\\x1b[2K"]
