"""PostgresRunStore against a real PostgreSQL 15 (a private cluster, pg_support.py): the store
contract, migrations, cross-process idempotency, claims and LISTEN/NOTIFY wake-ups, outages."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import psycopg
import pytest

from flwd.adapters.pg_schema import MIGRATIONS, migrate
from flwd.adapters.pg_store import PostgresRunStore
from flwd.domain.errors import IdempotencyConflictError, StoreUnavailableError
from tests.contracts.sources import check_source_store_contract
from tests.contracts.store import (
    check_count_by_status,
    check_list_limit_is_capped,
    check_store_contract,
    make_run,
)
from tests.integration.pg_support import PgCluster, free_port, running_cluster

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(pg_url: str) -> Iterator[PostgresRunStore]:
    store = PostgresRunStore(pg_url)
    yield store
    store.close()


def _versions(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT version FROM schema_version ORDER BY 1")]


def test_pg_store_keeps_the_store_contract_when_empty(store: PostgresRunStore) -> None:
    check_store_contract(store)


def test_pg_store_counts_by_status_when_runs_change(store: PostgresRunStore) -> None:
    check_count_by_status(store)


def test_pg_store_caps_list_limit_when_asked_for_more(store: PostgresRunStore) -> None:
    check_list_limit_is_capped(store)


def test_migrations_build_the_schema_when_database_is_empty(pg_url: str) -> None:
    assert _versions_or_none(pg_url) is None

    PostgresRunStore(pg_url).get("nope")

    assert _versions(pg_url) == list(range(1, len(MIGRATIONS) + 1))


def test_migrations_change_nothing_when_run_again(store: PostgresRunStore, pg_url: str) -> None:
    store.create(make_run("m1", 1), "run.created", {})
    with psycopg.connect(pg_url) as conn:
        assert migrate(conn) == len(MIGRATIONS)
        assert migrate(conn) == len(MIGRATIONS)
    again = PostgresRunStore(pg_url)
    try:
        assert again.get("m1") == store.get("m1") is not None
    finally:
        again.close()
    assert _versions(pg_url) == list(range(1, len(MIGRATIONS) + 1))


def test_migrations_never_race_when_replicas_start_together(pg_url: str) -> None:
    errors: list[BaseException] = []

    def start() -> None:
        try:
            with psycopg.connect(pg_url) as conn:
                migrate(conn)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert _versions(pg_url) == list(range(1, len(MIGRATIONS) + 1))


def _versions_or_none(url: str) -> list[int] | None:
    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass('schema_version')").fetchone() == (None,):
            return None
    return _versions(url)


def test_idempotency_key_yields_one_run_when_two_stores_create_concurrently(pg_url: str) -> None:
    stores = [PostgresRunStore(pg_url), PostgresRunStore(pg_url)]  # two pools: two "replicas"
    outcomes: dict[str, list[str]] = {}
    try:
        for key in range(15):
            barrier = threading.Barrier(2)
            results: list[str] = []

            def create(n: int, key: int = key, barrier: threading.Barrier = barrier,
                       results: list[str] = results) -> None:
                run = make_run(f"i{key}-{n}", key, idempotency_key=f"key-{key}")
                barrier.wait(timeout=30)
                try:
                    stores[n].create(run, "run.created", {})
                    results.append("created")
                except IdempotencyConflictError:
                    results.append("conflict")

            threads = [threading.Thread(target=create, args=(n,)) for n in (0, 1)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            outcomes[f"key-{key}"] = sorted(results)
    finally:
        for s in stores:
            s.close()

    assert set(map(tuple, outcomes.values())) == {("conflict", "created")}
    with psycopg.connect(pg_url) as conn:
        (count,) = conn.execute("SELECT COUNT(*) FROM runs").fetchone() or (0,)
    assert count == 15


def test_claim_has_one_winner_when_stores_race_for_an_orphan(pg_url: str) -> None:
    stores = [PostgresRunStore(pg_url) for _ in range(3)]
    try:
        stores[0].create(make_run("o1", 1, status="running", owner="dead:1"), "run.created", {})
        barrier = threading.Barrier(6)
        won: list[str] = []

        def claim(n: int) -> None:
            barrier.wait(timeout=30)
            if stores[n % 3].claim("o1", "dead:1", f"host:{n}") is not None:
                won.append(f"host:{n}")

        threads = [threading.Thread(target=claim, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        stored = stores[1].get("o1")
        assert len(won) == 1
        assert stored is not None and stored.owner == won[0]
    finally:
        for s in stores:
            s.close()


_APPEND_LATER = """
import json, sys, time
from flwd.adapters.pg_store import PostgresRunStore
store = PostgresRunStore(sys.argv[1])
store.get(sys.argv[2])  # connected and migrated before the clock starts
time.sleep(float(sys.argv[3]))
store.append(sys.argv[2], "run.output", {"line": "hi"}, "2026-01-01T00:00:09.000Z")
print(json.dumps({"committed": time.time()}), flush=True)
store.close()
"""


def _append_in_another_process(url: str, run_id: str, delay: float) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", _APPEND_LATER, url, run_id, str(delay)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)


def _check_woken_by_another_process(store: PostgresRunStore, url: str, run_id: str) -> None:
    """A process appends to *run_id* (seq 1 so far) 1.5 s from now; the waiter here wakes
    within a second of that commit (SPEC section 11's bound for SSE clients)."""
    writer = _append_in_another_process(url, run_id, 1.5)

    woke = store.wait_for_events(run_id, after_seq=1, timeout=30)
    woke_at = time.time()
    out, err = writer.communicate(timeout=60)

    assert writer.returncode == 0, err
    assert woke is True
    assert woke_at - json.loads(out)["committed"] < 1.0


def test_waiter_wakes_within_a_second_when_another_process_appends(
    store: PostgresRunStore, pg_url: str
) -> None:
    store.create(make_run("w1", 1), "run.created", {})

    _check_woken_by_another_process(store, pg_url, "w1")

    assert [e.seq for e in store.events("w1", after_seq=1)] == [2]


def test_waiter_times_out_when_only_other_runs_get_events(store: PostgresRunStore,
                                                          pg_url: str) -> None:
    store.create(make_run("q1", 1), "run.created", {})
    store.create(make_run("q2", 2), "run.created", {})
    writer = _append_in_another_process(pg_url, "q2", 0.2)

    started = time.monotonic()
    woke = store.wait_for_events("q1", after_seq=1, timeout=2.0)

    writer.communicate(timeout=60)
    assert woke is False
    assert time.monotonic() - started >= 2.0
    assert store.wait_for_events("q1", after_seq=0, timeout=5) is True  # already there


@pytest.fixture
def private_cluster() -> Iterator[PgCluster]:
    """A cluster of this test's own, to stop and start without disturbing the others."""
    with running_cluster() as cluster:
        yield cluster


def test_store_is_unavailable_and_nothing_half_recorded_when_server_goes_down(
    private_cluster: PgCluster,
) -> None:
    store = PostgresRunStore(private_cluster.url(), connect_timeout=2)
    store.create(make_run("u1", 1), "run.created", {})
    private_cluster.stop()

    failures = []
    for attempt in (lambda: store.create(make_run("u2", 2), "run.created", {}),
                    lambda: store.append("u1", "run.output", {"line": "x"}, "t",
                                         make_run("u1", 1, status="running")),
                    lambda: store.get("u1")):
        with pytest.raises(StoreUnavailableError) as caught:
            attempt()
        failures.append(caught.value)
    private_cluster.start()

    assert {f.code for f in failures} == {"store.unavailable"}
    assert store.get("u2") is None  # the same store recovers once the server is back
    stored = store.get("u1")
    assert stored is not None and stored.status == "queued"
    assert [e.seq for e in store.events("u1")] == [1]
    store.close()


def test_store_is_unavailable_when_nothing_listens_at_the_url() -> None:
    url = f"postgresql://flwd:hunter2hunter2@127.0.0.1:{free_port()}/flwd"
    store = PostgresRunStore(url, connect_timeout=2)

    with pytest.raises(StoreUnavailableError) as caught:
        store.create(make_run("n1", 1), "run.created", {})

    assert caught.value.code == "store.unavailable"
    assert "hunter2" not in str(caught.value) and "hunter2" not in json.dumps(caught.value.context)
    store.close()


def test_waiter_is_woken_again_when_the_server_restarted(private_cluster: PgCluster) -> None:
    url = private_cluster.url()
    store = PostgresRunStore(url, connect_timeout=2)
    try:
        store.create(make_run("r1", 1), "run.created", {})
        assert store.wait_for_events("r1", after_seq=1, timeout=0.5) is False  # listening now
        private_cluster.stop()
        private_cluster.start()
        time.sleep(2.5)  # the listener notices the lost connection and listens again
        _check_woken_by_another_process(store, url, "r1")
    finally:
        store.close()


_SUBMIT = """
import json, sys
from flwd.domain.plan.use_cases import RunRequest
from flwd.entrypoints.config import CliOverrides, load_config
from flwd.entrypoints.container import build_container
config = load_config(CliOverrides(jobs_dirs=(sys.argv[2],), data_dir=sys.argv[3]),
                     {"FLWD_STORE_URL": sys.argv[1]})
container = build_container(config)
container.store().get("warm-up")  # connected and migrated before the race
print("ready", flush=True)
sys.stdin.readline()
result = container.submit_run()(RunRequest(job="demo-container", args={"name": "Alice"}),
                                idempotency_key="same-key")
record = getattr(result, "record", result)
print(json.dumps({"run_id": record.run_id, "new": record is not result}), flush=True)
"""


def test_idempotent_submits_from_two_processes_yield_one_run_when_they_race(
    pg_url: str, tmp_path: Path
) -> None:
    procs = [subprocess.Popen(
        [sys.executable, "-c", _SUBMIT, pg_url, str(REPO / "examples" / "jobs"),
         str(tmp_path / f"data{n}")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=REPO) for n in (0, 1)]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in procs:  # both released together
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    answers = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        answers.append(json.loads(out))

    assert answers[0]["run_id"] == answers[1]["run_id"]
    assert sorted(a["new"] for a in answers) == [False, True]
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone() == (1,)


class _Heard:
    """What a ``watch_events`` listener was told, with when."""

    def __init__(self) -> None:
        self.calls: list[tuple[str | None, float]] = []
        self._cond = threading.Condition()

    def __call__(self, run_id: str | None) -> None:
        with self._cond:
            self.calls.append((run_id, time.time()))
            self._cond.notify_all()

    def first(self, run_id: str | None, timeout: float, after: float = 0.0) -> float | None:
        """When *run_id* was first heard after *after*, waiting up to *timeout* seconds."""
        def found() -> float | None:
            return next((at for r, at in self.calls if r == run_id and at > after), None)

        with self._cond:
            self._cond.wait_for(lambda: found() is not None, timeout)
            return found()


def test_feed_hears_a_run_within_a_second_when_another_process_appends(
    store: PostgresRunStore, pg_url: str
) -> None:
    store.create(make_run("f1", 1), "run.created", {})
    heard = _Heard()
    stop = store.watch_events(heard)
    writer = _append_in_another_process(pg_url, "f1", 1.0)

    out, err = writer.communicate(timeout=60)
    at = heard.first("f1", 30)
    stop()

    assert writer.returncode == 0, err
    assert at is not None and at - json.loads(out)["committed"] < 1.0


def test_feed_is_told_to_read_again_when_the_server_restarted(private_cluster: PgCluster) -> None:
    store = PostgresRunStore(private_cluster.url(), connect_timeout=2)
    heard = _Heard()
    try:
        stop = store.watch_events(heard)
        started = time.time()
        private_cluster.stop()
        private_cluster.start()
        again = heard.first(None, 30, after=started)
        stop()
    finally:
        store.close()

    assert again is not None


def test_pg_store_keeps_the_source_store_contract_when_empty(store: PostgresRunStore) -> None:
    check_source_store_contract(store)
