"""The read side of the RunStore port in SQL, shared by the SQLite and PostgreSQL adapters:
the same tables and queries, differing only in the driver's placeholder and ``_read``."""

from __future__ import annotations

from typing import Any, ClassVar, Mapping, Sequence

from flwd.adapters import _run_codec as codec
from flwd.ports.store import EventRecord, RunPage, RunRecord

SELECT_RUN = f"SELECT {', '.join(codec.COLUMNS)} FROM runs"


class SqlRunReads:
    """``get``, ``find_by_idempotency_key``, ``list``, ``active``, ``count_by_status``,
    ``events`` and ``events_before`` over ``_read(sql, params)``; ``MARK`` is the placeholder (``?`` or ``%s``)."""

    MARK: ClassVar[str]

    def _read(self, sql: str, params: Sequence[object]) -> Sequence[tuple[Any, ...]]:
        raise NotImplementedError

    def get(self, run_id: str) -> RunRecord | None:
        rows = self._read(f"{SELECT_RUN} WHERE run_id = {self.MARK}", (run_id,))
        return codec.run_from_row(rows[0]) if rows else None

    def find_by_idempotency_key(self, key: str) -> RunRecord | None:
        rows = self._read(f"{SELECT_RUN} WHERE idempotency_key = {self.MARK}", (key,))
        return codec.run_from_row(rows[0]) if rows else None

    def list(
        self,
        job_id: str | None = None,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> RunPage:
        limit = codec.check_limit(limit)
        where, params = codec.list_filter(job_id, status, cursor, self.MARK)
        rows = self._read(
            f"{SELECT_RUN}{where} ORDER BY created_at DESC, run_id DESC LIMIT {self.MARK}",
            (*params, limit + 1))
        runs, next_cursor = codec.page([codec.run_from_row(row) for row in rows], limit)
        return RunPage(runs=runs, next_cursor=next_cursor)

    def active(self) -> Sequence[RunRecord]:
        marks = ", ".join([self.MARK] * len(codec.ACTIVE_STATUSES))
        sql = f"{SELECT_RUN} WHERE status IN ({marks}) ORDER BY created_at, run_id"
        return [codec.run_from_row(row) for row in self._read(sql, codec.ACTIVE_STATUSES)]

    def count_by_status(self) -> Mapping[str, int]:
        """Runs per status in one query."""
        rows = self._read("SELECT status, COUNT(*) FROM runs GROUP BY status", ())
        return {str(status): int(count) for status, count in rows}

    def events(self, run_id: str, after_seq: int = 0,
               limit: int | None = None) -> Sequence[EventRecord]:
        sql = ("SELECT run_id, seq, type, time, data FROM events"
               f" WHERE run_id = {self.MARK} AND seq > {self.MARK} ORDER BY seq")
        if limit is not None:
            rows = self._read(f"{sql} LIMIT {self.MARK}", (run_id, after_seq, limit))
        else:
            rows = self._read(sql, (run_id, after_seq))
        return [codec.event_from_row(row) for row in rows]

    def events_before(self, run_id: str, before_seq: int, limit: int) -> Sequence[EventRecord]:
        rows = self._read(
            "SELECT run_id, seq, type, time, data FROM events"
            f" WHERE run_id = {self.MARK} AND seq < {self.MARK} ORDER BY seq DESC LIMIT {self.MARK}",
            (run_id, before_seq, limit))
        return [codec.event_from_row(row) for row in reversed(rows)]
