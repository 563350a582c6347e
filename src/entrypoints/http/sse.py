"""Server-Sent Events of a run: replay from the store, then follow it, woken by an in-process hub
(fed by this process's runs, and by the store's cross-process notifications when it has them)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import AsyncIterator, Callable, Iterator, Sequence

import anyio.to_thread
from litestar.response import ServerSentEventMessage

from flwd.domain.errors import FlwdError
from flwd.domain.run.events import RUN_FINISHED
from flwd.domain.model import RunStatus
from flwd.ports.store import EventRecord, RunEventFeed, RunRecord

_log = logging.getLogger("flwd.http")
STREAM_PAGE = 500  # events a stream reads from the store at once: a huge run is never held whole


@dataclass(slots=True, eq=False)
class _Subscriber:
    loop: asyncio.AbstractEventLoop
    wakeup: asyncio.Event
    scheduled: bool = False  # a wake-up is on its way to the loop and has not run yet

    def poke(self) -> None:
        """Wake the stream from any thread; one wake-up in flight at a time (a chatty run
        published one per line, each a write to the loop's self-pipe and a loop turn)."""
        if self.scheduled:
            return  # the stream reads the store after that wake-up: this event included
        self.scheduled = True
        try:
            self.loop.call_soon_threadsafe(self._wake)
        except RuntimeError:
            pass  # that loop is closed: its stream is gone

    def _wake(self) -> None:
        self.scheduled = False  # before set(): an event stored after this wakes it again
        self.wakeup.set()


class EventHub:
    """An ``EventListener`` that wakes the SSE streams following a run.

    The publisher (a run's worker thread) never blocks and never waits for a client: it only
    schedules ``Event.set`` on each subscriber's loop. Events themselves are always read
    from the store, so a subscriber that misses a wake-up loses nothing.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[str, set[_Subscriber]] = {}
        self._fed = False  # a store feed wakes it for runs of other processes too

    def __call__(self, event: EventRecord) -> None:
        self.notify(event.run_id)

    def notify(self, run_id: str) -> None:
        with self._lock:
            subscribers = tuple(self._subscribers.get(run_id, ()))
        for sub in subscribers:
            sub.poke()

    def notify_all(self) -> None:
        with self._lock:
            subscribers = tuple(sub for subs in self._subscribers.values() for sub in subs)
        for sub in subscribers:
            sub.poke()

    def feed_from(self, feed: RunEventFeed) -> Callable[[], None]:
        """Wake streams on the store's cross-process notifications (one listener for every
        run of this process); returns the function that stops it. Blocking: call it from
        a worker thread."""
        stop = feed.watch_events(self._on_feed)
        self._fed = True

        def unfeed() -> None:
            self._fed = False
            stop()

        return unfeed

    def _on_feed(self, run_id: str | None) -> None:
        if run_id is None:  # notifications may have been lost: every stream reads again
            self.notify_all()
        else:
            self.notify(run_id)

    def idle_seconds(self, timing: StreamTiming) -> float:
        """How long a stream waits for a wake-up before it reads the store anyway: with a
        feed, only until a keep-alive is due; without one, the poll that sees other
        processes' runs."""
        return timing.keepalive_seconds if self._fed else timing.poll_seconds

    @contextmanager
    def subscribe(self, run_id: str) -> Iterator[asyncio.Event]:
        """An event set whenever *run_id* has something new; call from the event loop."""
        sub = _Subscriber(loop=asyncio.get_running_loop(), wakeup=asyncio.Event())
        with self._lock:
            self._subscribers.setdefault(run_id, set()).add(sub)
        try:
            yield sub.wakeup
        finally:
            with self._lock:
                subs = self._subscribers.get(run_id)
                if subs is not None:
                    subs.discard(sub)
                    if not subs:
                        del self._subscribers[run_id]

    def subscriber_count(self, run_id: str) -> int:
        with self._lock:
            return len(self._subscribers.get(run_id, ()))


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamTiming:
    keepalive_seconds: float = 15.0
    # without a store feed (SQLite), runs executed by another process are seen by polling
    poll_seconds: float = 0.5


def event_message(event: EventRecord) -> ServerSentEventMessage:
    data = json.dumps(event.as_dict(), ensure_ascii=False, separators=(",", ":"), default=str)
    return ServerSentEventMessage(data=data, event=event.type, id=event.seq)


# How a stream shows one event: the API sends it as JSON; the web console as HTML fragments.
RenderEvent = Callable[[EventRecord], Sequence[ServerSentEventMessage]]


def _as_json(event: EventRecord) -> Sequence[ServerSentEventMessage]:
    return (event_message(event),)


async def follow_run(
    run_id: str,
    after_seq: int,
    *,
    read_events: Callable[[str, int], Sequence[EventRecord]],
    read_run: Callable[[str], RunRecord],
    hub: EventHub,
    timing: StreamTiming,
    follow: bool = True,
    read_unrecorded: Callable[[str], RunRecord | None] = lambda run_id: None,
    render: RenderEvent = _as_json,
) -> AsyncIterator[ServerSentEventMessage]:
    """Every stored event after *after_seq*, then new ones as they come, until ``run.finished``
    (without *follow*: only the events stored so far).

    Subscribes before the first read so nothing falls between replay and follow; the store's
    ``seq`` order means no gap and no duplicate. Store reads run in worker threads. A failure
    mid-stream is logged and ends the stream (a client resumes with Last-Event-ID). A run
    whose end the store refused (*read_unrecorded*) ends the stream with that end, unstored.
    """
    try:
        async for message in _follow(run_id, after_seq, read_events=read_events,
                                     read_run=read_run, hub=hub, timing=timing, follow=follow,
                                     read_unrecorded=read_unrecorded, render=render):
            yield message
    except FlwdError as exc:  # the store cannot be read: the stream ends, saying why
        _log.warning("event stream of run %s ended: [%s] %s", run_id, exc.code, exc.detail)
        yield ServerSentEventMessage(event="error", data=json.dumps(
            {"code": exc.code, "detail": exc.detail}, separators=(",", ":")))
    except Exception:  # noqa: BLE001 - headers are sent: a problem body is no longer possible
        _log.exception("event stream of run %s failed", run_id)
        yield ServerSentEventMessage(data=None, comment="error: stream ended, resume later")


async def _follow(
    run_id: str,
    after_seq: int,
    *,
    read_events: Callable[[str, int], Sequence[EventRecord]],
    read_run: Callable[[str], RunRecord],
    hub: EventHub,
    timing: StreamTiming,
    follow: bool,
    read_unrecorded: Callable[[str], RunRecord | None],
    render: RenderEvent,
) -> AsyncIterator[ServerSentEventMessage]:
    with hub.subscribe(run_id) as wakeup:
        last_seq, last_sent, ended = after_seq, time.monotonic(), False
        while True:
            wakeup.clear()
            events = await anyio.to_thread.run_sync(read_events, run_id, last_seq)
            for event in events:
                for message in render(event):
                    yield message
                last_seq, last_sent = event.seq, time.monotonic()
                if event.type == RUN_FINISHED:
                    return
            if events:
                continue  # a reader may return a page at a time: read on until nothing is left
            if not follow:
                return
            if ended:  # the run ended and every stored event was sent: the store refused its end
                unrecorded = read_unrecorded(run_id)
                if unrecorded is not None:
                    yield unrecorded_end(unrecorded)
                return
            if await _finished(read_run, run_id):
                # The run ended between the read above and this check: its last events
                # (run.finished among them) were stored with the final status, so read on.
                ended = True
                continue
            woken = await _wait(wakeup, hub.idle_seconds(timing))
            if not woken and time.monotonic() - last_sent >= timing.keepalive_seconds:
                yield ServerSentEventMessage(data=None, comment="keep-alive")
                last_sent = time.monotonic()


async def _finished(read_run: Callable[[str], RunRecord], run_id: str) -> bool:
    record = await anyio.to_thread.run_sync(read_run, run_id)
    return bool(RunStatus(record.status).finished)


def unrecorded_end(record: RunRecord) -> ServerSentEventMessage:
    """A final ``run.finished`` for a run whose end the store refused (a full disk): shaped
    as the stored one but with ``seq`` null and no ``id:``, so a client resuming later with
    Last-Event-ID still gets the stored one once the store takes it."""
    data = {"status": record.status, "exit_code": record.exit_code, "code": record.code,
            "detail": record.detail, "recorded": False}
    body = {"seq": None, "run_id": record.run_id, "type": RUN_FINISHED,
            "time": record.finished_at, "data": data}
    return ServerSentEventMessage(data=json.dumps(body, separators=(",", ":"), default=str),
                                  event=RUN_FINISHED)


async def _wait(wakeup: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(wakeup.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        return False
    return True
