"""The WorkerRegistry port in SQL, shared by the SQLite and PostgreSQL stores: the same
tables (``workers``, ``run_beats``) and statements, differing only in the placeholder."""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Sequence

from flwd.adapters import _run_codec as codec
from flwd.adapters._sql_reads import SELECT_RUN
from flwd.ports.store import RunRecord
from flwd.ports.workers import RunBeat, WorkerBeat

WORKER_COLUMNS = ("worker_id", "host", "queues", "runtime", "rootless", "concurrency",
                  "active_runs", "last_heartbeat")
BEAT_COLUMNS = ("run_id", "worker_id", "container_started", "beat_at")


def tables(sorted_text: str = "") -> tuple[str, ...]:
    """The schema step creating the registry's tables; *sorted_text* is the collation clause
    of compared text columns (PostgreSQL: ``COLLATE "C"``, so that text order of RFC 3339
    times is time order whatever the database's locale, as in SQLite)."""
    return (
        f"""CREATE TABLE workers (
            worker_id TEXT{sorted_text} PRIMARY KEY,
            host TEXT NOT NULL,
            queues TEXT NOT NULL DEFAULT '[]',
            runtime TEXT NOT NULL DEFAULT '',
            rootless INTEGER NOT NULL DEFAULT 0,
            concurrency INTEGER NOT NULL DEFAULT 1,
            active_runs TEXT NOT NULL DEFAULT '[]',
            last_heartbeat TEXT{sorted_text} NOT NULL
        )""",
        f"""CREATE TABLE run_beats (
            run_id TEXT{sorted_text} PRIMARY KEY,
            worker_id TEXT{sorted_text} NOT NULL,
            container_started INTEGER NOT NULL DEFAULT 0,
            beat_at TEXT{sorted_text} NOT NULL
        )""",
        "CREATE INDEX run_beats_at ON run_beats (beat_at)",
        "CREATE INDEX run_beats_worker ON run_beats (worker_id)",
        "CREATE INDEX runs_owner ON runs (owner, status)",
    )


class SqlWorkerRegistry:
    """``WorkerRegistry`` over ``_write()`` (one transaction, a DB-API connection) and
    ``_read(sql, params)``; ``MARK`` is the placeholder (``?`` or ``%s``)."""

    MARK: ClassVar[str]

    def _write(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _read(self, sql: str, params: Sequence[object]) -> Sequence[tuple[Any, ...]]:
        raise NotImplementedError

    def beat(self, worker: WorkerBeat, runs: Sequence[RunBeat]) -> None:
        m = self.MARK
        worker_sql = _upsert("workers", WORKER_COLUMNS, m)
        beat_sql = _upsert("run_beats", BEAT_COLUMNS, m)
        kept = [run.run_id for run in runs]
        not_kept = f" AND run_id NOT IN ({', '.join([m] * len(kept))})" if kept else ""
        with self._write() as conn:
            conn.execute(worker_sql, _worker_values(worker))
            conn.execute(f"DELETE FROM run_beats WHERE worker_id = {m}{not_kept}",
                         (worker.worker_id, *kept))
            for run in runs:
                conn.execute(beat_sql, (run.run_id, worker.worker_id,
                                        int(run.container_started), run.beat_at))

    def workers(self, since: str | None = None) -> Sequence[WorkerBeat]:
        where = f" WHERE last_heartbeat >= {self.MARK}" if since is not None else ""
        rows = self._read(f"SELECT {', '.join(WORKER_COLUMNS)} FROM workers{where}"
                          " ORDER BY worker_id", () if since is None else (since,))
        return [_worker_from_row(row) for row in rows]

    def runs_of(self, owner: str) -> Sequence[RunRecord]:
        m = self.MARK
        active = ", ".join([m] * len(codec.ACTIVE_STATUSES))
        rows = self._read(f"{SELECT_RUN} WHERE owner = {m} AND status IN ({active})"
                          " ORDER BY created_at, run_id", (owner, *codec.ACTIVE_STATUSES))
        return [codec.run_from_row(row) for row in rows]

    def stale_runs(self, before: str) -> Sequence[RunBeat]:
        m = self.MARK
        active = ", ".join([m] * len(codec.ACTIVE_STATUSES))
        rows = self._read(
            f"SELECT {', '.join(BEAT_COLUMNS)} FROM run_beats WHERE beat_at < {m}"
            # a worker lost before its first heartbeat naming a run it had taken
            " UNION ALL SELECT r.run_id, w.worker_id, 0, w.last_heartbeat"
            " FROM runs r JOIN workers w ON w.worker_id = r.owner"
            f" WHERE w.last_heartbeat < {m} AND r.status IN ({active})"
            " AND NOT EXISTS (SELECT 1 FROM run_beats b WHERE b.run_id = r.run_id)"
            " ORDER BY 4, 1", (before, before, *codec.ACTIVE_STATUSES))
        return [RunBeat(run_id=r[0], worker_id=r[1], container_started=bool(r[2]),
                        beat_at=r[3]) for r in rows]

    def claim_lost(self, beat: RunBeat, claimant: str) -> RunRecord | None:
        m = self.MARK
        active = ", ".join([m] * len(codec.ACTIVE_STATUSES))
        with self._write() as conn:
            conn.execute(
                f"DELETE FROM run_beats WHERE run_id = {m} AND worker_id = {m} AND beat_at = {m}",
                (beat.run_id, beat.worker_id, beat.beat_at))
            if conn.execute(f"SELECT 1 FROM run_beats WHERE run_id = {m}",
                            (beat.run_id,)).fetchone() is not None:
                return None  # a newer heartbeat (or another worker's) names the run
            claimed = conn.execute(
                f"UPDATE runs SET owner = {m} WHERE run_id = {m} AND owner = {m}"
                f" AND status IN ({active}) AND NOT EXISTS (SELECT 1 FROM workers"
                f" WHERE worker_id = {m} AND last_heartbeat > {m})",
                (claimant, beat.run_id, beat.worker_id, *codec.ACTIVE_STATUSES,
                 beat.worker_id, beat.beat_at)).rowcount
            if claimed != 1:
                return None
            row = conn.execute(f"{SELECT_RUN} WHERE run_id = {m}", (beat.run_id,)).fetchone()
        return codec.run_from_row(row)

    def remove_worker(self, worker_id: str) -> None:
        with self._write() as conn:
            conn.execute(f"DELETE FROM workers WHERE worker_id = {self.MARK}", (worker_id,))

    def prune_workers(self, before: str) -> int:
        with self._write() as conn:
            return int(conn.execute(
                f"DELETE FROM workers WHERE last_heartbeat < {self.MARK}", (before,)).rowcount)


def _upsert(table: str, columns: Sequence[str], mark: str) -> str:
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
    return (f"INSERT INTO {table} ({', '.join(columns)})"
            f" VALUES ({', '.join([mark] * len(columns))})"
            f" ON CONFLICT ({columns[0]}) DO UPDATE SET {updates}")


def _worker_values(worker: WorkerBeat) -> tuple[object, ...]:
    return (worker.worker_id, worker.host, codec.dumps(list(worker.queues)), worker.runtime,
            int(worker.rootless), int(worker.concurrency), codec.dumps(list(worker.active_runs)),
            worker.last_heartbeat)


def _worker_from_row(row: Sequence[Any]) -> WorkerBeat:
    return WorkerBeat(worker_id=row[0], host=row[1], queues=tuple(json.loads(row[2])),
                      runtime=row[3], rootless=bool(row[4]), concurrency=int(row[5]),
                      active_runs=tuple(json.loads(row[6])), last_heartbeat=row[7])
