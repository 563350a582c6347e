"""The EndedSessions port in SQL, shared by the SQLite and PostgreSQL stores: one table
(``ended_sessions``) and the same statements, differing only in the placeholder."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, ClassVar, Sequence


def ended_sessions_table(sorted_text: str = "") -> tuple[str, ...]:
    """The schema step creating the table; *sorted_text* as in ``_sql_workers.tables``."""
    return (
        f"""CREATE TABLE ended_sessions (
            session_id TEXT{sorted_text} PRIMARY KEY,
            expires_at TEXT{sorted_text} NOT NULL
        )""",
        "CREATE INDEX ended_sessions_expiry ON ended_sessions (expires_at)",
    )


class SqlEndedSessions:
    """``EndedSessions`` over ``_write()`` and ``_read(sql, params)`` (see SqlWorkerRegistry)."""

    MARK: ClassVar[str]

    def _write(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _read(self, sql: str, params: Sequence[object]) -> Sequence[tuple[Any, ...]]:
        raise NotImplementedError

    def end_session(self, session_id: str, until: str, now: str) -> None:
        m = self.MARK
        with self._write() as conn:
            conn.execute(f"DELETE FROM ended_sessions WHERE expires_at < {m}", (now,))
            conn.execute(
                f"INSERT INTO ended_sessions (session_id, expires_at) VALUES ({m}, {m})"
                " ON CONFLICT (session_id) DO UPDATE SET expires_at = excluded.expires_at"
                " WHERE excluded.expires_at > ended_sessions.expires_at", (session_id, until))

    def session_ended(self, session_id: str) -> bool:
        return bool(self._read(f"SELECT 1 FROM ended_sessions WHERE session_id = {self.MARK}",
                               (session_id,)))
