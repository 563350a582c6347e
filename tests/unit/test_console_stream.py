"""A long run's live stream (the console's and the API's) reads the store a page at a time:
a reader asking for a huge run from its start never makes the server hold every event."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

from dependency_injector import providers
from litestar.testing import TestClient

from flwd.entrypoints.http.sse import STREAM_PAGE
from flwd.ports.store import EventRecord
from tests.unit.console_support import console_app, sign_in
from tests.unit.http_support import (
    ADMIN,
    auth,
    close,
    fake_runtime,
    make_container,
    sse_messages,
    wait_finished,
)


class _LargestRead:
    """The run store, noting the most events a single read returned."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.largest = 0

    def events(self, run_id: str, after_seq: int = 0,
               limit: int | None = None) -> Sequence[EventRecord]:
        found = self._inner.events(run_id, after_seq=after_seq, limit=limit)
        self.largest = max(self.largest, len(found))
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_streams_send_every_line_of_a_long_run_reading_a_page_at_a_time_when_asked_from_the_start(
        tmp_path: Path) -> None:
    lines = tuple(f"line {i}" for i in range(3 * STREAM_PAGE + 7))
    container = make_container(tmp_path, fake_runtime(lines=lines))
    store = _LargestRead(container.store())
    container.store.override(providers.Object(store))
    with TestClient(console_app(container)) as client:
        run_id = client.post("/runs", json={"job": "hello", "args": {"name": "x"}},
                             headers=auth()).json()["run_id"]
        wait_finished(client, run_id)
        store.largest = 0
        sign_in(client, ADMIN)
        with client.stream("GET", f"/ui/runs/{run_id}/stream?after=0") as response:
            page = [m["data"] for m in sse_messages(response.iter_lines())
                    if m.get("event") == "output"]
        with client.stream("GET", f"/runs/{run_id}/events", headers=auth()) as response:
            api = [m for m in sse_messages(response.iter_lines()) if m.get("event") == "run.output"]
    close(container)

    shown = [re.search(r">line (\d+)<", data).group(1) for data in page]  # type: ignore[union-attr]
    assert shown == [str(i) for i in range(len(lines))]
    assert len(api) == len(lines)
    assert 0 < store.largest <= STREAM_PAGE
