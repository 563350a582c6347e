"""Streams of runs recorded by another process wake on the store's feed (PostgreSQL's
NOTIFY), never by polling, when the store has one; the single-host path still polls."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from dependency_injector import providers
from litestar.testing import TestClient

from flwd.adapters.fakes import FakeNotifyingRunStore, FakeRunStore
from flwd.entrypoints.http.sse import EventHub, StreamTiming, follow_run
from flwd.ports.store import RunRecord
from tests.unit.http_support import close, fake_runtime, make_app, make_container

T0 = "2026-01-01T00:00:00.000Z"
SLOW = StreamTiming(keepalive_seconds=60.0, poll_seconds=60.0)  # a poll would never come


def _store_with_run() -> FakeNotifyingRunStore:
    store = FakeNotifyingRunStore()
    store.create(RunRecord(run_id="r1", job_id="j", status="running", profile="secure",
                           created_at=T0), "run.created", {})
    return store


def _finish_elsewhere(store: FakeNotifyingRunStore, *, notify: bool = True) -> None:
    record = store.get("r1")
    assert record is not None
    store.record_elsewhere("r1", "run.output", {"line": "hi"}, T0, notify=notify)
    store.record_elsewhere("r1", "run.finished", {}, T0, record.evolve(status="succeeded"),
                           notify=notify)


async def _follow_ids(store: FakeRunStore, hub: EventHub, after: int = 1) -> list[object]:
    stream = follow_run("r1", after, read_events=store.events,
                        read_run=lambda rid: store.get(rid) or RunRecord(
                            run_id=rid, job_id="j", status="running", profile="secure",
                            created_at=T0),
                        hub=hub, timing=SLOW)
    return [m.id async for m in stream]


def _later(action: Any, delay: float = 0.2) -> threading.Thread:
    def later() -> None:
        time.sleep(delay)
        action()

    thread = threading.Thread(target=later)
    thread.start()
    return thread


def test_stream_wakes_on_the_feed_when_another_process_records_events() -> None:
    store, hub = _store_with_run(), EventHub()
    hub.feed_from(store)

    async def scenario() -> list[object]:
        writer = _later(lambda: _finish_elsewhere(store))
        ids = await asyncio.wait_for(_follow_ids(store, hub), 10)
        writer.join(5)
        return ids

    assert asyncio.run(scenario()) == [2, 3]


def test_every_stream_reads_again_when_the_feed_lost_notifications() -> None:
    store, hub = _store_with_run(), EventHub()
    hub.feed_from(store)

    def lost() -> None:
        _finish_elsewhere(store, notify=False)
        store.notifications_lost()

    async def scenario() -> tuple[list[object], list[object]]:
        writer = _later(lost)
        first, second = await asyncio.wait_for(
            asyncio.gather(_follow_ids(store, hub), _follow_ids(store, hub, after=2)), 10)
        writer.join(5)
        return first, second

    assert asyncio.run(scenario()) == ([2, 3], [3])


def test_stream_waits_only_for_keepalives_when_hub_is_fed() -> None:
    store, hub = _store_with_run(), EventHub()
    timing = StreamTiming(keepalive_seconds=15.0, poll_seconds=0.5)
    polling = hub.idle_seconds(timing)

    stop = hub.feed_from(store)
    fed = hub.idle_seconds(timing), store.watchers
    stop()

    assert (polling, fed, hub.idle_seconds(timing), store.watchers) == (0.5, (15.0, 1), 0.5, 0)


def test_app_feeds_its_hub_from_the_store_when_the_store_notifies(tmp_path: Path) -> None:
    container = make_container(tmp_path, fake_runtime())
    store = FakeNotifyingRunStore()
    container.store.override(providers.Object(store))
    with TestClient(make_app(container)):
        watching = store.watchers
    close(container)

    assert (watching, store.watchers) == (1, 0)


def test_app_keeps_polling_when_the_store_is_of_one_process(tmp_path: Path) -> None:
    container = make_container(tmp_path, fake_runtime())
    app = make_app(container)
    with TestClient(app):
        hub: EventHub = app.state["hub"]
        idle = hub.idle_seconds(StreamTiming(keepalive_seconds=15.0, poll_seconds=0.5))
    close(container)

    assert idle == 0.5
