"""The run store on one SQLite file (WAL), shared by CLI and API server, even across processes."""

from __future__ import annotations

import errno
import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from flwd.adapters import _run_codec as codec
from flwd.adapters._sql_reads import SELECT_RUN as _SELECT_RUN
from flwd.adapters._sql_reads import SqlRunReads
from flwd.adapters._sql_sessions import SqlEndedSessions, ended_sessions_table
from flwd.adapters._sql_sources import SOURCES_TABLE, SqlSources
from flwd.adapters._sql_workers import SqlWorkerRegistry, tables
from flwd.domain.errors import (
    ConfigInvalidError,
    FlwdError,
    IdempotencyConflictError,
    RunNotFoundError,
    RunStoreError,
)
from flwd.ports.sources import Source
from flwd.ports.store import EventRecord, RunRecord

COLUMNS = codec.COLUMNS

# Applied in order, each in its own transaction; PRAGMA user_version counts those applied.
# Never edit a step once released: add a new one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            job_id TEXT NOT NULL,
            status TEXT NOT NULL,
            profile TEXT NOT NULL,
            created_at TEXT NOT NULL,
            args TEXT NOT NULL DEFAULT '{}',
            decisions TEXT NOT NULL DEFAULT '[]',
            runtime TEXT NOT NULL DEFAULT '',
            image TEXT NOT NULL DEFAULT '',
            container_id TEXT NOT NULL DEFAULT '',
            started_at TEXT,
            finished_at TEXT,
            exit_code INTEGER,
            code TEXT,
            detail TEXT,
            idempotency_key TEXT,
            request_digest TEXT
        )""",
        "CREATE INDEX runs_newest ON runs (created_at DESC, run_id DESC)",
        "CREATE INDEX runs_job ON runs (job_id, created_at DESC)",
        "CREATE INDEX runs_status ON runs (status)",
        "CREATE UNIQUE INDEX runs_idempotency ON runs (idempotency_key)"
        " WHERE idempotency_key IS NOT NULL",
        """CREATE TABLE events (
            run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            type TEXT NOT NULL,
            time TEXT NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (run_id, seq)
        ) WITHOUT ROWID""",
    ),
    ("ALTER TABLE runs ADD COLUMN owner TEXT NOT NULL DEFAULT ''",),
    # Digests up to here hashed secret values unsalted (a guess could be confirmed offline
    # from the file); they cannot be recomputed without the secrets, so they go. With
    # secure_delete on, SQLite zeroes the old bytes instead of leaving them in free space.
    ("UPDATE runs SET request_digest = NULL WHERE request_digest IS NOT NULL",),
    # Sources (SPEC section 10) live beside the runs; a run records its job's origin.
    (SOURCES_TABLE.format(collate=""), "ALTER TABLE runs ADD COLUMN origin TEXT NOT NULL DEFAULT '{}'"),
    # cluster mode's worker registry (SPEC section 11); empty in single-host mode
    tables(),
    # the console's signed-out sessions (SPEC section 12), until their cookies expire
    ended_sessions_table(),
)

_INSERT_RUN = f"INSERT INTO runs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
_UPDATE_RUN = f"UPDATE runs SET {', '.join(f'{c} = ?' for c in COLUMNS[1:])} WHERE run_id = ?"
_INSERT_EVENT = "INSERT INTO events (run_id, seq, type, time, data) VALUES (?, ?, ?, ?, ?)"
_STORAGE_FAULTS = (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS)


class SqliteRunStore(SqlRunReads, SqlSources, SqlWorkerRegistry, SqlEndedSessions):
    """``RunStore`` (and ``WorkerRegistry``) on one SQLite file: WAL, ``BEGIN IMMEDIATE`` writes, lazy connection.

    One connection serves every thread behind a lock; other processes on the same file are
    serialised by SQLite's own locking (``busy_timeout`` 5 s).
    """

    MARK = "?"

    def __init__(self, path: str | Path, busy_timeout: float = 5.0) -> None:
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None

    # --- RunStore -------------------------------------------------------------------

    def create(self, run: RunRecord, event_type: str, event_data: Mapping[str, Any]) -> EventRecord:
        with self._write() as conn:
            try:
                conn.execute(_INSERT_RUN, _run_values(run))
            except sqlite3.IntegrityError as exc:
                raise _conflict(run, exc) from exc
            return _insert_event(conn, run.run_id, 1, event_type, run.created_at, event_data)

    def append(
        self,
        run_id: str,
        event_type: str,
        event_data: Mapping[str, Any],
        time: str,
        run: RunRecord | None = None,
    ) -> EventRecord:
        codec.check_same_run(run_id, run)
        with self._write() as conn:
            found = conn.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if found is None:
                raise RunNotFoundError(f"no run with id {run_id}", run_id=run_id)
            codec.check_still_active(run_id, str(found[0]))
            (seq,) = conn.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE run_id = ?", (run_id,)
            ).fetchone()
            event = _insert_event(conn, run_id, seq, event_type, time, event_data)
            if run is not None:
                values = _run_values(run)
                try:
                    conn.execute(_UPDATE_RUN, (*values[1:], run_id))
                except sqlite3.IntegrityError as exc:
                    raise _conflict(run, exc) from exc
            return event

    def claim(self, run_id: str, owner: str, claimant: str) -> RunRecord | None:
        with self._write() as conn:
            changed = conn.execute(
                f"UPDATE runs SET owner = ? WHERE run_id = ? AND owner = ? AND status IN "
                f"({', '.join('?' * len(codec.ACTIVE_STATUSES))})",
                (claimant, run_id, owner, *codec.ACTIVE_STATUSES),
            ).rowcount
            if changed != 1:
                return None
            row = conn.execute(f"{_SELECT_RUN} WHERE run_id = ?", (run_id,)).fetchone()
            return _run_from_row(row)

    def list_sources(self) -> Sequence[Source]:
        """No database file yet: no source was ever added (``flwd :jobs`` creates none)."""
        if self._conn is None and not self.path.exists():
            return []
        return SqlSources.list_sources(self)

    def close(self) -> None:
        """Close the connection; the next call opens a new one."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # --- connection and transactions ------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken with the write lock up front so seq reads are safe."""
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    _rollback(conn)
                    raise
            except sqlite3.IntegrityError:
                raise  # translated by the caller, which knows the run
            except sqlite3.DatabaseError as exc:  # full disk, I/O error, lock held, corrupt file
                raise self._failure("cannot write to", exc) from exc

    def _read(self, sql: str, params: Sequence[object]) -> Sequence[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._connection().execute(sql, tuple(params)).fetchall()
            except sqlite3.DatabaseError as exc:
                raise self._failure("cannot read", exc) from exc

    def _failure(self, what: str, exc: BaseException) -> FlwdError:
        return RunStoreError(f"{what} the run store {self.path}: {exc}", path=str(self.path))

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self._conn = self._open()
            except OSError as exc:  # the directory or the file cannot be made: a setting to fix
                if exc.errno in _STORAGE_FAULTS:  # ... unless the disk is full or failing
                    raise self._failure("cannot create", exc) from exc
                reason = ("a file is in the way of the directory"
                          if isinstance(exc, (FileExistsError, NotADirectoryError)) else exc.strerror)
                raise ConfigInvalidError(
                    f"data_dir {self.path.parent} cannot hold the run store {self.path.name}: "
                    f"{reason or exc}", field="data_dir", path=str(self.path)) from exc
            except sqlite3.Error as exc:
                raise self._failure("cannot open", exc) from exc
        return self._conn

    def _open(self) -> sqlite3.Connection:
        _prepare_file(self.path)
        conn = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            check_same_thread=False,  # guarded by self._lock
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            # Deleted and overwritten content is zeroed, not left in free pages (SPEC 3: no
            # secret-derived data in the database file, also after a migration removed it).
            conn.execute("PRAGMA secure_delete = ON")
            _migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn


def _prepare_file(path: Path) -> None:
    """Create the parent (0700) and an empty database file (0600) before SQLite does."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def _rollback(conn: sqlite3.Connection) -> None:
    """Undo a failed write; SQLite may already have rolled it back itself (a full disk)."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.DatabaseError:
            pass  # the original failure is the one to report


def _migrate(conn: sqlite3.Connection) -> None:
    if conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS):
        return  # the usual case: no write lock needed to open
    for version, steps in enumerate(MIGRATIONS, start=1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read inside the lock: another process may have migrated meanwhile.
            (current,) = conn.execute("PRAGMA user_version").fetchone()
            if current > len(MIGRATIONS):
                raise sqlite3.DatabaseError(
                    f"schema version {current} is newer than this flwd knows ({len(MIGRATIONS)})"
                )
            if current < version:
                for statement in steps:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    # Old page images must not linger in the write-ahead log (best effort: a reader in
    # another process may hold the log; the next checkpoint then completes it).
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _insert_event(
    conn: sqlite3.Connection,
    run_id: str,
    seq: int,
    event_type: str,
    time: str,
    data: Mapping[str, Any],
) -> EventRecord:
    row = (run_id, seq, event_type, time, codec.dumps(dict(data)))
    conn.execute(_INSERT_EVENT, row)
    return codec.event_from_row(row)


_run_values = codec.run_values
_run_from_row = codec.run_from_row


def _conflict(run: RunRecord, exc: sqlite3.IntegrityError) -> FlwdError:
    if "idempotency_key" in str(exc):
        return IdempotencyConflictError(
            "idempotency key already used by another run", run_id=run.run_id
        )
    return FlwdError(f"run {run.run_id} already exists", run_id=run.run_id)
