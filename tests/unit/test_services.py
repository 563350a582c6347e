"""Submission, idempotency, cancel and reconciliation use cases, wired by hand on the fakes."""

from __future__ import annotations

import os
import time
from dataclasses import replace

import pytest

from flwd.adapters.fake_runtime import FakeRuntime
from flwd.adapters.fakes import FakeSecretWriter
from flwd.domain.errors import (
    ArgsInvalidError,
    IdempotencyConflictError,
    PolicyDeniedError,
    JobNotFoundError,
    RunNotActiveError,
    RunNotFoundError,
)
from flwd.domain.run.execution import QueuedRun
from flwd.domain.plan.use_cases import RunRequest
from flwd.ports.runtime import ContainerSpec
from flwd.ports.secrets import SecretFile
from flwd.ports.store import RunRecord
from tests.unit.fake_engine import FakeEngine

SLEEPER = "executor: container\nimage: alpine:3.20\nargs: [{name: n, type: integer}]\n"


@pytest.fixture
def sleeper(fake_engine: FakeEngine) -> str:
    return fake_engine.add_job("sleeper", SLEEPER)


def test_submit_records_queued_run_with_decisions_when_request_is_valid(
        fake_engine: FakeEngine, sleeper: str) -> None:
    queued = fake_engine.submit_run()(RunRequest(job="sleeper", args={"n": 3}))

    assert isinstance(queued, QueuedRun)
    stored = fake_engine.store().get(queued.record.run_id)
    assert stored is not None and stored.status == "queued" and stored.args == {"n": 3}
    types = [e.type for e in fake_engine.store().events(queued.record.run_id)]
    assert types[0] == "run.created" and set(types[1:]) == {"policy.decision"}


def test_submit_records_nothing_when_arguments_are_invalid(fake_engine: FakeEngine, sleeper: str) -> None:
    with pytest.raises(ArgsInvalidError):
        fake_engine.submit_run()(RunRequest(job="sleeper", args={"n": "three"}))

    assert fake_engine.store().list().runs == ()


def test_submit_raises_job_not_found_when_job_is_unknown(fake_engine: FakeEngine) -> None:
    with pytest.raises(JobNotFoundError):
        fake_engine.submit_run()(RunRequest(job="nope"))


def test_same_idempotency_key_returns_same_run_when_body_is_same(
        fake_engine: FakeEngine, sleeper: str) -> None:
    submit = fake_engine.submit_run()
    first = submit(RunRequest(job="sleeper", args={"n": 1}), idempotency_key="k1")

    again = submit(RunRequest(job="sleeper", args={"n": 1}), idempotency_key="k1")

    assert isinstance(first, QueuedRun) and isinstance(again, RunRecord)
    assert again.run_id == first.record.run_id
    assert len(fake_engine.store().list().runs) == 1


def test_same_idempotency_key_conflicts_when_body_differs(fake_engine: FakeEngine, sleeper: str) -> None:
    submit = fake_engine.submit_run()
    submit(RunRequest(job="sleeper", args={"n": 1}), idempotency_key="k1")

    with pytest.raises(IdempotencyConflictError):
        submit(RunRequest(job="sleeper", args={"n": 2}), idempotency_key="k1")


def test_cancel_raises_not_found_when_run_is_unknown(fake_engine: FakeEngine) -> None:
    with pytest.raises(RunNotFoundError):
        fake_engine.cancel_run()("missing")


def test_cancel_raises_not_active_when_run_has_finished(fake_engine: FakeEngine, sleeper: str) -> None:
    queued = fake_engine.submit_run()(RunRequest(job="sleeper"))
    assert isinstance(queued, QueuedRun)
    fake_engine.supervisor().submit(queued).result(10)

    with pytest.raises(RunNotActiveError):
        fake_engine.cancel_run()(queued.record.run_id)


def test_cancel_stops_run_held_by_supervisor(fake_engine: FakeEngine, sleeper: str,
                                             fake_runtime: FakeRuntime) -> None:
    fake_runtime.run_seconds = 30
    queued = fake_engine.submit_run()(RunRequest(job="sleeper"))
    assert isinstance(queued, QueuedRun)
    future = fake_engine.supervisor().submit(queued)
    time.sleep(0.3)

    fake_engine.cancel_run()(queued.record.run_id)

    assert future.result(10).status == "canceled"


def test_extra_runs_wait_queued_when_max_concurrency_is_busy(
        fake_engine: FakeEngine, sleeper: str, fake_runtime: FakeRuntime) -> None:
    fake_runtime.run_seconds = 30
    supervisor = fake_engine.supervisor()
    runs = [fake_engine.submit_run()(RunRequest(job="sleeper")) for _ in range(5)]
    futures = [supervisor.submit(q) for q in runs if isinstance(q, QueuedRun)]
    time.sleep(0.5)

    statuses = sorted(fake_engine.store().get(q.record.run_id).status  # type: ignore[union-attr]
                      for q in runs if isinstance(q, QueuedRun))

    assert statuses.count("queued") == 1 and statuses.count("running") == 4
    supervisor.shutdown(cancel=True)
    assert {f.result(10).status for f in futures} == {"canceled"}


def _orphan(fake_engine: FakeEngine, fake_runtime: FakeRuntime, *, running: bool,
            gone: bool = False) -> QueuedRun:
    """A run left 'running' by a process that no longer exists (its container exited, or
    removed when *gone*)."""
    queued = fake_engine.submit_run()(RunRequest(job="sleeper"))
    assert isinstance(queued, QueuedRun)
    run_id = queued.record.run_id
    spec = ContainerSpec(name=f"flwd-{run_id}", image="docker.io/library/alpine:3.20", command=None,
                         env={}, labels={"flwd.run-id": run_id, "flwd.job-id": "sleeper"},
                         mounts=(), workdir="/")
    fake_runtime.run_seconds = 30 if running else 0
    container_id = fake_runtime.create(spec)
    fake_runtime.start(container_id)
    record = queued.record.evolve(status="running", container_id=container_id,
                                  owner="elsewhere:999999")
    fake_engine.store().append(run_id, "run.started", {}, "2026-01-01T00:00:00.000Z", run=record)
    if gone:
        fake_runtime.remove(container_id)
    return queued


def test_reconcile_ends_run_lost_when_its_container_is_gone(
        fake_engine: FakeEngine, sleeper: str, fake_runtime: FakeRuntime,
        fake_secrets: FakeSecretWriter) -> None:
    queued = _orphan(fake_engine, fake_runtime, running=False, gone=True)
    fake_secrets.materialise(queued.record.run_id, [SecretFile(name="t", value=b"v")])

    report = fake_engine.reconcile_runs()()

    run = fake_engine.store().get(queued.record.run_id)
    assert report.lost == [queued.record.run_id]
    assert run is not None and (run.status, run.code) == ("error", "run.lost")
    assert fake_runtime.containers == {} and fake_secrets.files == {}


def test_reconcile_reattaches_run_when_its_container_still_runs(
        fake_engine: FakeEngine, sleeper: str, fake_runtime: FakeRuntime) -> None:
    queued = _orphan(fake_engine, fake_runtime, running=True)

    report = fake_engine.reconcile_runs()()
    fake_engine.cancel_run()(queued.record.run_id)
    fake_engine.supervisor().shutdown(cancel=False, wait=True)

    run = fake_engine.store().get(queued.record.run_id)
    assert report.reattached == [queued.record.run_id]
    assert run is not None and run.status == "canceled"
    assert fake_runtime.containers == {}


def test_reconcile_removes_container_when_its_run_has_finished(
        fake_engine: FakeEngine, sleeper: str, fake_runtime: FakeRuntime) -> None:
    queued = _orphan(fake_engine, fake_runtime, running=True)
    run = fake_engine.store().get(queued.record.run_id)
    assert run is not None
    fake_engine.store().append(run.run_id, "run.finished", {}, "2026-01-01T00:00:01.000Z",
                          run=run.evolve(status="succeeded"))

    report = fake_engine.reconcile_runs()()

    assert report.removed_containers and fake_runtime.containers == {}


def test_reconcile_leaves_container_and_secrets_alone_when_run_is_unknown_to_its_store(
        fake_engine: FakeEngine, fake_runtime: FakeRuntime, fake_secrets: FakeSecretWriter) -> None:
    """Another flwd (another data dir, same Podman user or Docker daemon) owns that run."""
    spec = ContainerSpec(name="flwd-elsewhere1", image="docker.io/library/alpine:3.20",
                         command=None, env={},
                         labels={"flwd.run-id": "elsewhere1", "flwd.job-id": "other"},
                         mounts=(), workdir="/")
    fake_runtime.run_seconds = 30
    container_id = fake_runtime.create(spec)
    fake_runtime.start(container_id)
    fake_secrets.materialise("elsewhere1", [SecretFile(name="t", value=b"v")])

    report = fake_engine.reconcile_runs()()

    assert report.removed_containers == [] and report.removed_secrets == []
    assert container_id in fake_runtime.containers and "elsewhere1" in fake_secrets.files


def _types(fake_engine: FakeEngine, run_id: str) -> list[str]:
    return [e.type for e in fake_engine.store().events(run_id)]


def test_cancel_adopts_and_stops_run_when_its_owner_died(
        fake_engine: FakeEngine, sleeper: str, fake_runtime: FakeRuntime) -> None:
    """A CLI killed mid-run leaves its run 'running': :cancel must still stop it."""
    queued = _orphan(fake_engine, fake_runtime, running=True)
    run_id = queued.record.run_id

    fake_engine.cancel_run()(run_id)
    fake_engine.supervisor().shutdown(cancel=False, wait=True)

    run = fake_engine.store().get(run_id)
    assert run is not None and run.status == "canceled" and run.code is None
    assert fake_runtime.stopped and fake_runtime.containers == {}
    types = _types(fake_engine, run_id)
    assert types.index("run.cancel.requested") < types.index("run.canceled")
    assert types[-1] == "run.finished" and types.count("run.finished") == 1


def test_cancel_ends_run_canceled_at_once_when_its_owner_died_and_container_is_gone(
        fake_engine: FakeEngine, sleeper: str, fake_runtime: FakeRuntime,
        fake_secrets: FakeSecretWriter) -> None:
    queued = _orphan(fake_engine, fake_runtime, running=False, gone=True)
    run_id = queued.record.run_id
    fake_secrets.materialise(run_id, [SecretFile(name="t", value=b"v")])

    returned = fake_engine.cancel_run()(run_id)

    assert (returned.status, returned.code) == ("canceled", None)
    assert fake_runtime.containers == {} and fake_secrets.files == {}
    assert _types(fake_engine, run_id)[-2:] == ["run.canceled", "run.finished"]
    assert fake_engine.store().events(run_id)[-1].data["status"] == "canceled"


def test_cancel_only_records_the_request_when_the_owner_is_alive(
        fake_engine: FakeEngine, sleeper: str, fake_runtime: FakeRuntime) -> None:
    queued = _orphan(fake_engine, fake_runtime, running=True)
    run_id = queued.record.run_id
    alive = f"{os.uname().nodename}:{os.getppid()}"  # the process that started pytest
    record = fake_engine.store().get(run_id)
    assert record is not None
    fake_engine.store().append(run_id, "run.note", {}, "2026-01-01T00:00:01.000Z",
                          run=record.evolve(owner=alive))

    returned = fake_engine.cancel_run()(run_id)

    assert returned.status == "running" and returned.owner == alive
    assert _types(fake_engine, run_id)[-1] == "run.cancel.requested"
    assert len(fake_runtime.containers) == 1  # its owner stops it when it reads the request


def test_an_orphan_is_adopted_only_once_when_asked_twice(
        fake_engine: FakeEngine, sleeper: str, fake_runtime: FakeRuntime) -> None:
    queued = _orphan(fake_engine, fake_runtime, running=True)
    reconcile = fake_engine.reconcile_runs()

    first, second = reconcile.adopt_orphan(queued.record.run_id), reconcile.adopt_orphan(
        queued.record.run_id)
    fake_engine.supervisor().shutdown(cancel=True, wait=True)

    assert (first, second) == (True, False)
    assert _types(fake_engine, queued.record.run_id).count("run.finished") == 1


def test_catalog_is_validated_once_while_no_spec_changes(fake_engine: FakeEngine, sleeper: str) -> None:
    list_jobs = fake_engine.list_jobs()

    first, second = list_jobs(), list_jobs()
    doc = fake_engine.catalog.docs[0]  # the spec changes on disk: the catalog finds a new document
    fake_engine.catalog.docs[0] = replace(doc, data={**(doc.data or {}), "name": "renamed"})
    third = list_jobs()

    assert first is second
    assert third is not first and third.find("sleeper").name == "renamed"


def test_repeated_idempotent_request_is_denied_again_when_policy_denied_it(
        fake_engine: FakeEngine) -> None:
    fake_engine.add_job("net", "executor: container\nimage: alpine:3.20\ncontainer: {network: host}\n")
    submit = fake_engine.submit_run()
    with pytest.raises(PolicyDeniedError) as first:
        submit(RunRequest(job="net"), idempotency_key="k-denied")

    with pytest.raises(PolicyDeniedError) as again:
        submit(RunRequest(job="net"), idempotency_key="k-denied")

    assert again.value.code == first.value.code == "policy.override.denied"
    assert again.value.context["run_id"] == first.value.context["run_id"]
    assert len(fake_engine.store().list().runs) == 1
