"""No secret-derived data in the run store: idempotency fingerprints leave secret values out,
and the migration clears the digests older flwd versions computed over them."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any, Iterator

import pytest
from litestar.testing import TestClient

from flwd.adapters.sqlite_store import MIGRATIONS, SqliteRunStore
from flwd.domain.model import ArgSpec, ArgType, JobSpec
from flwd.domain.plan.use_cases import RunRequest
from flwd.entrypoints.container import Container
from tests.unit.http_support import auth, client_with_jobs, close, fake_runtime, wait_finished

SECRET = "s3cr3t-Value-7f2c9d41"
SECRET_JOB = """
executor: container
image: alpine:3.20
args:
  - {name: name, type: string}
  - {name: api_token, type: string, format: secret}
"""
JOB = JobSpec(id="deploy", directory="/jobs/deploy", spec_path="/jobs/deploy/job.yaml",
              image="alpine:3.20", args=(ArgSpec(name="name", type=ArgType.STRING),
                                         ArgSpec(name="api-token", type=ArgType.STRING, secret=True),
                                         ArgSpec(name="dry", type=ArgType.BOOLEAN, secret=True)))


def old_digest(job: str, args: dict[str, object], profile: str | None = None) -> str:
    """The digest flwd stored before: SHA-256 of the whole request, secret values included."""
    body = {"job": job, "args": args, "profile": profile}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def secret_forms(*extra_hex: str) -> list[bytes]:
    """The secret as text and every SHA-256 form of it (hex, raw, base64) plus *extra_hex*."""
    raw = hashlib.sha256(SECRET.encode()).digest()
    forms = [SECRET.encode(), raw.hex().encode(), raw.hex().upper().encode(), raw,
             base64.b64encode(raw).rstrip(b"=")]
    return forms + [h.encode() for h in extra_hex]


def store_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob("flwd.db*")) if p.is_file())


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Container, TestClient[Any]]]:
    runtime = fake_runtime(lines=(f"token is {SECRET}",))
    with client_with_jobs(tmp_path, {"deploy": SECRET_JOB}, runtime) as (container, client):
        yield container, client


def test_store_file_holds_nothing_derived_from_a_secret_when_a_run_had_one(
        tmp_path: Path, server: tuple[Container, TestClient[Any]]) -> None:
    container, client = server
    args = {"name": "prod", "api_token": SECRET}

    response = client.post("/runs", json={"job": "deploy", "args": args},
                           headers={**auth(), "Idempotency-Key": "deploy-1"})
    assert response.status_code == 202
    assert wait_finished(client, response.json()["run_id"])["status"] == "succeeded"
    close(container)

    content = store_bytes(tmp_path / "data")
    assert b"deploy-1" in content  # the file is the run store that recorded this run
    for form in secret_forms(old_digest("deploy", args)):
        assert form not in content, form


def test_idempotent_retry_is_the_same_run_when_only_a_secret_value_differs(
        server: tuple[Container, TestClient[Any]]) -> None:
    _, client = server
    headers = {**auth(), "Idempotency-Key": "deploy-2"}

    first = client.post("/runs", json={"job": "deploy", "args": {"api_token": SECRET}}, headers=headers)
    retry = client.post("/runs", json={"job": "deploy", "args": {"api_token": "other"}}, headers=headers)
    changed = client.post("/runs", json={"job": "deploy", "args": {"api_token": SECRET, "name": "x"}},
                          headers=headers)

    assert retry.status_code == 202 and retry.json()["run_id"] == first.json()["run_id"]
    assert changed.status_code == 409 and changed.json()["code"] == "idempotency.conflict"


def test_fingerprint_leaves_secret_values_out_when_named_in_any_spelling() -> None:
    base = RunRequest(job="deploy", args={"name": "a", "api-token": SECRET}).digest(JOB)

    assert RunRequest(job="deploy", args={"name": "a", "api_token": "x"}).digest(JOB) != base
    assert RunRequest(job="deploy", args={"name": "a", "api-token": "x"}).digest(JOB) == base
    assert RunRequest(job="deploy", args={"name": "b", "api-token": SECRET}).digest(JOB) != base
    assert RunRequest(job="deploy", args={"name": "a"}).digest(JOB) != base
    flag = RunRequest(job="deploy", args={"no-dry": True}, from_text=True).digest(JOB)
    assert RunRequest(job="deploy", args={"no-dry": False}, from_text=True).digest(JOB) == flag


def old_store(path: Path, digest: str) -> None:
    """A run store as the previous schema version left it, one run with a secret digest."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    for steps in MIGRATIONS[:2]:
        for statement in steps:
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    conn.execute("INSERT INTO runs (run_id, job_id, status, profile, created_at, idempotency_key,"
                 " request_digest) VALUES ('r1', 'deploy', 'succeeded', 'secure',"
                 " '2026-01-01T00:00:00.000Z', 'old-key', ?)", (digest,))
    conn.close()


def test_migration_clears_old_digests_from_the_file_when_a_store_is_opened(tmp_path: Path) -> None:
    digest = old_digest("deploy", {"api_token": SECRET})
    old_store(tmp_path / "flwd.db", digest)
    assert digest.encode() in store_bytes(tmp_path)

    store = SqliteRunStore(tmp_path / "flwd.db")
    record = store.get("r1")
    store.close()

    assert record is not None and record.request_digest is None
    assert record.idempotency_key == "old-key"
    assert digest.encode() not in store_bytes(tmp_path)


def test_idempotent_retry_answers_the_stored_run_when_its_digest_was_cleared(
        server: tuple[Container, TestClient[Any]]) -> None:
    container, client = server
    headers = {**auth(), "Idempotency-Key": "deploy-3"}
    first = client.post("/runs", json={"job": "deploy", "args": {"name": "a"}}, headers=headers).json()
    wait_finished(client, first["run_id"])
    with sqlite3.connect(container.config()["db_path"]) as conn:  # as the migration left it
        conn.execute("UPDATE runs SET request_digest = NULL")

    retry = client.post("/runs", json={"job": "deploy", "args": {"name": "a"}}, headers=headers)

    assert retry.status_code == 202 and retry.json()["run_id"] == first["run_id"]
