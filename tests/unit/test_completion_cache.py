"""The completion cache: a Tab reads what it kept of the specs, unless any spec changed."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest

from flwd.entrypoints.cli.completion_cache import CachedJobs

SPEC = """executor: container
image: alpine:3.20
command: [echo]
env: {PLAIN_ENV: env-value-do-not-cache}
args:
  - {name: mode, type: string, enum: [fast, slow], default: fast}
  - {name: target, type: string, default: default-value-do-not-cache, description: Where to}
  - {name: token, type: string, secret: true, description: The API token}
  - {name: dry_run, type: boolean, default: true}
"""
VERSION = "9.9.9"


def aged(*paths: Path, seconds: float = 60) -> None:
    """Date *paths* back: the cache trusts only specs that settled (see _SETTLE_NS)."""
    past = time.time() - seconds
    for path in paths:
        os.utime(path, (past, past))


def add_job(root: Path, job_id: str, spec: str = SPEC, *, age: float = 60) -> Path:
    job = root / job_id
    job.mkdir(parents=True, exist_ok=True)
    (job / "job.yaml").write_text(spec)
    aged(job / "job.yaml", job, root, seconds=age)
    return job


def source(tmp_path: Path) -> CachedJobs:
    return CachedJobs([str(tmp_path / "jobs")], tmp_path / "data", VERSION)


def cache_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "data").glob("completion-*.json"))


def ids(tmp_path: Path) -> list[str]:
    return [job.id for job in source(tmp_path).jobs()]


def enum_of(tmp_path: Path, job_id: str, arg: str) -> tuple[object, ...] | None:
    job = source(tmp_path).job(job_id)
    assert job is not None
    spec = job.arg(arg)
    assert spec is not None
    return spec.enum


def test_specs_are_not_read_again_when_the_cache_is_fresh(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    add_job(tmp_path / "jobs", "hello")
    assert ids(tmp_path) == ["hello"]
    monkeypatch.setattr("flwd.adapters.yaml_catalog.YamlJobCatalog.documents",
                        lambda self: pytest.fail("specs read although the cache was fresh"))
    job = source(tmp_path).job("hello")
    assert job is not None
    assert [(a.name, a.type.value, a.required) for a in job.args] == [
        ("mode", "string", False), ("target", "string", False), ("token", "string", False),
        ("dry_run", "boolean", False)]
    assert job.args[0].enum == ("fast", "slow")
    assert job.args[1].description == "Where to"


def test_cache_file_is_private_when_written(tmp_path: Path) -> None:
    add_job(tmp_path / "jobs", "hello")
    ids(tmp_path)
    [cache] = cache_files(tmp_path)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert not [p for p in cache.parent.iterdir() if p.name.endswith(".tmp")]


def test_new_enum_is_offered_when_a_spec_is_edited(tmp_path: Path) -> None:
    job = add_job(tmp_path / "jobs", "hello")
    assert enum_of(tmp_path, "hello", "mode") == ("fast", "slow")
    (job / "job.yaml").write_text(SPEC.replace("fast", "quik"))  # same size
    aged(job / "job.yaml", job, seconds=30)
    assert enum_of(tmp_path, "hello", "mode") == ("quik", "slow")


def test_edited_spec_is_seen_when_it_changed_just_now(tmp_path: Path) -> None:
    job = add_job(tmp_path / "jobs", "hello")
    assert enum_of(tmp_path, "hello", "mode") == ("fast", "slow")
    (job / "job.yaml").write_text(SPEC.replace("[fast, slow]", "[fast, slow, safe]"))
    assert enum_of(tmp_path, "hello", "mode") == ("fast", "slow", "safe")
    (job / "job.yaml").write_text(SPEC.replace("[fast, slow]", "[fast, slow, sure]"))  # same size
    assert enum_of(tmp_path, "hello", "mode") == ("fast", "slow", "sure")


def test_job_is_offered_when_added_and_not_when_removed(tmp_path: Path) -> None:
    root = tmp_path / "jobs"
    add_job(root, "hello")
    assert ids(tmp_path) == ["hello"]
    add_job(root, "world")
    assert ids(tmp_path) == ["hello", "world"]
    (root / "hello" / "job.yaml").unlink()
    (root / "hello").rmdir()
    aged(root)
    assert ids(tmp_path) == ["world"]


def test_job_is_offered_when_its_missing_script_appears(tmp_path: Path) -> None:
    spec = "executor: container\nimage: alpine:3.20\nscript: bin/main.sh\n"
    job = add_job(tmp_path / "jobs", "scripted", spec)
    (job / "bin").mkdir()
    aged(job / "bin", job)
    assert ids(tmp_path) == []
    (job / "bin" / "main.sh").write_text("echo hi\n")
    aged(job / "bin" / "main.sh", job / "bin")
    assert ids(tmp_path) == ["scripted"]


@pytest.mark.parametrize("content", [b"\x00\xffnot json", b"[]", b'{"format": 1}', None])
def test_corrupt_cache_is_ignored_when_read(tmp_path: Path, content: bytes | None) -> None:
    add_job(tmp_path / "jobs", "hello")
    ids(tmp_path)
    [cache] = cache_files(tmp_path)
    if content is None:  # the right key, but jobs that make no sense
        data = json.loads(cache.read_bytes())
        cache.write_text(json.dumps({**data, "jobs": [{"id": "hello", "args": "x"}]}))
    else:
        cache.write_bytes(content)
    assert ids(tmp_path) == ["hello"]
    assert enum_of(tmp_path, "hello", "mode") == ("fast", "slow")
    assert json.loads(cache.read_bytes())["jobs"][0]["id"] == "hello"  # rebuilt


def test_specs_are_read_when_the_cache_cannot_be_written(tmp_path: Path) -> None:
    add_job(tmp_path / "jobs", "hello")
    (tmp_path / "data").write_text("a file where the data directory should be")
    assert ids(tmp_path) == ["hello"]


def test_cache_holds_no_default_or_value_when_written(tmp_path: Path) -> None:
    add_job(tmp_path / "jobs", "hello")
    ids(tmp_path)
    [cache] = cache_files(tmp_path)
    text = cache.read_text()
    assert "token" in text and "The API token" in text  # the secret's name and help only
    for value in ("default-value-do-not-cache", "env-value-do-not-cache", "PLAIN_ENV", '"default"'):
        assert value not in text
    args = json.loads(text)["jobs"][0]["args"]
    assert all(set(arg) == {"name", "type", "required", "description", "enum"} for arg in args)


_PROBE = """
import json, sys
from flwd.entrypoints.cli.main import main
code = main(sys.argv[1:])
heavy = ("yaml", "flwd.adapters.yaml_catalog", "flwd.domain.spec.catalog", "flwd.entrypoints.cli.argv")
print(json.dumps({"code": code, "loaded": [m for m in heavy if m in sys.modules]}))
"""


def test_tab_loads_no_yaml_or_validation_when_the_cache_is_fresh(tmp_path: Path) -> None:
    import subprocess
    import sys

    add_job(tmp_path / "jobs", "hello")
    env = {"HOME": str(tmp_path), "FLWD_JOBS_DIR": str(tmp_path / "jobs"), "LANG": "C.UTF-8"}
    runs = [subprocess.run([sys.executable, "-c", _PROBE, ":__complete", "hello", "--mode", ""],
                           capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60,
                           check=False) for _ in range(2)]
    first, second = (run.stdout.splitlines() for run in runs)
    assert first[:3] == second[:3] == ["words", "fast\t", "slow\t"], runs[0].stderr
    assert json.loads(first[3])["loaded"] != []  # the first Tab read the specs
    assert json.loads(second[3]) == {"code": 0, "loaded": []}
