"""ListWorkers (live and known workers, heartbeat ages) and the Periodic loop."""

from __future__ import annotations

import threading

from flwd.adapters.fakes import FakeClock, FakeRunStore
from flwd.domain.worker.periodic import Periodic
from flwd.domain.worker.query import ListWorkers
from tests.contracts.workers import worker


def test_list_workers_shows_only_live_ones_when_one_is_silent_too_long(
        fake_store: FakeRunStore) -> None:
    fake_store.beat(worker("w-old", 0), [])
    fake_store.beat(worker("w-new", 20, "r1"), [])
    clock = FakeClock(start="2026-01-01T00:00:40.500Z")
    workers = ListWorkers(registry=fake_store, clock=clock, timeout=30)

    live = workers.live()
    known = workers.known()

    assert [(w.beat.worker_id, w.age_seconds, w.live) for w in live] == [("w-new", 20.5, True)]
    assert [(w.beat.worker_id, w.live) for w in known] == [("w-new", True), ("w-old", False)]
    assert known[1].age_seconds == 40.5


def test_periodic_calls_its_step_until_stopped_when_a_step_fails() -> None:
    calls: list[int] = []
    twice = threading.Event()

    def step() -> None:
        calls.append(1)
        if len(calls) >= 2:
            twice.set()
        raise RuntimeError("a store outage")

    loop = Periodic(step, 0.01, "test-periodic")
    loop.start()
    assert twice.wait(timeout=30)
    loop.stop()

    assert not loop.running
    count = len(calls)
    assert count >= 2 and len(calls) == count
