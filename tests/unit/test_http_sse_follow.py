"""The SSE follower never closes a stream before sending the run's last events."""

from __future__ import annotations

import asyncio
from typing import Callable, Sequence

from flwd.entrypoints.http.sse import EventHub, StreamTiming, follow_run
from flwd.ports.store import EventRecord, RunRecord


def _event(seq: int, kind: str) -> EventRecord:
    return EventRecord(run_id="r1", seq=seq, type=kind, time="2026-01-01T00:00:00.000Z", data={})


def _ended(status: str) -> RunRecord:
    return RunRecord(run_id="r1", job_id="j", status=status, profile="secure",
                     created_at="2026-01-01T00:00:00.000Z")


def _sent_ids(read_events: Callable[[str, int], Sequence[EventRecord]],
              read_run: Callable[[str], RunRecord]) -> list[object]:
    async def collect() -> list[object]:
        return [m.id async for m in follow_run("r1", 1, read_events=read_events,
                                               read_run=read_run, hub=EventHub(),
                                               timing=StreamTiming(poll_seconds=0.01))]

    return asyncio.run(collect())


def test_stream_sends_last_events_when_run_ends_between_read_and_status_check() -> None:
    stored = [_event(1, "run.created")]

    def read_events(run_id: str, after: int) -> Sequence[EventRecord]:
        return [e for e in stored if e.seq > after]

    def read_run(run_id: str) -> RunRecord:
        # The run finishes right after the follower found nothing new.
        stored.extend([_event(2, "run.canceled"), _event(3, "run.finished")])
        return _ended("canceled")

    ids = _sent_ids(read_events, read_run)

    assert ids == [2, 3]


def test_stream_sends_every_event_when_reads_are_paged_and_the_run_ended_with_more_than_a_page(
        ) -> None:
    """A stream reads a bounded page at a time (memory): the re-read after the run ended must
    go on until nothing is left, not stop after one page."""
    stored = [_event(1, "run.created")]

    def read_page(run_id: str, after: int) -> Sequence[EventRecord]:
        return [e for e in stored if e.seq > after][:2]

    def read_run(run_id: str) -> RunRecord:
        if len(stored) == 1:  # the run writes its last lines and ends after the first read
            stored.extend([_event(seq, "run.output") for seq in range(2, 7)])
            stored.append(_event(7, "run.finished"))
        return _ended("succeeded")

    ids = _sent_ids(read_page, read_run)

    assert ids == [2, 3, 4, 5, 6, 7]
