"""The RunStore contract, run against FakeRunStore and SqliteRunStore (each given empty)."""

from __future__ import annotations

import threading
from typing import Any, Callable, TypeVar

import pytest

from flwd.domain.errors import (
    FlwdError,
    IdempotencyConflictError,
    RequestInvalidError,
    RunNotActiveError,
    RunNotFoundError,
)
from flwd.ports.store import RunRecord, RunStore


def make_run(run_id: str, second: int = 0, **changes: Any) -> RunRecord:
    """A queued run created at ``2026-01-01T00:00:<second>``."""
    values: dict[str, Any] = {
        "run_id": run_id,
        "job_id": "hello",
        "status": "queued",
        "profile": "secure",
        "created_at": f"2026-01-01T00:{second // 60:02d}:{second % 60:02d}.000Z",
        "args": {"name": "Alice", "token": "<secret>", "tags": ["a", "b"]},
        "decisions": ({"rule": "network", "verdict": "allow"},),
    }
    values.update(changes)
    return RunRecord(**values)


T = TypeVar("T")


def together(calls: list[Callable[[], T]]) -> list[T]:
    """Each of *calls* in its own thread, all at once; their results (in no set order)."""
    results: list[T] = []
    threads = [threading.Thread(target=lambda call=call: results.append(call())) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def check_store_contract(store: RunStore) -> None:
    """Every rule of the RunStore port; *store* must start empty."""
    _check_create_and_read_back(store)
    _check_append_assigns_seq_and_replaces_run(store)
    _check_unknown_and_duplicate_runs(store)
    _check_idempotency_keys(store)
    _check_writes_are_atomic(store)
    _check_concurrent_appends_never_collide(store)
    _check_active(store)
    _check_claim_takes_an_orphan_once(store)
    _check_list_order_filters_and_paging(store)
    _check_events_before_reads_a_window(store)
    _check_nothing_is_recorded_after_the_end(store)


def _check_events_before_reads_a_window(store: RunStore) -> None:
    store.create(make_run("w1", 3), "run.created", {})
    for n in range(2, 11):
        store.append("w1", "run.output", {"line": f"l{n}"}, f"2026-01-01T00:00:{n:02d}.000Z")

    tail = store.events_before("w1", 2**63 - 1, 3)
    earlier = store.events_before("w1", tail[0].seq, 3)
    first = store.events_before("w1", 3, 5)

    assert [e.seq for e in tail] == [8, 9, 10]
    assert [e.seq for e in earlier] == [5, 6, 7]
    assert [e.seq for e in first] == [1, 2]
    assert [e.as_dict() for e in tail] == [e.as_dict() for e in store.events("w1", after_seq=7)]
    assert store.events_before("w1", 1, 10) == [] and store.events_before("none", 99, 10) == []
    assert [e.seq for e in store.events("w1", after_seq=2, limit=3)] == [3, 4, 5]
    assert [e.seq for e in store.events("w1", after_seq=8, limit=5)] == [9, 10]


def _check_create_and_read_back(store: RunStore) -> None:
    run = make_run("c1", 1, exit_code=None, image="alpine:3")

    first = store.create(run, "run.created", {"job": "hello", "pair": (1, 2)})

    assert (first.run_id, first.seq, first.type) == ("c1", 1, "run.created")
    assert first.time == run.created_at
    assert dict(first.data) == {"job": "hello", "pair": [1, 2]}
    stored = store.get("c1")
    assert stored is not None
    assert stored.args == {"name": "Alice", "token": "<secret>", "tags": ["a", "b"]}
    assert stored.decisions == ({"rule": "network", "verdict": "allow"},)
    assert stored.evolve(args=run.args) == run
    assert store.get("nope") is None


def _check_append_assigns_seq_and_replaces_run(store: RunStore) -> None:
    run = make_run("a1", 2)
    store.create(run, "run.created", {})
    running = run.evolve(status="running", started_at="2026-01-01T00:00:03.000Z")

    at = "2026-01-01T00:00:03.000Z"
    second = store.append("a1", "run.started", {"container": "x"}, at, running)
    third = store.append("a1", "run.output", {"line": "hi"}, "2026-01-01T00:00:04.000Z")

    assert (second.seq, third.seq) == (2, 3)
    assert [e.seq for e in store.events("a1")] == [1, 2, 3]
    assert [e.as_dict() for e in store.events("a1", after_seq=2)] == [third.as_dict()]
    assert store.events("a1", after_seq=3) == []
    assert store.get("a1") == running
    with pytest.raises(FlwdError):
        store.append("a1", "run.output", {}, "t", make_run("other"))
    assert len(store.events("a1")) == 3


def _check_unknown_and_duplicate_runs(store: RunStore) -> None:
    with pytest.raises(RunNotFoundError):
        store.append("ghost", "run.output", {}, "2026-01-01T00:00:00.000Z")
    assert store.events("ghost") == []
    assert store.get("ghost") is None

    store.create(make_run("d1", 5), "run.created", {})
    with pytest.raises(FlwdError):
        store.create(make_run("d1", 6, job_id="other"), "run.created", {})

    stored = store.get("d1")
    assert stored is not None and stored.job_id == "hello"
    assert [e.seq for e in store.events("d1")] == [1]


def _check_idempotency_keys(store: RunStore) -> None:
    keyed = make_run("k1", 7, idempotency_key="key-1", request_digest="abc")
    store.create(keyed, "run.created", {})

    with pytest.raises(IdempotencyConflictError):
        store.create(make_run("k2", 8, idempotency_key="key-1"), "run.created", {})

    found = store.find_by_idempotency_key("key-1")
    assert found is not None and found.run_id == "k1" and found.request_digest == "abc"
    assert store.find_by_idempotency_key("key-2") is None
    assert store.get("k2") is None
    assert store.events("k2") == []


def _check_writes_are_atomic(store: RunStore) -> None:
    """A write that fails halfway (a value JSON cannot hold) leaves nothing behind."""
    with pytest.raises(TypeError):
        store.create(make_run("x1", 9), "run.created", {"bad": object()})
    assert store.get("x1") is None
    assert store.events("x1") == []

    store.create(make_run("x2", 9), "run.created", {})
    broken = make_run("x2", 9, status="running", args={"bad": object()})
    with pytest.raises(TypeError):
        store.append("x2", "run.started", {}, "2026-01-01T00:00:10.000Z", broken)
    assert [e.seq for e in store.events("x2")] == [1]
    stored = store.get("x2")
    assert stored is not None and stored.status == "queued"


def _check_concurrent_appends_never_collide(store: RunStore) -> None:
    store.create(make_run("t1", 10), "run.created", {})
    threads_n, per_thread = 8, 25

    def work(worker: int) -> None:
        for i in range(per_thread):
            store.append("t1", "run.output", {"worker": worker, "i": i}, "2026-01-01T00:00:11.000Z")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [e.seq for e in store.events("t1")] == list(range(1, threads_n * per_thread + 2))


def _check_active(store: RunStore) -> None:
    for status, second in [("pulling", 20), ("running", 21), ("succeeded", 22), ("error", 23)]:
        store.create(make_run(f"s-{status}", second, status=status), "run.created", {})

    active = {r.run_id for r in store.active()}

    assert {"s-pulling", "s-running"} <= active
    assert not active & {"s-succeeded", "s-error"}
    assert all(r.status in {"queued", "pulling", "running"} for r in store.active())


def _check_claim_takes_an_orphan_once(store: RunStore) -> None:
    store.create(make_run("o1", 24, status="running", owner="host:1"), "run.created", {})
    store.create(make_run("o2", 25, status="succeeded", owner="host:1"), "run.created", {})

    claims = together([lambda n=n: store.claim("o1", "host:1", f"host:{n}") for n in (2, 3, 4)])

    won = [c for c in claims if c is not None]
    assert len(won) == 1 and won[0].run_id == "o1" and won[0].status == "running"
    assert store.get("o1") == won[0] and won[0].owner in {"host:2", "host:3", "host:4"}
    assert store.claim("o1", "host:1", "host:5") is None  # owned by the winner now
    assert store.claim("o2", "host:1", "host:5") is None  # ended runs are never claimed
    assert store.claim("nope", "", "host:5") is None
    assert [e.type for e in store.events("o1")] == ["run.created"]  # a claim adds no event


def _check_list_order_filters_and_paging(store: RunStore) -> None:
    everything = store.list(limit=500).runs
    assert [(r.created_at, r.run_id) for r in everything] == sorted(
        ((r.created_at, r.run_id) for r in everything), reverse=True
    )
    # Same created_at: the run id breaks the tie, so paging never skips or repeats.
    for n in range(5):
        store.create(make_run(f"p{n}", 30, job_id="paged"), "run.created", {})
    store.create(make_run("p5", 31, job_id="paged", status="failed"), "run.created", {})

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = store.list(job_id="paged", limit=2, cursor=cursor)
        seen += [r.run_id for r in page.runs]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break

    assert seen == ["p5", "p4", "p3", "p2", "p1", "p0"]
    assert pages == 3
    assert [r.run_id for r in store.list(job_id="paged", status="failed").runs] == ["p5"]
    assert store.list(job_id="none-such").runs == ()
    assert store.list(job_id="paged", limit=6).next_cursor is None
    for bad in ["%%%", "bm90IGpzb24", "WzFd", ""]:
        with pytest.raises(RequestInvalidError):
            store.list(cursor=bad)
    with pytest.raises(RequestInvalidError):
        store.list(limit=0)


def _check_nothing_is_recorded_after_the_end(store: RunStore) -> None:
    """``run.finished`` stays the last event: a late writer (a worker back after a sweeper
    ended its run) is refused with run.not.active and changes nothing."""
    run = make_run("f1", 40, status="running")
    store.create(run, "run.created", {})
    ended = run.evolve(status="error", code="worker.lost")
    store.append("f1", "run.finished", {"status": "error"}, "2026-01-01T00:00:41.000Z", ended)

    with pytest.raises(RunNotActiveError):
        store.append("f1", "run.output", {"line": "late"}, "2026-01-01T00:00:42.000Z")
    with pytest.raises(RunNotActiveError):
        store.append("f1", "run.finished", {}, "2026-01-01T00:00:42.000Z",
                     run.evolve(status="succeeded"))

    assert [e.type for e in store.events("f1")] == ["run.created", "run.finished"]
    assert store.get("f1") == ended
    store.create(make_run("f2", 43, status="running"), "run.created", {})
    assert store.append("f2", "run.output", {}, "2026-01-01T00:00:44.000Z").seq == 2


def check_list_limit_is_capped(store: RunStore) -> None:
    """``limit`` above 500 gives pages of 500 (creates 501 runs)."""
    for n in range(501):
        store.create(make_run(f"cap{n:03d}", n), "run.created", {})

    page = store.list(limit=10_000)

    assert len(page.runs) == 500
    assert page.next_cursor is not None
    assert len(store.list(limit=10_000, cursor=page.next_cursor).runs) >= 1


def check_count_by_status(store: RunStore) -> None:
    """Runs are counted per status, and a run moves between counts when its row changes."""
    assert dict(store.count_by_status()) == {}
    for index, status in enumerate(("queued", "succeeded", "succeeded", "error")):
        store.create(make_run(f"n{index}", index, status=status), "run.created", {})
    queued = store.get("n0")
    assert queued is not None

    before = dict(store.count_by_status())
    store.append("n0", "run.started", {}, "2026-01-01T00:00:09.000Z",
                 queued.evolve(status="running"))

    assert before == {"queued": 1, "succeeded": 2, "error": 1}
    assert dict(store.count_by_status()) == {"running": 1, "succeeded": 2, "error": 1}
