"""What `flwd :plan` and `flwd :jobs` load: no run store, executor, runtime SDK or web stack.

Start-up time is measured by bench/cli_bench.py; this only guards the lazy imports that keep
it low, in a fresh interpreter so that other tests' imports do not count.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "jobs"

RUN_SIDE = (
    "flwd.domain.run.execution",
    "flwd.domain.run.supervisor",
    "flwd.domain.run.use_cases",
    "flwd.adapters.sqlite_store",
    "flwd.adapters.pg_store",
    "psycopg",
    "psycopg_pool",
    "flwd.adapters.fs_secrets",
    "flwd.adapters.secret_sealer",
    "cryptography",
    "flwd.adapters.fs_workspace",
    "flwd.ports.store",
    "flwd.ports.runtime",
    "sqlite3",
    "hashlib",
    "podman",
    "docker",
    "requests",
    "litestar",
    "rich",
    "difflib",
)

PG_SOURCES = {"flwd.adapters.pg_store", "psycopg", "psycopg_pool", "flwd.ports.store"}

_PROBE = """
import io, json, sys
from flwd.entrypoints.cli.main import main
from flwd.entrypoints.cli.render import Io
out = io.StringIO()
code = main(sys.argv[1:], io=Io(out=out, err=io.StringIO()))
loaded = [m for m in json.loads(sys.stdin.read()) if m in sys.modules]
print(json.dumps({"code": code, "loaded": loaded, "out": out.getvalue()}))
"""


@pytest.mark.parametrize("argv", [
    [":plan", "demo-container", "--name", "x", "--json"],
    [":plan", "demo-container", "--name", "x"],
    [":jobs", "--json"],
])
@pytest.mark.parametrize("store_url", [None, "postgresql://127.0.0.1:1/none"])
def test_plans_and_listings_never_load_the_run_side(argv: list[str], store_url: str | None,
                                                    tmp_path: Path) -> None:
    env = {"FLWD_DATA_DIR": str(tmp_path / "data"), "FLWD_JOBS_DIR": str(EXAMPLES),
           "PATH": "/usr/bin:/bin", **({"FLWD_STORE_URL": store_url} if store_url else {})}
    done = subprocess.run([sys.executable, "-c", _PROBE, *argv], input=json.dumps(RUN_SIDE),
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["code"] == 0
    assert "demo-container" in result["out"]
    # SPEC 10: sources live in the run store, so a shared (PostgreSQL) store is read for the
    # add-on jobs; a SQLite file is read only when it exists (never created here)
    assert set(result["loaded"]) <= (PG_SOURCES if store_url else set())
    assert not (tmp_path / "data").exists()  # nor does it create the data dir or the store


def test_console_leaves_the_collector_off_only_for_commands_that_end_at_once(
        tmp_path: Path) -> None:
    """console() turns garbage collection off for start-up; anything that may run long
    (a job, :serve, :logs --follow...) must turn it back on."""
    probe = """
import gc, io, sys
from flwd.entrypoints.cli.main import main
from flwd.entrypoints.cli.render import Io
seen = {}
for argv in ([":plan", "demo-container", "--name", "x"], [":jobs"], [":runs"]):
    gc.disable()
    main(argv, io=Io(out=io.StringIO(), err=io.StringIO()))
    seen[argv[0]] = gc.isenabled()
print(seen)
"""
    env = {"FLWD_DATA_DIR": str(tmp_path / "data"), "FLWD_JOBS_DIR": str(EXAMPLES),
           "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "{':plan': False, ':jobs': False, ':runs': True}"


def test_top_help_loads_no_parser_library_nor_the_engine(tmp_path: Path) -> None:
    """`flwd --help` is generated from plain declarations (cli/grammar): no Cyclopts, no rich."""
    env = {"FLWD_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    avoided = [*RUN_SIDE, "cyclopts", "yaml", "dependency_injector", "flwd.entrypoints.container",
               "flwd.domain.model"]
    done = subprocess.run([sys.executable, "-c", _PROBE, "--help"], input=json.dumps(avoided),
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["code"] == 0 and result["out"].startswith("Usage: flwd ")
    assert result["loaded"] == []
