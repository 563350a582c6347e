"""The console's workers page: the live workers of ``GET /workers``, under runs:read."""

from __future__ import annotations

from pathlib import Path

from dependency_injector import providers
from litestar.testing import TestClient

from flwd.adapters.fakes import FakeClock, FakeRunStore
from flwd.domain.worker.heartbeat import Heartbeat
from tests.unit.console_support import console_app, sign_in
from tests.unit.http_support import JOBS_ONLY, READER, close, fake_runtime, make_container
from tests.unit.worker_support import identity


def test_workers_page_lists_live_workers_only(tmp_path: Path) -> None:
    container = make_container(tmp_path, fake_runtime())
    store, clock = FakeRunStore(), FakeClock("2026-01-01T00:00:00.000Z")
    container.store.override(providers.Object(store))
    container.clock.override(providers.Object(clock))
    for owner, facts, then in (("old:1", {}, 31), ("new:2", {"queues": ("gpu",), "rootless": False}, 1)):
        Heartbeat(identity=identity(owner, **facts), registry=store, store=store,
                  runtime=lambda: fake_runtime(), clock=clock)()
        clock.advance(then)
    with TestClient(console_app(container)) as client:
        sign_in(client, READER)
        page = client.get("/ui/workers/").text
        table = client.get("/ui/workers/?part=table").text
        sign_in(client, JOBS_ONLY)
        forbidden = client.get("/ui/workers/")
    close(container)

    assert 'data-worker="new:2"' in page and 'data-worker="old:1"' not in page
    assert "gpu" in page and "(rootful)" in page
    assert table.startswith('<div id="workers"')
    assert forbidden.status_code == 403 and "<table" not in forbidden.text
