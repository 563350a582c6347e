"""The WorkerRegistry contract on the fake and on SQLite (PostgreSQL: tests/integration)."""

from __future__ import annotations

from pathlib import Path

from flwd.adapters.fakes import FakeRunStore
from flwd.adapters.sqlite_store import SqliteRunStore
from tests.contracts.workers import check_worker_registry_contract


def test_fake_store_keeps_the_worker_registry_contract_when_empty() -> None:
    check_worker_registry_contract(FakeRunStore())


def test_sqlite_store_keeps_the_worker_registry_contract_when_empty(tmp_path: Path) -> None:
    store = SqliteRunStore(tmp_path / "flwd.db")
    try:
        check_worker_registry_contract(store)
    finally:
        store.close()


def test_sqlite_store_adds_the_registry_when_a_database_predates_it(tmp_path: Path) -> None:
    import sqlite3

    from flwd.adapters.sqlite_store import MIGRATIONS

    path = tmp_path / "flwd.db"
    conn = sqlite3.connect(path)
    for steps in MIGRATIONS[:-1]:
        for statement in steps:
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) - 1}")
    conn.commit()
    conn.close()

    store = SqliteRunStore(path)
    assert store.workers() == []
    store.close()

    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
