"""Schemathesis fuzzes a real plan-only server from its own OpenAPI document: never a 5xx."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.integration.api_support import remove_tree, shared_dir, start_server, write_job

# Installed by scripts/bootstrap in its own venv, away from the product's dependencies.
SCHEMATHESIS = Path(__file__).resolve().parents[2] / ".venv-tools" / "bin" / "schemathesis"

JOB = """\
executor: container
image: alpine:3.20
args:
  - {name: name, type: string, required: true}
  - {name: level, type: integer, minimum: 1, maximum: 5}
"""


def test_generated_requests_never_get_a_server_error() -> None:
    base = shared_dir("schema-")
    for name in ("data", "home"):
        (base / name).mkdir(mode=0o755)
    write_job(base / "jobs", "hello", JOB)
    server = start_server(base, ["--dev", "--no-runtime"], {})
    try:
        done = subprocess.run(
            [str(SCHEMATHESIS), "run",
             f"{server.url}/schema/openapi.json", "--checks", "not_a_server_error",
             "--max-examples", "20", "--seed", "1", "--request-timeout", "10",
             "--header", "Authorization: Bearer dev-token"],
            capture_output=True, text=True, timeout=110, cwd=base,
        )
    finally:
        code = server.stop()
        log = server.log.read_text(errors="replace")
        remove_tree(base)

    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout.split("SUMMARY")[-1]
    assert code == 0, log
