"""Typed conformance: every adapter and fake is assignable to its port (checked by mypy in
CI), and constructing the real adapters does no I/O (they connect lazily)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from flwd.adapters.docker_runtime import DockerRuntime
from flwd.adapters.fake_runtime import FakeRuntime
from flwd.adapters.fakes import (
    FakeClock,
    FakeJobCatalog,
    FakeRunDispatcher,
    FakeRunIds,
    FakeNotifyingRunStore,
    FakeRunStore,
    FakeSecretWriter,
)
from flwd.adapters.fs_secrets import FilesystemSecretWriter
from flwd.adapters.fs_workspace import FilesystemRunWorkspace
from flwd.adapters.podman_runtime import PodmanRuntime
from flwd.adapters.pg_store import PostgresRunStore
from flwd.adapters.sqlite_store import SqliteRunStore
from flwd.adapters.system import LocalRunOwners, SystemClock, UuidRunIds
from flwd.adapters.yaml_catalog import YamlJobCatalog
from flwd.domain.run.control import RunControl
from flwd.domain.run.execution import QueuedRun
from flwd.domain.run.supervisor import RunSupervisor
from flwd.entrypoints.cli.detach import DetachingDispatcher
from flwd.ports.catalog import JobCatalog
from flwd.ports.clock import Clock, IdSource
from flwd.ports.dispatch import RunDispatcher
from flwd.ports.events import EventListener
from flwd.ports.owner import RunOwners
from flwd.ports.runtime import ContainerRuntime
from flwd.ports.secrets import SecretWriter
from flwd.ports.store import RunEventFeed, RunEventWaiter, RunRecord, RunStore
from flwd.ports.workspace import RunWorkspace


def test_adapters_conform_to_ports_without_io_when_constructed(tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here"

    runtimes: list[ContainerRuntime] = [
        PodmanRuntime("unix:///nonexistent/podman.sock"),
        DockerRuntime("unix:///nonexistent/docker.sock"),
        FakeRuntime(),
    ]
    postgres = PostgresRunStore("postgresql://127.0.0.1:1/nothing-here")
    stores: list[RunStore] = [SqliteRunStore(missing / "flwd.db"), FakeRunStore(), postgres]
    waiters: list[RunEventWaiter] = [postgres]
    feeds: list[RunEventFeed] = [postgres, FakeNotifyingRunStore()]
    writers: list[SecretWriter] = [FilesystemSecretWriter(missing / "secrets"), FakeSecretWriter()]
    catalogs: list[JobCatalog] = [YamlJobCatalog([missing]), FakeJobCatalog()]
    clocks: list[Clock] = [SystemClock(), FakeClock()]
    ids: list[IdSource] = [UuidRunIds(), FakeRunIds()]
    workspace: RunWorkspace = FilesystemRunWorkspace(missing / "runs")
    owners: RunOwners = LocalRunOwners()

    assert len(runtimes) == len(stores) == 3 and len(writers) == len(catalogs) == 2
    assert len(waiters) == 1 and all(isinstance(feed, RunEventFeed) for feed in feeds)
    assert not isinstance(stores[0], RunEventFeed) and not isinstance(stores[1], RunEventFeed)
    assert len(clocks) == len(ids) == 2 and workspace.path("r1").endswith("r1")
    assert owners.me() and not owners.alive(owners.me())
    assert not missing.exists()


def test_dispatchers_conform_to_the_dispatch_port_when_they_hold_no_run() -> None:
    def execute(queued: QueuedRun, control: RunControl,
                listeners: Iterable[EventListener]) -> RunRecord:
        raise AssertionError("nothing is submitted here")

    supervisor = RunSupervisor(execute=execute)
    dispatchers: list[RunDispatcher[QueuedRun]] = [
        supervisor,
        DetachingDispatcher(dispatcher=lambda: supervisor, reset=lambda: None, close=lambda: None),
        FakeRunDispatcher(),
    ]

    assert [d.cancel("r1") or d.kill("r1") for d in dispatchers] == [False, False, False]


def test_worker_liveness_adapters_conform_to_their_ports_without_io(tmp_path: Path) -> None:
    from flwd.adapters.fakes import FakeQueueProbe, FakeRunQueue, FakeRunRequeue
    from flwd.adapters.kombu_probe import KombuQueueProbe
    from flwd.domain.plan.use_cases import ListJobs
    from flwd.domain.run.pending import PendingCleanup
    from flwd.domain.worker.liveness import WorkerLiveness
    from flwd.domain.worker.requeue import NoRequeue, QueueRequeue
    from flwd.ports.worker import WorkerHook
    from flwd.ports.workers import QueueProbe, RunRequeue, WorkerRegistry

    missing = tmp_path / "nothing-here"
    registries: list[WorkerRegistry] = [
        SqliteRunStore(missing / "flwd.db"), FakeRunStore(),
        PostgresRunStore("postgresql://127.0.0.1:1/nothing-here")]
    probes: list[QueueProbe] = [KombuQueueProbe("redis://127.0.0.1:1/0"), FakeQueueProbe()]
    requeues: list[RunRequeue] = [
        QueueRequeue(queue=FakeRunQueue(), jobs=ListJobs(catalog=FakeJobCatalog())),
        NoRequeue(), FakeRunRequeue()]
    store = FakeRunStore()
    hook: WorkerHook = WorkerLiveness(
        registry=store, store=store, runtime=FakeRuntime, clock=FakeClock(), interval=5,
        timeout=30, requeue=NoRequeue(), pending=PendingCleanup())

    assert len(registries) == 3 and len(probes) == 2 and len(requeues) == 3 and hook
    assert not missing.exists()


def test_signature_adapters_conform_to_ports_without_io_when_constructed(tmp_path: Path) -> None:
    from flwd.adapters.cosign_verifier import CosignSignatureVerifier
    from flwd.adapters.fake_signatures import FakeSignatureVerifier
    from flwd.adapters.pem_keys import PemSignatureKeyReader
    from flwd.ports.signatures import SignatureKeyReader, SignatureVerifier

    verifiers: list[SignatureVerifier] = [CosignSignatureVerifier(), FakeSignatureVerifier()]
    reader: SignatureKeyReader = PemSignatureKeyReader(tmp_path / "nothing-here")

    assert len(verifiers) == 2 and reader is not None
    assert not (tmp_path / "nothing-here").exists()
