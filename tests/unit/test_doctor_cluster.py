"""``:doctor``'s cluster checks (store, queue, workers) over fakes injected in the container."""

from __future__ import annotations

from pathlib import Path

from dependency_injector import providers

from flwd.adapters.fakes import FakeClock, FakeQueueProbe, FakeRunStore
from flwd.entrypoints.cli.doctor_cluster import cluster_checks
from flwd.entrypoints.config import FlwdConfig
from flwd.entrypoints.container import build_container
from flwd.ports.kinds import StoreKind
from tests.contracts.workers import worker

CLUSTER = FlwdConfig(store=StoreKind.POSTGRESQL, store_url="postgresql://flwd:pw@db.test/flwd",
                     queue_url="redis://broker.test:6379/0")


def checks(config: FlwdConfig, store: FakeRunStore, probe: FakeQueueProbe
           ) -> dict[str, tuple[bool, str]]:
    container = build_container(config)
    container.store.override(providers.Object(store))
    container.queue_probe.override(providers.Object(probe))
    container.clock.override(providers.Object(FakeClock("2026-01-01T00:01:00.000Z")))
    return {c["check"]: (c["ok"], c["detail"]) for c in cluster_checks(config, container)}


def test_doctor_passes_every_check_when_store_queue_and_a_worker_answer() -> None:
    store = FakeRunStore()
    store.beat(worker("hostA:7", 55), [])

    found = checks(CLUSTER, store, FakeQueueProbe({"default": 2}))

    assert all(ok for ok, _ in found.values()), found
    assert "db.test" in found["store"][1] and "pw" not in found["store"][1]
    assert found["queue"][1].endswith("2 runs waiting in default")
    assert found["workers"][1] == "1 live: hostA:7 (default,gpu)"


def test_doctor_fails_the_workers_check_when_none_is_live() -> None:
    store = FakeRunStore()
    store.beat(worker("hostA:7", 0), [])  # 60 s ago: past worker_timeout

    found = checks(CLUSTER, store, FakeQueueProbe())

    assert found["workers"][0] is False and "no live worker" in found["workers"][1]


def test_doctor_fails_the_queue_check_with_its_code_when_the_broker_does_not_answer() -> None:
    found = checks(CLUSTER, FakeRunStore(), FakeQueueProbe(unavailable=True))

    assert found["queue"] == (False, "queue.unavailable: the queue at fake://queue does not answer")


def test_doctor_skips_queue_and_workers_when_single_host(tmp_path: Path) -> None:
    config = FlwdConfig(data_dir=str(tmp_path / "data"))

    found = checks(config, FakeRunStore(), FakeQueueProbe(unavailable=True))

    assert found["queue"][0] and found["workers"][0] and "single-host" in found["queue"][1]
    assert "not created yet" in found["store"][1] and not (tmp_path / "data").exists()
