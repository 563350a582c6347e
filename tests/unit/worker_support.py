"""Builders for the worker liveness unit tests: runs, heartbeats and labelled containers."""

from __future__ import annotations

from typing import Any

from flwd.adapters.fake_runtime import FakeRuntime
from flwd.adapters.fakes import FakeRunStore
from flwd.ports.worker import WorkerInfo
from flwd.ports.runtime import LABEL_RUN_ID, ContainerSpec
from flwd.ports.store import RunRecord
from tests.conftest import TEST_IMAGE

WORKER = "hostA:100"


def identity(owner: str = WORKER, **changes: Any) -> WorkerInfo:
    values: dict[str, Any] = {"owner": owner, "host": owner.rpartition(":")[0],
                              "queues": ("default",), "concurrency": 2,
                              "runtime": "podman 4.3.1", "rootless": True}
    values.update(changes)
    return WorkerInfo(**values)


def add_run(store: FakeRunStore, run_id: str, status: str = "running", owner: str = WORKER,
            **changes: Any) -> RunRecord:
    run = RunRecord(run_id=run_id, job_id="hello", status=status, profile="secure",
                    created_at="2026-01-01T00:00:00.000Z", owner=owner, **changes)
    store.create(run, "run.created", {})
    return run


def add_container(runtime: FakeRuntime, run_id: str) -> str:
    spec = ContainerSpec(name=f"flwd-{run_id}", image=TEST_IMAGE, command=None, env={},
                         labels={LABEL_RUN_ID: run_id}, mounts=(), workdir="/")
    return runtime.create(spec)
