"""``GET /workers`` and the cluster figures of ``/metrics``, over fakes injected in the container."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from flwd.adapters.fakes import FakeClock, FakeQueueProbe, FakeRunStore
from flwd.domain.worker.heartbeat import Heartbeat
from flwd.entrypoints.container import Container
from tests.unit.http_support import JOBS_ONLY, READER, auth, close, fake_runtime, make_app, make_container
from tests.unit.worker_support import identity

START = "2026-01-01T00:00:00.000Z"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Container, FakeRunStore, FakeClock]]:
    container = make_container(tmp_path, fake_runtime())
    store, clock = FakeRunStore(), FakeClock(START)
    container.store.override(providers.Object(store))
    container.clock.override(providers.Object(clock))
    yield container, store, clock
    close(container)


def beat(store: FakeRunStore, clock: FakeClock, owner: str, **facts: Any) -> None:
    Heartbeat(identity=identity(owner, **facts), registry=store, store=store,
              runtime=lambda: fake_runtime(), clock=clock)()


def test_workers_lists_live_workers_when_one_went_silent(
        cluster: tuple[Container, FakeRunStore, FakeClock]) -> None:
    container, store, clock = cluster
    beat(store, clock, "old:1")
    clock.advance(31)
    beat(store, clock, "new:2", queues=("gpu",), rootless=False)
    clock.advance(1.5)

    with TestClient(make_app(container)) as client:
        response = client.get("/workers", headers=auth(READER))
        refused = client.get("/workers", headers=auth(JOBS_ONLY))

    assert response.status_code == 200, response.text
    assert response.json() == {"workers": [{
        "worker_id": "new:2", "host": "new", "queues": ["gpu"], "runtime": "podman 4.3.1",
        "rootless": False, "concurrency": 2, "active_runs": [],
        "last_heartbeat": "2026-01-01T00:00:31.000Z", "heartbeat_age_seconds": 1.5}]}
    assert refused.status_code == 403 and refused.json()["code"] == "auth.forbidden"


def test_workers_is_empty_when_no_worker_ever_beat(
        cluster: tuple[Container, FakeRunStore, FakeClock]) -> None:
    with TestClient(make_app(cluster[0])) as client:
        assert client.get("/workers", headers=auth()).json() == {"workers": []}


def test_metrics_show_each_worker_and_queue_depths_when_a_queue_is_configured(
        cluster: tuple[Container, FakeRunStore, FakeClock]) -> None:
    container, store, clock = cluster
    container.config.from_dict({"queue_url": "redis://127.0.0.1:1/0"})
    probe = FakeQueueProbe({"default": 3, "gpu": 0})
    container.queue_probe.override(providers.Object(probe))
    beat(store, clock, "w:1", queues=("gpu",))
    clock.advance(2)

    with TestClient(make_app(container, loopback=True)) as client:
        text = client.get("/metrics").text

    assert "flwd_workers_live 1" in text
    assert 'flwd_worker_active_runs{worker="w:1",host="w"} 0' in text
    assert 'flwd_worker_heartbeat_age_seconds{worker="w:1",host="w"} 2.000' in text
    assert 'flwd_queue_depth{queue="default"} 3' in text
    assert 'flwd_queue_depth{queue="gpu"} 0' in text
    assert "flwd_queue_up 1" in text and probe.asked == [("default", "gpu")]


def test_metrics_say_the_queue_is_down_when_its_broker_does_not_answer(
        cluster: tuple[Container, FakeRunStore, FakeClock]) -> None:
    container = cluster[0]
    container.config.from_dict({"queue_url": "redis://127.0.0.1:1/0"})
    container.queue_probe.override(providers.Object(FakeQueueProbe(unavailable=True)))

    with TestClient(make_app(container, loopback=True)) as client:
        response = client.get("/metrics")

    assert response.status_code == 200
    assert "flwd_queue_up 0" in response.text and "flwd_queue_depth" not in response.text


def test_metrics_leave_the_queue_out_when_none_is_configured(
        cluster: tuple[Container, FakeRunStore, FakeClock]) -> None:
    with TestClient(make_app(cluster[0], loopback=True)) as client:
        text = client.get("/metrics").text

    assert "flwd_workers_live 0" in text and "flwd_queue" not in text
