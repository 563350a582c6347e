"""SqliteRunStore: the store contract plus file, schema, concurrency and crash behaviour."""

from __future__ import annotations

import dataclasses
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Iterator

import pytest

from flwd.adapters.sqlite_store import COLUMNS, MIGRATIONS, SqliteRunStore
from flwd.domain.errors import FlwdError
from flwd.ports.store import RunRecord, RunStore
from tests.contracts.sources import check_source_store_contract
from tests.contracts.store import (
    check_count_by_status,
    check_list_limit_is_capped,
    check_store_contract,
    make_run,
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteRunStore]:
    store = SqliteRunStore(tmp_path / "data" / "flwd.db")
    yield store
    store.close()


def _seqs(store: SqliteRunStore, run_id: str) -> list[int]:
    return [e.seq for e in store.events(run_id)]


def test_sqlite_store_keeps_the_store_contract_when_empty(store: SqliteRunStore) -> None:
    check_store_contract(store)


def test_sqlite_store_counts_runs_by_status_when_metrics_ask(store: SqliteRunStore) -> None:
    check_count_by_status(store)


def test_sqlite_store_caps_the_page_size_when_limit_is_huge(store: SqliteRunStore) -> None:
    check_list_limit_is_capped(store)


def test_constructor_touches_nothing_when_called(tmp_path: Path) -> None:
    typed: RunStore = SqliteRunStore(tmp_path / "later" / "flwd.db")

    assert typed is not None
    assert not (tmp_path / "later").exists()


def test_database_file_is_private_when_created(store: SqliteRunStore) -> None:
    store.create(make_run("r1"), "run.created", {})

    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    for sibling in store.path.parent.iterdir():
        assert stat.S_IMODE(sibling.stat().st_mode) & 0o077 == 0, sibling


def test_schema_is_migrated_and_tuned_when_opened(store: SqliteRunStore) -> None:
    store.get("nothing")

    with sqlite3.connect(store.path) as conn:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert version == len(MIGRATIONS)
    assert journal == "wal"


def test_schema_holds_every_run_record_field_when_compared() -> None:
    assert set(COLUMNS) == {f.name for f in dataclasses.fields(RunRecord)}


def test_runs_survive_when_the_store_is_reopened(tmp_path: Path) -> None:
    first = SqliteRunStore(tmp_path / "flwd.db")
    first.create(make_run("r1", exit_code=3), "run.created", {"a": 1})
    first.close()

    second = SqliteRunStore(tmp_path / "flwd.db")
    try:
        run = second.get("r1")
        events = second.events("r1")
    finally:
        second.close()

    assert run is not None and run.exit_code == 3
    assert [e.as_dict()["data"] for e in events] == [{"a": 1}]


def test_store_reopens_when_used_after_close(store: SqliteRunStore) -> None:
    store.create(make_run("r1"), "run.created", {})
    store.close()

    store.append("r1", "run.output", {}, "2026-01-01T00:00:01.000Z")

    assert _seqs(store, "r1") == [1, 2]


def test_open_failure_is_a_store_error_when_path_is_a_directory(tmp_path: Path) -> None:
    store = SqliteRunStore(tmp_path)

    with pytest.raises(FlwdError) as err:
        store.get("r1")

    assert err.value.code == "run.store.failed"
    assert str(tmp_path) in err.value.detail


@pytest.mark.parametrize("data_dir", ["blocker", "blocker/sub"])
def test_open_failure_is_config_invalid_naming_data_dir_when_a_file_is_in_the_way(
        tmp_path: Path, data_dir: str) -> None:
    (tmp_path / "blocker").write_text("not a directory")
    store = SqliteRunStore(tmp_path / data_dir / "flwd.db")

    with pytest.raises(FlwdError) as err:
        store.list()

    assert (err.value.code, err.value.context["field"]) == ("config.invalid", "data_dir")
    assert err.value.detail == (f"data_dir {tmp_path / data_dir} cannot hold the run store "
                                "flwd.db: a file is in the way of the directory")


def test_appends_never_collide_when_two_connections_share_the_file(tmp_path: Path) -> None:
    one, two = SqliteRunStore(tmp_path / "flwd.db"), SqliteRunStore(tmp_path / "flwd.db")
    one.create(make_run("r1"), "run.created", {})

    def work(store: SqliteRunStore) -> None:
        for i in range(40):
            store.append("r1", "run.output", {"i": i}, "2026-01-01T00:00:01.000Z")

    threads = [threading.Thread(target=work, args=(s,)) for s in (one, two, one, two)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    one.close()
    two.close()

    assert _seqs(SqliteRunStore(tmp_path / "flwd.db"), "r1") == list(range(1, 162))


_APPENDER = textwrap.dedent(
    """
    import sys
    from flwd.adapters.sqlite_store import SqliteRunStore
    store = SqliteRunStore(sys.argv[1])
    for i in range(int(sys.argv[2])):
        store.append("r1", "run.output", {"pid": sys.argv[3], "i": i}, "2026-01-01T00:00:01.000Z")
    store.close()
    """
)


def test_appends_never_collide_when_two_processes_share_the_file(tmp_path: Path) -> None:
    path = tmp_path / "flwd.db"
    store = SqliteRunStore(path)
    store.create(make_run("r1"), "run.created", {})

    procs = [
        subprocess.Popen([sys.executable, "-c", _APPENDER, str(path), "60", str(n)])
        for n in range(2)
    ]
    codes = [proc.wait(timeout=60) for proc in procs]

    assert codes == [0, 0]
    assert _seqs(store, "r1") == list(range(1, 122))
    store.close()


_CRASHER = textwrap.dedent(
    """
    import os, sys
    from flwd.adapters.sqlite_store import SqliteRunStore
    store = SqliteRunStore(sys.argv[1])
    conn = store._connection()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("UPDATE runs SET status = 'running' WHERE run_id = 'r1'")
    conn.execute("INSERT INTO events VALUES ('r1', 2, 'run.started', 't', '{}')")
    conn.execute("INSERT INTO runs (run_id, job_id, status, profile, created_at)"
                 " VALUES ('r2', 'j', 'queued', 'secure', 't')")
    os._exit(9)  # the process dies mid-transaction
    """
)


def test_a_crash_mid_transaction_leaves_nothing_half_written_when_reopened(
    store: SqliteRunStore,
) -> None:
    store.create(make_run("r1"), "run.created", {})
    store.close()

    code = subprocess.run([sys.executable, "-c", _CRASHER, str(store.path)], timeout=60).returncode
    after = store.append("r1", "run.output", {}, "2026-01-01T00:00:02.000Z")

    survivor = store.get("r1")
    assert code == 9
    assert store.get("r2") is None
    assert survivor is not None and survivor.status == "queued"
    assert after.seq == 2
    assert _seqs(store, "r1") == [1, 2]


def test_open_refuses_when_the_schema_is_newer_than_this_flwd(tmp_path: Path) -> None:
    path = tmp_path / "flwd.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    store = SqliteRunStore(path)

    with pytest.raises(FlwdError) as err:
        store.get("r1")

    assert err.value.code == "run.store.failed" and "newer" in err.value.detail


def test_a_locked_database_is_a_coded_error_when_the_wait_runs_out(tmp_path: Path) -> None:
    path = tmp_path / "flwd.db"
    holder = SqliteRunStore(path)
    holder.create(make_run("r1"), "run.created", {})
    waiter = SqliteRunStore(path, busy_timeout=0.1)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(FlwdError) as err:
            waiter.append("r1", "run.output", {}, "2026-01-01T00:00:01.000Z")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    assert err.value.code == "run.store.failed" and "cannot write" in err.value.detail
    assert _seqs(holder, "r1") == [1]
    holder.close()
    waiter.close()


def test_a_full_database_is_a_coded_error_and_stores_nothing_when_written(
        store: SqliteRunStore) -> None:
    store.create(make_run("r1"), "run.created", {})
    connection = store._connection()  # noqa: SLF001 - SQLite's own size cap stands in for a full disk
    (pages,) = connection.execute("PRAGMA page_count").fetchone()
    connection.execute(f"PRAGMA max_page_count = {pages}")

    with pytest.raises(FlwdError) as err:
        store.append("r1", "run.output", {"line": "x" * 100_000}, "2026-01-01T00:00:01.000Z")

    assert err.value.code == "run.store.failed" and "full" in err.value.detail
    assert _seqs(store, "r1") == [1]
    store.append("r1", "run.output", {"line": "short"}, "2026-01-01T00:00:02.000Z")
    assert _seqs(store, "r1") == [1, 2]


def test_sqlite_store_keeps_the_source_store_contract_when_empty(store: SqliteRunStore) -> None:
    check_source_store_contract(store)
