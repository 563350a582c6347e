"""The PostgreSQL run store's schema: numbered migrations, applied under an advisory lock."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flwd.adapters._sql_sessions import ended_sessions_table
from flwd.adapters._sql_sources import SOURCES_TABLE
from flwd.adapters._sql_workers import tables

if TYPE_CHECKING:
    import psycopg

# Applied in order; table schema_version holds one row per step applied. Never edit a step
# once released: add a new one. Text columns that are sorted or compared use the "C"
# collation, so order is byte order whatever the database's locale (as in SQLite).
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE runs (
            run_id TEXT COLLATE "C" PRIMARY KEY,
            job_id TEXT COLLATE "C" NOT NULL,
            status TEXT COLLATE "C" NOT NULL,
            profile TEXT NOT NULL,
            created_at TEXT COLLATE "C" NOT NULL,
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
            idempotency_key TEXT COLLATE "C",
            request_digest TEXT,
            owner TEXT COLLATE "C" NOT NULL DEFAULT '',
            last_seq INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX runs_newest ON runs (created_at DESC, run_id DESC)",
        "CREATE INDEX runs_job ON runs (job_id, created_at DESC, run_id DESC)",
        "CREATE INDEX runs_status ON runs (status)",
        "CREATE UNIQUE INDEX runs_idempotency ON runs (idempotency_key)"
        " WHERE idempotency_key IS NOT NULL",
        """CREATE TABLE events (
            run_id TEXT COLLATE "C" NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            type TEXT NOT NULL,
            time TEXT NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (run_id, seq)
        )""",
    ),
    # Sources (SPEC section 10) live beside the runs; a run records its job's origin.
    (SOURCES_TABLE.format(collate='COLLATE "C"'),
     "ALTER TABLE runs ADD COLUMN origin TEXT NOT NULL DEFAULT '{}'"),
    # cluster mode's worker registry: worker and run heartbeats (SPEC section 11)
    tables(' COLLATE "C"'),
    # the console's signed-out sessions (SPEC section 12), until their cookies expire
    ended_sessions_table(' COLLATE "C"'),
)

# pg_advisory_xact_lock key of the migration step ("flwd" in ASCII): replicas starting
# together queue here, and each finds the schema current once it holds the lock.
MIGRATION_LOCK = 0x666C7764


class SchemaTooNewError(Exception):
    """The database was migrated by a newer flwd than this one."""


def migrate(conn: psycopg.Connection[tuple[Any, ...]]) -> int:
    """Bring the schema up to date in one transaction; the version now in place."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version INTEGER PRIMARY KEY,"
            " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
        current = int(row[0]) if row else 0
        if current > len(MIGRATIONS):
            raise SchemaTooNewError(
                f"schema version {current} is newer than this flwd knows ({len(MIGRATIONS)})")
        for version, steps in enumerate(MIGRATIONS, start=1):
            if version <= current:
                continue
            for statement in steps:
                conn.execute(statement)  # constants, never input
            conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
    return len(MIGRATIONS)
