"""Sources in SQL, shared by the SQLite and PostgreSQL run stores: one table, one row each."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, ClassVar, Sequence

from flwd.domain.errors import SourceExistsError, SourceNotFoundError
from flwd.ports.sources import Source

# Every Source field, in column order.
SOURCE_COLUMNS = (
    "name", "type", "ref", "trusted", "pull_policy", "image", "digest", "addon_name",
    "addon_version", "manifest", "added_at", "refreshed_at",
)  # fmt: skip
SELECT_SOURCES = f"SELECT {', '.join(SOURCE_COLUMNS)} FROM sources"


def source_values(source: Source) -> tuple[object, ...]:
    values = {name: getattr(source, name) for name in SOURCE_COLUMNS}
    values["trusted"] = 1 if source.trusted else 0
    return tuple(values[name] for name in SOURCE_COLUMNS)


def source_from_row(row: Sequence[Any]) -> Source:
    values = dict(zip(SOURCE_COLUMNS, row))
    values["trusted"] = bool(values["trusted"])
    return Source(**values)


class SqlSources:
    """The ``SourceStore`` port over the store's ``_write()`` transaction and ``_read``;
    ``MARK`` is the driver's placeholder (``?`` or ``%s``)."""

    MARK: ClassVar[str]

    def _write(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _read(self, sql: str, params: Sequence[object]) -> Sequence[tuple[Any, ...]]:
        raise NotImplementedError

    def add_source(self, source: Source) -> None:
        marks = ", ".join([self.MARK] * len(SOURCE_COLUMNS))
        # ON CONFLICT: a name taken by another process meanwhile is source.exists, not a
        # driver-specific integrity error
        sql = (f"INSERT INTO sources ({', '.join(SOURCE_COLUMNS)}) VALUES ({marks})"
               " ON CONFLICT (name) DO NOTHING")
        with self._write() as conn:
            added = conn.execute(sql, source_values(source)).rowcount
        if added != 1:
            raise SourceExistsError(f"a source named {source.name!r} is already added",
                                    source=source.name)

    def replace_source(self, source: Source) -> None:
        sets = ", ".join(f"{column} = {self.MARK}" for column in SOURCE_COLUMNS[1:])
        same = f"name = {self.MARK} AND ref = {self.MARK} AND added_at = {self.MARK}"
        with self._write() as conn:
            changed = conn.execute(f"UPDATE sources SET {sets} WHERE {same}",
                                   (*source_values(source)[1:], source.name, source.ref,
                                    source.added_at)).rowcount
        if changed != 1:
            raise _not_found(source.name, " (or it was removed and added again meanwhile)")

    def remove_source(self, name: str) -> Source:
        with self._write() as conn:
            row = conn.execute(f"{SELECT_SOURCES} WHERE name = {self.MARK}", (name,)).fetchone()
            if row is None:
                raise _not_found(name)
            conn.execute(f"DELETE FROM sources WHERE name = {self.MARK}", (name,))
        return source_from_row(row)

    def get_source(self, name: str) -> Source | None:
        rows = self._read(f"{SELECT_SOURCES} WHERE name = {self.MARK}", (name,))
        return source_from_row(rows[0]) if rows else None

    def list_sources(self) -> Sequence[Source]:
        return [source_from_row(row) for row in self._read(f"{SELECT_SOURCES} ORDER BY name", ())]


def _not_found(name: str, why: str = "") -> SourceNotFoundError:
    return SourceNotFoundError(f"no source named {name!r}{why}", source=name)


SOURCES_TABLE = """CREATE TABLE sources (
            name TEXT {collate} PRIMARY KEY,
            type TEXT NOT NULL,
            ref TEXT NOT NULL,
            trusted INTEGER NOT NULL,
            pull_policy TEXT NOT NULL,
            image TEXT NOT NULL,
            digest TEXT NOT NULL,
            addon_name TEXT NOT NULL DEFAULT '',
            addon_version TEXT NOT NULL DEFAULT '',
            manifest TEXT NOT NULL,
            added_at TEXT NOT NULL,
            refreshed_at TEXT NOT NULL
        )"""
