"""The run store on PostgreSQL (``store_url``), shared by every process and host of a cluster.

psycopg 3 with its connection pool. Every write is one transaction; ``seq`` comes from the
run row's ``last_seq`` counter (``UPDATE ... RETURNING``: the row lock orders appends across
processes); ``claim`` is one conditional ``UPDATE``; the ``Idempotency-Key`` is a unique index.
Writes that add an event NOTIFY it (``pg_listen``). Secrets never reach it: records carry
``<secret>`` placeholders only, as in SQLite.
"""

from __future__ import annotations

import logging
import os
import threading
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Callable, Iterator, Mapping, Sequence

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool, PoolTimeout

from flwd.adapters import _run_codec as codec
from flwd.adapters._sql_reads import SELECT_RUN as _SELECT_RUN
from flwd.adapters._sql_reads import SqlRunReads
from flwd.adapters._sql_sessions import SqlEndedSessions
from flwd.adapters._sql_sources import SqlSources
from flwd.adapters._sql_workers import SqlWorkerRegistry
from flwd.adapters.pg_listen import CHANNEL, EventSignal
from flwd.adapters.pg_schema import SchemaTooNewError, migrate
from flwd.adapters.pg_url import redact
from flwd.domain.errors import (
    FlwdError,
    IdempotencyConflictError,
    RunNotFoundError,
    RunStoreError,
    StoreUnavailableError,
)
from flwd.ports.store import EventRecord, RunRecord

COLUMNS = codec.COLUMNS
_COLS = ", ".join(COLUMNS)
_INSERT_RUN = f"INSERT INTO runs ({_COLS}, last_seq) VALUES ({', '.join(['%s'] * len(COLUMNS))}, 1)"
_UPDATE_RUN = f"UPDATE runs SET {', '.join(f'{c} = %s' for c in COLUMNS[1:])} WHERE run_id = %s"
_INSERT_EVENT = "INSERT INTO events (run_id, seq, type, time, data) VALUES (%s, %s, %s, %s, %s)"
_NOTIFY = "SELECT pg_notify(%s, %s)"
_ACTIVE = list(codec.ACTIVE_STATUSES)

# Connection failures go to the caller as store.unavailable; the pool's own retry warnings
# would otherwise reach a CLI's stderr through logging's last-resort handler.
logging.getLogger("psycopg.pool").addHandler(logging.NullHandler())

Conn = psycopg.Connection[tuple[Any, ...]]


class PostgresRunStore(SqlRunReads, SqlSources, SqlWorkerRegistry, SqlEndedSessions):
    """``RunStore`` (and ``WorkerRegistry``) on PostgreSQL; connects (and migrates the schema) on first use."""

    MARK = "%s"

    def __init__(self, url: str, *, max_connections: int = 8, connect_timeout: float = 5.0) -> None:
        self.url = url
        self._max = max_connections
        self._timeout = connect_timeout
        self._lock = threading.Lock()
        self._pool: ConnectionPool[Conn] | None = None
        self._signal = EventSignal(self._listen_connection)
        self._pid = os.getpid()

    # --- RunStore -------------------------------------------------------------------

    def create(self, run: RunRecord, event_type: str, event_data: Mapping[str, Any]) -> EventRecord:
        values = codec.run_values(run)  # TypeError here, before anything is written
        row = (run.run_id, 1, event_type, run.created_at, codec.dumps(dict(event_data)))
        with self._write() as conn:
            try:
                conn.execute(_INSERT_RUN, values)
            except pg_errors.UniqueViolation as exc:
                raise _conflict(run, exc) from None
            _insert_event(conn, row)
        return codec.event_from_row(row)

    def append(
        self,
        run_id: str,
        event_type: str,
        event_data: Mapping[str, Any],
        time: str,
        run: RunRecord | None = None,
    ) -> EventRecord:
        codec.check_same_run(run_id, run)
        text = codec.dumps(dict(event_data))
        values = codec.run_values(run) if run is not None else None
        with self._write() as conn:
            found = conn.execute(
                "UPDATE runs SET last_seq = last_seq + 1 WHERE run_id = %s"
                " RETURNING last_seq, status", (run_id,)).fetchone()
            if found is None:
                raise RunNotFoundError(f"no run with id {run_id}", run_id=run_id)
            codec.check_still_active(run_id, str(found[1]))  # rolls the counter back
            row = (run_id, int(found[0]), event_type, time, text)
            _insert_event(conn, row)
            if run is not None and values is not None:
                try:
                    conn.execute(_UPDATE_RUN, (*values[1:], run_id))
                except pg_errors.UniqueViolation as exc:
                    raise _conflict(run, exc) from None
        return codec.event_from_row(row)

    def claim(self, run_id: str, owner: str, claimant: str) -> RunRecord | None:
        with self._write() as conn:
            row = conn.execute(
                f"UPDATE runs SET owner = %s WHERE run_id = %s AND owner = %s"
                f" AND status = ANY(%s) RETURNING {_COLS}",
                (claimant, run_id, owner, _ACTIVE)).fetchone()
        return codec.run_from_row(row) if row is not None else None

    # --- beyond the port: waiting across processes ----------------------------------

    def wait_for_events(self, run_id: str, after_seq: int, timeout: float) -> bool:
        """Block until *run_id* has an event after *after_seq*, written by any process
        (LISTEN/NOTIFY), or *timeout* seconds pass; True when there is one. Never raises for
        a lost connection: the waiter then learns of new events by its timeout."""
        def last_seq() -> int:
            rows = self._read("SELECT last_seq FROM runs WHERE run_id = %s", (run_id,))
            return int(rows[0][0]) if rows else 0

        return self._signal.wait(run_id, after_seq, timeout, last_seq)

    def watch_events(self, listener: Callable[[str | None], None]) -> Callable[[], None]:
        """Call *listener* with the run id of every event any process records (None after a
        reconnect of the LISTEN connection); returns the function that stops it."""
        return self._signal.watch(listener, self._timeout)

    def close(self) -> None:
        """Close the pool and the listener; the next call connects again."""
        self._signal.close()
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    # --- connections and transactions -------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Conn]:
        with self._errors("cannot write to"), self._connection() as conn, conn.transaction():
            yield conn

    def _read(self, sql: str, params: Sequence[object]) -> Sequence[tuple[Any, ...]]:
        with self._errors("cannot read"), self._connection() as conn:
            return conn.execute(sql, tuple(params)).fetchall()

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except PoolTimeout as exc:
            raise self._unavailable(exc) from None
        except pg_errors.UniqueViolation:
            raise  # translated by the caller, which knows the run
        except psycopg.Error as exc:
            if _is_connection_failure(exc):
                raise self._unavailable(exc) from None
            raise RunStoreError(f"{what} the run store at {redact(self.url)}: {exc}",
                                store=redact(self.url)) from None

    def _unavailable(self, exc: BaseException) -> FlwdError:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return StoreUnavailableError(
            f"the run store at {redact(self.url)} does not answer: {reason}",
            store=redact(self.url))

    def _connection(self) -> AbstractContextManager[Conn]:
        return self._open_pool().connection(timeout=self._timeout)

    def _open_pool(self) -> ConnectionPool[Conn]:
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the parent's pool and listener
                self._pool, self._pid = None, os.getpid()  # are left alone, never closed here
                self._signal = EventSignal(self._listen_connection)
            if self._pool is None:
                with self._errors("cannot migrate"):
                    with psycopg.connect(self.url, connect_timeout=_seconds(self._timeout)) as conn:
                        try:
                            migrate(conn)
                        except SchemaTooNewError as exc:
                            raise RunStoreError(str(exc), store=redact(self.url)) from None
                self._pool = ConnectionPool(
                    self.url, min_size=1, max_size=self._max, open=False, timeout=self._timeout,
                    kwargs={"connect_timeout": _seconds(self._timeout)},
                    check=ConnectionPool.check_connection, name="flwd-store")
                self._pool.open(wait=False)
            return self._pool

    def _listen_connection(self) -> Conn:
        return psycopg.connect(self.url, autocommit=True, connect_timeout=_seconds(self._timeout))


def _insert_event(conn: Conn, row: tuple[object, ...]) -> None:
    conn.execute(_INSERT_EVENT, row)
    conn.execute(_NOTIFY, (CHANNEL, f"{row[0]} {row[1]}"))


def _seconds(timeout: float) -> int:
    return max(1, round(timeout))  # libpq takes whole seconds (and reads 0 as "forever")


def _is_connection_failure(exc: psycopg.Error) -> bool:
    """Down, unreachable, restarting, or the connection broke: SQLSTATE classes 08 and 57P,
    or no SQLSTATE at all (the client could not talk to a server)."""
    state = exc.sqlstate
    return state is None or state.startswith("08") or state.startswith("57P")


def _conflict(run: RunRecord, exc: pg_errors.UniqueViolation) -> FlwdError:
    if exc.diag.constraint_name == "runs_idempotency":
        return IdempotencyConflictError(
            "idempotency key already used by another run", run_id=run.run_id)
    return FlwdError(f"run {run.run_id} already exists", run_id=run.run_id)
