"""Reads the sources of the SQLite run store for ``flwd :jobs`` and ``:plan``, without the
store adapter: no file means no source (nothing is created), and ``sqlite3`` is imported
only when there is a file to read."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from flwd.adapters._sql_sources import SELECT_SOURCES, source_from_row
from flwd.domain.errors import RunStoreError
from flwd.ports.sources import Source


class SqliteSourceListing:
    """``SourceListing`` on the run store's file, read-only; a store older than sources (no
    table yet) has none."""

    def __init__(self, path: str | Path, busy_timeout: float = 5.0) -> None:
        self.path = Path(path)
        self._timeout = busy_timeout

    def list_sources(self) -> Sequence[Source]:
        if not os.path.exists(self.path):
            return []
        import sqlite3

        try:
            conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                   timeout=self._timeout)
            try:
                rows = conn.execute(f"{SELECT_SOURCES} ORDER BY name").fetchall()
            finally:
                conn.close()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise RunStoreError(f"cannot read the sources in {self.path}: {exc}",
                                path=str(self.path)) from exc
        except sqlite3.DatabaseError as exc:
            raise RunStoreError(f"cannot read the sources in {self.path}: {exc}",
                                path=str(self.path)) from exc
        return [source_from_row(row) for row in rows]
