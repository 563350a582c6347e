"""The console's ended sessions on PostgreSQL (a private cluster, pg_support.py): the
EndedSessions contract, the migration step, and a sign-out seen by a second store object (as a
second replica) at once."""

from __future__ import annotations

from typing import Iterator

import pytest

from flwd.adapters.pg_schema import MIGRATIONS
from flwd.adapters.pg_store import PostgresRunStore
from flwd.adapters.system import SystemClock
from flwd.domain.sessions import ConsoleSessions
from tests.contracts.sessions import check_ended_sessions_contract


@pytest.fixture
def store(pg_url: str) -> Iterator[PostgresRunStore]:
    store = PostgresRunStore(pg_url)
    yield store
    store.close()


def test_pg_store_keeps_the_ended_sessions_contract_when_empty(store: PostgresRunStore) -> None:
    check_ended_sessions_contract(store)


def test_pg_sign_out_holds_on_another_replica_when_both_share_the_store(
        store: PostgresRunStore, pg_url: str) -> None:
    other = PostgresRunStore(pg_url)
    try:
        on_b = ConsoleSessions(store=other, clock=SystemClock())
        assert not on_b.ended("s-1")
        ConsoleSessions(store=store, clock=SystemClock()).end("s-1")
        assert on_b.ended("s-1") and not on_b.ended("s-2")
    finally:
        other.close()


def test_pg_migration_adds_ended_sessions_when_the_schema_predates_them(pg_url: str) -> None:
    import psycopg

    with psycopg.connect(pg_url) as conn:
        with conn.transaction():
            conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY,"
                         " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
            for version, steps in enumerate(MIGRATIONS[:-1], start=1):
                for statement in steps:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))

    store = PostgresRunStore(pg_url)
    try:
        store.end_session("s-1", until="2026-01-01T09:00:00.000Z",
                          now="2026-01-01T01:00:00.000Z")
        assert store.session_ended("s-1")
    finally:
        store.close()
    with psycopg.connect(pg_url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY 1")]
    assert versions == list(range(1, len(MIGRATIONS) + 1))
