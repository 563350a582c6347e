"""The WorkerRegistry contract, run against the fake, SQLite and PostgreSQL stores (each empty)."""

from __future__ import annotations

from typing import Protocol

from flwd.ports.store import RunRecord, RunStore
from flwd.ports.workers import RunBeat, WorkerBeat, WorkerRegistry
from tests.contracts.store import make_run, together


class RegistryStore(RunStore, WorkerRegistry, Protocol):
    """A run store that is also the worker registry (every flwd store is)."""


def at(second: int) -> str:
    return f"2026-01-01T00:{second // 60:02d}:{second % 60:02d}.000Z"


def worker(worker_id: str, second: int, *runs: str, **changes: object) -> WorkerBeat:
    values: dict[str, object] = {
        "worker_id": worker_id, "host": "h1", "queues": ("default", "gpu"), "runtime": "podman",
        "rootless": True, "concurrency": 4, "active_runs": runs, "last_heartbeat": at(second)}
    values.update(changes)
    return WorkerBeat(**values)  # type: ignore[arg-type]


def run_beat(run_id: str, worker_id: str, second: int, started: bool = False) -> RunBeat:
    return RunBeat(run_id=run_id, worker_id=worker_id, container_started=started,
                   beat_at=at(second))


def check_worker_registry_contract(store: RegistryStore) -> None:
    """Every rule of the WorkerRegistry port; *store* must start empty."""
    _check_beat_and_list(store)
    _check_beat_replaces_run_heartbeats(store)
    _check_stale_runs(store)
    _check_claim_lost_once(store)
    _check_claim_lost_refused(store)
    _check_runs_of_a_worker_lost_before_naming_them(store)
    _check_runs_of(store)
    _check_remove_and_prune(store)


def _check_beat_and_list(store: RegistryStore) -> None:
    w1 = worker("w1", 10, "r1")

    store.beat(w1, [run_beat("r1", "w1", 10, started=True)])
    store.beat(worker("w0", 5, rootless=False, queues=()), [])

    assert store.workers() == [worker("w0", 5, rootless=False, queues=()), w1]
    assert store.workers(since=at(10)) == [w1]
    assert store.workers(since=at(11)) == []
    later = worker("w1", 20, runtime="docker", concurrency=2)
    store.beat(later, [])
    assert store.workers(since=at(10)) == [later]


def _check_beat_replaces_run_heartbeats(store: RegistryStore) -> None:
    store.beat(worker("w2", 30, "a", "b"), [run_beat("a", "w2", 30), run_beat("b", "w2", 30)])
    store.beat(worker("w3", 30, "c"), [run_beat("c", "w3", 30)])

    store.beat(worker("w2", 31, "b"), [run_beat("b", "w2", 31, started=True)])
    store.beat(worker("w3", 32, "c", "a"), [run_beat("c", "w3", 32), run_beat("a", "w3", 32)])

    stale = {b.run_id: b for b in store.stale_runs(at(40))}
    assert stale["b"] == run_beat("b", "w2", 31, started=True)
    assert stale["a"] == run_beat("a", "w3", 32)  # the heartbeat moved to w3
    assert stale["c"] == run_beat("c", "w3", 32)
    store.beat(worker("w2", 33), [])
    assert "b" not in {b.run_id for b in store.stale_runs(at(40))}
    assert {"a", "c"} <= {b.run_id for b in store.stale_runs(at(40))}


def _check_stale_runs(store: RegistryStore) -> None:
    store.beat(worker("w4", 50, "s1", "s2"), [run_beat("s1", "w4", 50), run_beat("s2", "w4", 50)])
    store.beat(worker("w5", 55, "s3"), [run_beat("s3", "w5", 55)])

    assert [b.run_id for b in store.stale_runs(at(50)) if b.run_id.startswith("s")] == []
    assert [b.run_id for b in store.stale_runs(at(51)) if b.run_id.startswith("s")] == ["s1", "s2"]
    assert [b.run_id for b in store.stale_runs(at(56)) if b.run_id.startswith("s")] == [
        "s1", "s2", "s3"]


def _check_claim_lost_once(store: RegistryStore) -> None:
    store.create(make_run("L1", 60, status="running", owner="w6"), "run.created", {})
    beat = run_beat("L1", "w6", 60, started=True)
    store.beat(worker("w6", 60, "L1"), [beat])

    claims = together([lambda n=n: store.claim_lost(beat, f"s:{n}") for n in range(4)])

    won = [c for c in claims if c is not None]
    assert len(won) == 1 and won[0].run_id == "L1" and won[0].status == "running"
    assert store.get("L1") == won[0] and won[0].owner.startswith("s:")
    assert "L1" not in {b.run_id for b in store.stale_runs(at(999))}
    assert [e.type for e in store.events("L1")] == ["run.created"]  # a claim adds no event


def _check_claim_lost_refused(store: RegistryStore) -> None:
    store.create(make_run("L2", 61, status="running", owner="w7"), "run.created", {})
    store.create(make_run("L3", 62, status="succeeded", owner="w7"), "run.created", {})
    old = run_beat("L2", "w7", 61)
    store.beat(worker("w7", 61, "L2", "L3"), [old, run_beat("L3", "w7", 61)])

    store.beat(worker("w7", 70, "L2", "L3"), [run_beat("L2", "w7", 70), run_beat("L3", "w7", 61)])

    assert store.claim_lost(old, "s:1") is None  # renewed since it was read
    assert store.get("L2") is not None and store.get("L2").owner == "w7"  # type: ignore[union-attr]
    assert store.claim_lost(run_beat("L3", "w7", 61), "s:1") is None  # the run has ended...
    assert "L3" not in {b.run_id for b in store.stale_runs(at(999))}  # ...its heartbeat goes
    assert store.claim_lost(run_beat("ghost", "w7", 61), "s:1") is None


def _check_runs_of_a_worker_lost_before_naming_them(store: RegistryStore) -> None:
    """A worker lost right after taking a run, before a heartbeat named it: the run is found
    through its owner, the worker, and claimed once."""
    store.create(make_run("N1", 90, status="pulling", owner="w9"), "run.created", {})
    store.create(make_run("N2", 91, status="succeeded", owner="w9"), "run.created", {})
    store.create(make_run("N3", 92, status="queued", owner="queue"), "run.created", {})
    store.beat(worker("w9", 90), [])

    def stale(before: int) -> list[RunBeat]:
        return [b for b in store.stale_runs(at(before)) if b.run_id.startswith("N")]

    assert stale(90) == []
    (found,) = stale(95)
    assert found == RunBeat(run_id="N1", worker_id="w9", container_started=False, beat_at=at(90))
    store.beat(worker("w9", 96), [])
    assert store.claim_lost(found, "s:0") is None  # the worker beat again since
    store.beat(worker("w9", 90), [])  # (as if that had not happened)
    claims = together([lambda n=n: store.claim_lost(found, f"s:{n}") for n in range(1, 4)])
    won = [c for c in claims if c is not None]
    assert len(won) == 1 and won[0].run_id == "N1" and won[0].owner.startswith("s:")
    assert stale(95) == []


def _check_runs_of(store: RegistryStore) -> None:
    for n, status in enumerate(("running", "queued", "succeeded", "pulling")):
        store.create(make_run(f"o{n}", 100 + n, status=status, owner="w10"), "run.created", {})
    store.create(make_run("o9", 99, status="running", owner="w11"), "run.created", {})

    assert [r.run_id for r in store.runs_of("w10")] == ["o0", "o1", "o3"]
    assert [r.run_id for r in store.runs_of("w11")] == ["o9"]
    assert store.runs_of("nobody") == []


def _check_remove_and_prune(store: RegistryStore) -> None:
    store.beat(worker("w8", 80, "p1"), [run_beat("p1", "w8", 80)])

    store.remove_worker("w8")
    store.remove_worker("never-seen")

    assert "w8" not in {w.worker_id for w in store.workers()}
    assert "p1" in {b.run_id for b in store.stale_runs(at(81))}  # still swept later
    pruned = store.prune_workers(at(30))
    remaining = {w.worker_id for w in store.workers()}
    assert pruned == 2 and remaining.isdisjoint({"w0", "w1"})
    assert {"w2", "w3", "w4", "w5", "w6", "w7"} <= remaining
