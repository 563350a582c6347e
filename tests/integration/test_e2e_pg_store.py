"""The real `flwd` CLI with FLWD_STORE_URL: a single-host run on a real runtime recorded in
PostgreSQL (not in SQLite), listed by `:runs`; an unreachable server is store.unavailable."""

from __future__ import annotations

import subprocess

from tests.integration.e2e_support import (  # noqa: F401 - fixtures
    EXAMPLES,
    Sandbox,
    rt,
    sandbox,
)
from tests.integration.pg_support import PgCluster, free_port

SECRET = "pg-e2e-s3cret-Value-81c2"


def test_demo_container_is_recorded_in_postgresql_when_store_url_is_set(
    sandbox: Sandbox, pg_url: str, pg_cluster: PgCluster
) -> None:
    env = {"FLWD_STORE_URL": pg_url}

    run = sandbox.flwd("demo-container", "--name", "Alice", jobs_dir=EXAMPLES, env=env)
    listed = sandbox.flwd(":runs", "--json", jobs_dir=EXAMPLES, env=env)

    assert run.code == 0, run.describe()
    assert "Alice" in run.out
    assert listed.code == 0, listed.describe()
    assert '"demo-container"' in listed.out and '"succeeded"' in listed.out
    database = pg_url.rsplit("/", 1)[1]
    rows = pg_cluster.sql("SELECT job_id, status, exit_code FROM runs", database)
    assert rows.split() == ["demo-container|succeeded|0"]
    assert not list(sandbox.data.glob("flwd.db*"))  # SQLite was never opened
    table = sandbox.flwd(":runs", jobs_dir=EXAMPLES, env=env)
    assert table.code == 0 and "demo-container" in table.out, table.describe()


def test_secret_never_reaches_postgresql_when_a_secret_run_is_recorded(
    sandbox: Sandbox, pg_url: str, pg_cluster: PgCluster
) -> None:
    token = sandbox.base / "token"
    token.write_text(SECRET)

    run = sandbox.flwd("greet-secret", "--api-token", f"@{token}", jobs_dir=EXAMPLES,
                       env={"FLWD_STORE_URL": pg_url})

    assert run.code == 0, run.describe()
    database = pg_url.rsplit("/", 1)[1]
    dump = subprocess.run(
        [str(pg_cluster.bindir / "pg_dump"), "-d", pg_url, "--data-only"],
        capture_output=True, text=True, timeout=60, check=True).stdout
    assert "greet-secret" in dump
    assert SECRET not in dump
    assert pg_cluster.sql("SELECT COUNT(*) FROM events", database).strip() != "0"


def test_run_fails_with_store_unavailable_when_nothing_listens_at_store_url(
    sandbox: Sandbox,
) -> None:
    url = f"postgresql://flwd:hunter2hunter2@127.0.0.1:{free_port()}/flwd"

    result = sandbox.flwd("demo-container", "--name", "Alice", jobs_dir=EXAMPLES,
                          env={"FLWD_STORE_URL": url})

    assert result.code == 125, result.describe()
    assert "error[store.unavailable]" in result.err
    assert "Traceback" not in result.err and "hunter2" not in result.err + result.out
