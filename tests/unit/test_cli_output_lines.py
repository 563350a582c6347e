"""Errors and listings stay one line per item, whatever the underlying message holds (SPEC 7)."""

from __future__ import annotations

import io as stdio
from pathlib import Path

from flwd.entrypoints.cli.main import main
from flwd.entrypoints.cli.render import Io


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = stdio.StringIO(), stdio.StringIO()
    code = main(list(argv), Io(out=out, err=err), {"HOME": "/nonexistent"})
    return code, out.getvalue(), err.getvalue()


def test_error_is_one_line_when_the_config_file_is_binary(tmp_path: Path) -> None:
    config = tmp_path / "flwd.yaml"
    config.write_bytes(b"\x00\x01\x02binary")

    code, _, err = _cli("--config", str(config), ":jobs")

    assert code == 2
    assert err.startswith("error[config.invalid]: ") and err.count("\n") == 1


def test_invalid_job_is_one_listing_line_when_its_spec_is_binary(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "job.yaml").write_bytes(b"\x12\x00garbage\xff")
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "job.yaml").write_text("executor: container\nimage: alpine:3.20\n")

    code, out, _ = _cli("--jobs-dir", str(tmp_path), "--data-dir", str(tmp_path / "d"), ":jobs")

    assert code == 0
    assert out.splitlines()[0].startswith("ok")
    assert len(out.splitlines()) == 2 and "INVALID:" in out.splitlines()[1]


def test_error_is_one_line_when_planning_a_job_whose_spec_is_binary(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "job.yaml").write_bytes(b"\x12\x00garbage\xff")

    code, _, err = _cli("--jobs-dir", str(tmp_path), "--data-dir", str(tmp_path / "d"), ":plan", "bin")

    assert code == 2
    assert err.startswith("error[spec.invalid]: ") and err.count("\n") == 1
