"""Shared setup of the SQLite store's contract and migration tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Callable

from flwd.adapters.sqlite_store import MIGRATIONS, SqliteRunStore


def check_on_sqlite(path: Path, check: Callable[[SqliteRunStore], None]) -> None:
    """Run a port's contract *check* on a new SQLite store at *path*."""
    store = SqliteRunStore(path)
    try:
        check(store)
    finally:
        store.close()


def database_before(path: Path, step: tuple[str, ...]) -> None:
    """A database file migrated by a flwd that did not know the migration *step* yet."""
    before = MIGRATIONS[:MIGRATIONS.index(step)]
    conn = sqlite3.connect(path)
    for steps in before:
        for statement in steps:
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {len(before)}")
    conn.commit()
    conn.close()
