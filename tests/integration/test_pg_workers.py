"""The worker registry and the lost-run sweep on real stores: PostgreSQL (a private cluster,
pg_support.py) and SQLite files, each sweeper with its own connection, as on separate hosts."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator

import pytest

from flwd.adapters.pg_schema import MIGRATIONS
from flwd.adapters.pg_store import PostgresRunStore
from flwd.adapters.sqlite_store import SqliteRunStore
from flwd.adapters.system import SystemClock
from flwd.domain.run.pending import PendingCleanup
from flwd.domain.worker.requeue import NoRequeue
from flwd.domain.worker.sweep import SweepLostRuns, SweepReport
from flwd.domain.worker.times import shifted
from flwd.ports.workers import RunBeat, WorkerBeat
from tests.contracts.store import make_run
from tests.contracts.workers import RegistryStore, check_worker_registry_contract

RUNS = 24
TIMEOUT = 30.0


@pytest.fixture
def store(pg_url: str) -> Iterator[PostgresRunStore]:
    store = PostgresRunStore(pg_url)
    yield store
    store.close()


def test_pg_store_keeps_the_worker_registry_contract_when_empty(store: PostgresRunStore) -> None:
    check_worker_registry_contract(store)


def test_pg_migration_adds_the_registry_when_the_schema_predates_it(pg_url: str) -> None:
    import psycopg

    with psycopg.connect(pg_url) as conn:
        with conn.transaction():
            conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY,"
                         " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
            for statement in MIGRATIONS[0]:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version) VALUES (1)")

    store = PostgresRunStore(pg_url)
    try:
        assert store.workers() == []
    finally:
        store.close()
    with psycopg.connect(pg_url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY 1")]
    assert versions == list(range(1, len(MIGRATIONS) + 1))


def lost_worker(store: RegistryStore) -> None:
    """RUNS running runs of a worker whose last heartbeat is an hour old, half of them
    before their container started."""
    old = shifted(SystemClock().now_iso(), -3600)
    beats = []
    for n in range(RUNS):
        status = "running" if n % 2 else "pulling"
        store.create(make_run(f"lost{n:02d}", n, status=status, owner="gone:1"), "run.created", {})
        beats.append(RunBeat(run_id=f"lost{n:02d}", worker_id="gone:1",
                             container_started=bool(n % 2), beat_at=old))
    store.beat(WorkerBeat(worker_id="gone:1", host="gone", queues=("default",), runtime="docker",
                          rootless=False, concurrency=RUNS, active_runs=(), last_heartbeat=old),
               beats)


def sweep_concurrently(stores: list[RegistryStore]) -> list[SweepReport]:
    reports: list[SweepReport] = []
    start = threading.Barrier(len(stores))

    def sweep(store: RegistryStore, n: int) -> None:
        sweeper = SweepLostRuns(registry=store, store=store, clock=SystemClock(),
                                claimant=f"sweeper:{n}", timeout=TIMEOUT, requeue=NoRequeue(),
                                pending=PendingCleanup())
        start.wait(timeout=30)
        reports.append(sweeper())

    threads = [threading.Thread(target=sweep, args=(s, n)) for n, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return reports


def assert_each_run_settled_once(store: RegistryStore, reports: list[SweepReport]) -> None:
    acted = [run_id for r in reports for run_id in (*r.lost, *r.requeued, *r.failed)]
    assert sorted(acted) == sorted(f"lost{n:02d}" for n in range(RUNS))  # each once, no more
    for n in range(RUNS):
        events = [e.type for e in store.events(f"lost{n:02d}")]
        assert events.count("run.finished") == 1, events
        run = store.get(f"lost{n:02d}")
        assert run is not None and run.status == "error"
        assert run.code == ("worker.lost" if n % 2 else "queue.unavailable")
    assert store.stale_runs(SystemClock().now_iso()) == []


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
def test_sweepers_settle_each_lost_run_once_when_they_sweep_together(
        kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    if kind == "postgresql":
        url = request.getfixturevalue("pg_url")
        stores: list[RegistryStore] = [PostgresRunStore(url) for _ in range(3)]
    else:
        stores = [SqliteRunStore(tmp_path / "flwd.db") for _ in range(3)]
    try:
        lost_worker(stores[0])

        reports = sweep_concurrently(stores)

        assert_each_run_settled_once(stores[0], reports)
    finally:
        for store in stores:
            store.close()  # type: ignore[attr-defined]
