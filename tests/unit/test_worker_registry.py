"""The WorkerRegistry contract on the fake and on SQLite (PostgreSQL: tests/integration)."""

from __future__ import annotations

from pathlib import Path

from flwd.adapters.fakes import FakeRunStore
from flwd.adapters._sql_workers import tables
from flwd.adapters.sqlite_store import SqliteRunStore
from tests.contracts.workers import check_worker_registry_contract
from tests.unit.sqlite_support import check_on_sqlite, database_before


def test_fake_store_keeps_the_worker_registry_contract_when_empty() -> None:
    check_worker_registry_contract(FakeRunStore())


def test_sqlite_store_keeps_the_worker_registry_contract_when_empty(tmp_path: Path) -> None:
    check_on_sqlite(tmp_path / "flwd.db", check_worker_registry_contract)


def test_sqlite_store_adds_the_registry_when_a_database_predates_it(tmp_path: Path) -> None:
    import sqlite3

    from flwd.adapters.sqlite_store import MIGRATIONS

    path = tmp_path / "flwd.db"
    database_before(path, tables())

    store = SqliteRunStore(path)
    assert store.workers() == []
    store.close()

    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
