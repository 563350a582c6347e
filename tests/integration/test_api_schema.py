"""Schemathesis fuzzes a real plan-only server from its own OpenAPI document with every check.

Each finding it reports must be one of ``ALLOWED`` below, each with its reason: anything else
(a 5xx, an undocumented status or content type, a body off its schema, a wrong ``Allow``, auth
not enforced where the document says it is) fails the test.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any, Iterator, NamedTuple

from flwd.adapters.sqlite_store import SqliteRunStore
from flwd.ports.store import RunRecord
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


class Finding(NamedTuple):
    check: str  # schemathesis' failure code, e.g. ST202
    operation: str  # "METHOD /path" as in the document
    problem: str  # the flwd error code of the response ("" when not a problem document)
    detail: str


#: (check, operation, problem code, a phrase of the problem's detail) -> why it is acceptable.
ALLOWED: dict[tuple[str, str, str, str], str] = {
    ("ST202", "GET /runs", "request.invalid", "malformed cursor"):
        "cursor is opaque: only a next_cursor this server handed out is valid; any other "
        "string is refused with 400 (JSON Schema cannot describe 'a value we issued')",
    ("ST202", "POST /plans", "request.invalid", "not two different ones"):
        "job and job_id are synonyms; both given and different is refused with 400 (JSON "
        "Schema cannot say 'equal when both are present')",
    ("ST202", "POST /plans", "args.invalid", "argument problem"):
        "args are checked against the named job's own contract (GET /jobs/{job_id}), which "
        "the one body schema shared by every job cannot carry: 422 args.invalid, as documented",
    ("ST202", "POST /runs", "request.invalid", "not two different ones"):
        "as for POST /plans: job and job_id given and different",
    ("ST202", "POST /runs", "args.invalid", "argument problem"):
        "as for POST /plans: a plan-only server validates a run's arguments against the job's "
        "contract before it considers the runtime (SPEC section 2)",
    ("ST202", "POST /runs", "container.runtime.unavailable", "--no-runtime"):
        "this server is plan-only (--no-runtime) so that fuzzing starts no container: it "
        "refuses every valid run with 422 container.runtime.unavailable, as documented",
    ("ST202", "POST /sources", "source.trust.required", "trusted: true"):
        "trusted: false (or absent) is a well-formed body that SPEC section 10 answers with "
        "422 source.trust.required, as documented; a schema demanding true would turn that "
        "coded answer into a 400",
    ("ST202", "POST /sources", "request.invalid", "source reference"):
        "ref must be an image reference, which a JSON Schema pattern cannot describe exactly",
    ("ST202", "POST /sources", "container.runtime.unavailable", "--no-runtime"):
        "plan-only: a valid source request is refused with 422 (adding one pulls its image)",
}


def test_generated_requests_only_find_what_is_listed_as_allowed() -> None:
    base = shared_dir("schema-")
    for name in ("data", "home"):
        (base / name).mkdir(mode=0o755)
    write_job(base / "jobs", "hello", JOB)
    seed_finished_run(base / "data" / "flwd.db")
    report = base / "report.ndjson"
    server = start_server(base, ["--dev", "--no-runtime"], {})
    try:
        done = subprocess.run(
            [str(SCHEMATHESIS), "run", f"{server.url}/schema/openapi.json", "--checks", "all",
             "--max-examples", "20", "--seed", "1", "--request-timeout", "10",
             "--header", "Authorization: Bearer dev-token",
             "--report", "ndjson", "--report-ndjson-path", str(report)],
            capture_output=True, text=True, timeout=110, cwd=base,
        )
        findings = set(read_findings(report))
    finally:
        code = server.stop()
        log = server.log.read_text(errors="replace")
        remove_tree(base)

    unexpected = sorted(f for f in findings if not allowed(f))
    assert "SUMMARY" in done.stdout, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout, done.stdout[-4000:]
    assert not unexpected, "\n".join(map(str, unexpected)) + "\n" + done.stdout[-6000:]
    assert code == 0, log


def seed_finished_run(db: Path) -> None:
    """One finished run in the store, so that the stateful phase follows the document's links
    from ``GET /runs`` to a real run that ran (a plan-only server's runs all end ``error``
    without starting)."""
    store = SqliteRunStore(str(db))
    run = RunRecord(run_id="seeded0run01", job_id="hello", status="queued", profile="secure",
                    created_at="2026-01-01T00:00:00.000Z", args={"name": "Alice"})
    store.create(run, "run.created", {"job_id": "hello"})
    store.append(run.run_id, "run.output", {"stream": "stdout", "line": "hello Alice"},
                 "2026-01-01T00:00:01.000Z")
    done = run.evolve(status="succeeded", exit_code=0, started_at="2026-01-01T00:00:00.500Z",
                      finished_at="2026-01-01T00:00:01.500Z")
    store.append(run.run_id, "run.finished", {"status": "succeeded", "exit_code": 0},
                 "2026-01-01T00:00:01.500Z", run=done)
    store.close()


def allowed(finding: Finding) -> bool:
    return any(finding[:3] == key[:3] and key[3] in finding.detail for key in ALLOWED)


def read_findings(report: Path) -> Iterator[Finding]:
    """Every failed check in schemathesis' NDJSON event log, with the response it judged."""
    for line in report.read_text().splitlines():
        event = json.loads(line)
        recorder = (event.get("ScenarioFinished") or {}).get("recorder") or {}
        interactions = recorder.get("interactions") or {}
        for case_id, checks in (recorder.get("checks") or {}).items():
            for check in checks:
                if check.get("status") == "success":
                    continue
                failure = (check.get("failure_info") or {}).get("failure") or {}
                body = _problem(interactions.get(case_id) or {})
                yield Finding(str(failure.get("code", check.get("name"))),
                              str(failure.get("operation", "")),
                              str(body.get("code", "")), str(body.get("detail", "")))


def _problem(interaction: dict[str, Any]) -> dict[str, Any]:
    response = interaction.get("response") or {}
    try:
        body = json.loads(_text(response))
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _text(response: dict[str, Any]) -> str:
    content = response.get("content") or ""
    if isinstance(content, dict):  # {"$base64": ...}
        return base64.b64decode(content.get("$base64", "")).decode(errors="replace")
    return str(content)
