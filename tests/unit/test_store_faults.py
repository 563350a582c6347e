"""A run store that refuses writes (a full disk): the run stops and ends ``error``
``run.store.failed``, its container and secrets go, and its end is recorded once the store
takes writes again; the CLI exits 125, the API answers 503, SSE streams end."""

from __future__ import annotations

import asyncio
import io as stdio
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from flwd.adapters.fake_runtime import FakeRuntime
from flwd.adapters.fakes import FakeRunStore, FakeSecretWriter
from flwd.domain.errors import RunStoreError
from flwd.domain.run.control import RunControl
from flwd.domain.run.execution import QueuedRun
from flwd.domain.plan.use_cases import RunRequest
from flwd.domain.run.pending import PendingCleanup
from flwd.entrypoints.cli.main import main
from flwd.entrypoints.cli.render import Io
from flwd.entrypoints.container import Container
from flwd.entrypoints.http.sse import EventHub, StreamTiming, follow_run
from flwd.ports.runtime import OutputLine
from flwd.ports.store import EventRecord, RunRecord
from tests.conftest import write_job
from tests.unit.fake_engine import FakeEngine
from tests.unit.http_support import auth, close, make_app, make_container

JOB = ("executor: container\nimage: alpine:3.20\ncommand: [/bin/sh, -c, echo hi]\n"
       "args: [{name: token, type: string, format: secret}]\n")
STORE_FAILED = "run.store.failed"


@pytest.fixture
def store(fake_store: FakeRunStore) -> FakeRunStore:
    return fake_store


@pytest.fixture
def engine_with_job(fake_engine: FakeEngine) -> FakeEngine:
    fake_engine.add_job("job", JOB)
    return fake_engine


def _submit(engine: FakeEngine) -> QueuedRun:
    queued = engine.submit_run()(RunRequest(job="job", args={"token": "s3cret"}))
    assert isinstance(queued, QueuedRun)
    return queued


def _execute(engine: FakeEngine, queued: QueuedRun) -> RunRecord:
    return engine.execute_run()(queued, RunControl())


def _long_chatty(runtime: FakeRuntime) -> None:
    runtime.output_lines = [OutputLine(stream="stdout", line=f"line {i}") for i in range(3)]
    runtime.run_seconds = 10.0


def test_run_stops_and_ends_store_failed_when_output_cannot_be_stored(
        engine_with_job: FakeEngine, store: FakeRunStore, fake_runtime: FakeRuntime) -> None:
    _long_chatty(fake_runtime)
    store.refused_events = {"run.output"}
    started = time.monotonic()

    record = _execute(engine_with_job, _submit(engine_with_job))

    assert (record.status, record.code) == ("error", STORE_FAILED)
    assert fake_runtime.stopped, "the container was not stopped"
    assert time.monotonic() - started < 8, "the run waited for the job instead of stopping it"
    assert store.get(record.run_id).status == "error"  # type: ignore[union-attr]


def test_container_and_secrets_are_removed_when_store_fails_mid_run(
        engine_with_job: FakeEngine, store: FakeRunStore, fake_runtime: FakeRuntime,
        fake_secrets: FakeSecretWriter) -> None:
    _long_chatty(fake_runtime)
    store.refused_events = {"run.output", "run.finished"}

    record = _execute(engine_with_job, _submit(engine_with_job))

    assert fake_runtime.containers == {} and fake_runtime.removed
    assert fake_secrets.files == {} and record.run_id in fake_secrets.removed


def test_run_end_is_recorded_when_store_takes_writes_again(
        engine_with_job: FakeEngine, store: FakeRunStore) -> None:
    queued = _submit(engine_with_job)
    store.full = True

    record = _execute(engine_with_job, queued)
    stuck = store.get(record.run_id)
    store.full = False
    left = engine_with_job.pending.retry_now()

    assert (record.status, record.code) == ("error", STORE_FAILED)
    assert stuck is not None and stuck.status == "queued"
    assert left == 0
    ended = store.get(record.run_id)
    assert ended is not None and (ended.status, ended.code) == ("error", STORE_FAILED)
    assert [e.type for e in store.events(record.run_id)][-1] == "run.finished"


def test_query_shows_the_end_when_store_refused_it(engine_with_job: FakeEngine,
                                                   store: FakeRunStore) -> None:
    queued = _submit(engine_with_job)
    store.full = True

    _execute(engine_with_job, queued)

    shown = engine_with_job.query_runs().get(queued.record.run_id)
    assert (shown.status, shown.code) == ("error", STORE_FAILED)


def test_pending_end_is_recorded_in_background_when_store_recovers(
        engine_with_job: FakeEngine, store: FakeRunStore) -> None:
    engine_with_job.pending = PendingCleanup(first_delay=0.02, max_delay=0.05)
    queued = _submit(engine_with_job)
    store.full = True
    _execute(engine_with_job, queued)

    store.full = False

    deadline = time.monotonic() + 10
    while store.get(queued.record.run_id).status == "queued":  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the refused end was never recorded"
        time.sleep(0.02)
    assert store.get(queued.record.run_id).code == STORE_FAILED  # type: ignore[union-attr]


def test_submit_ends_the_run_when_store_fails_after_creating_it(
        engine_with_job: FakeEngine, store: FakeRunStore) -> None:
    store.refused_events = {"policy.decision"}

    with pytest.raises(RunStoreError):
        _submit(engine_with_job)
    store.refused_events = set()
    engine_with_job.pending.retry_now()

    (run,) = store.runs.values()
    assert (run.status, run.code) == ("error", STORE_FAILED)


def _orphaned(engine: FakeEngine) -> str:
    """A run left running by a process that no longer exists, its container gone."""
    queued = _submit(engine)
    record = queued.record.evolve(status="running", owner="elsewhere:999999")
    engine.runs.append(record.run_id, "run.started", {}, "2026-01-01T00:00:00.000Z", run=record)
    return record.run_id


def test_reconcile_skips_without_raising_when_store_refuses_writes_and_ends_later(
        engine_with_job: FakeEngine, store: FakeRunStore) -> None:
    run_id = _orphaned(engine_with_job)
    store.full = True

    report = engine_with_job.reconcile_runs()()
    store.full = False
    engine_with_job.reconcile_runs()()

    assert report.lost == []
    ended = store.get(run_id)
    assert ended is not None and (ended.status, ended.code) == ("error", "run.lost")


def test_reconcile_keeps_the_end_it_could_not_store_until_store_takes_it(
        engine_with_job: FakeEngine, store: FakeRunStore) -> None:
    run_id = _orphaned(engine_with_job)
    store.refused_events = {"run.finished"}

    engine_with_job.reconcile_runs()()
    still = store.get(run_id)
    store.refused_events = set()
    engine_with_job.pending.retry_now()

    assert still is not None and still.status == "running"
    ended = store.get(run_id)
    assert ended is not None and (ended.status, ended.code) == ("error", "run.lost")


@pytest.fixture
def wired(engine: Container, store: FakeRunStore, jobs_root: Path) -> Container:
    """The CLI's container on the fake store, with one job taking a secret."""
    engine.store.override(providers.Object(store))
    write_job(jobs_root, "job", JOB)
    return engine


def test_cli_exits_125_with_store_failed_and_no_traceback_when_store_is_full(
        wired: Container, store: FakeRunStore, fake_runtime: FakeRuntime) -> None:
    _long_chatty(fake_runtime)
    store.refused_events = {"run.output", "run.finished"}
    out, err = stdio.StringIO(), stdio.StringIO()

    code = main(["job", "--token", "s3cret"], Io(out=out, err=err), {"HOME": "/nonexistent"},
                container=wired)

    assert code == 125
    assert f"error[{STORE_FAILED}]" in err.getvalue()
    assert "Traceback" not in err.getvalue() and "s3cret" not in err.getvalue()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[Container, TestClient[Any], FakeRunStore]]:
    container = make_container(tmp_path, FakeRuntime(images={"docker.io/library/alpine:3.20"}))
    store = FakeRunStore()
    container.store.override(providers.Object(store))
    with TestClient(make_app(container)) as client:
        yield container, client, store
    close(container)


def test_post_runs_answers_503_store_failed_when_store_is_full(api: Any) -> None:
    _, client, store = api
    store.full = True

    response = client.post("/runs", json={"job": "hello", "args": {"name": "A"}}, headers=auth())

    assert response.status_code == 503
    assert response.json()["code"] == STORE_FAILED


def test_sse_stream_ends_with_the_unrecorded_end_when_store_refused_it() -> None:
    stored = [EventRecord(run_id="r1", seq=1, type="run.created", time="t", data={})]
    ended = RunRecord(run_id="r1", job_id="j", status="error", profile="secure", created_at="t",
                      code=STORE_FAILED, detail="disk full")

    def read_events(run_id: str, after: int) -> Sequence[EventRecord]:
        return [e for e in stored if e.seq > after]

    async def collect() -> list[Any]:
        return [m async for m in follow_run("r1", 0, read_events=read_events,
                                            read_run=lambda _: ended, hub=EventHub(),
                                            timing=StreamTiming(poll_seconds=0.01),
                                            read_unrecorded=lambda _: ended)]

    messages = asyncio.run(collect())

    assert [m.event for m in messages] == ["run.created", "run.finished"]
    assert messages[-1].id is None and f'"code":"{STORE_FAILED}"' in str(messages[-1].data)


def test_sse_stream_ends_with_an_error_event_when_store_cannot_be_read() -> None:
    def read_events(run_id: str, after: int) -> Sequence[EventRecord]:
        raise RunStoreError("cannot read the run store: disk I/O error")

    async def collect() -> list[Any]:
        return [m async for m in follow_run("r1", 0, read_events=read_events,
                                            read_run=lambda _: None,  # type: ignore[arg-type,return-value]
                                            hub=EventHub(), timing=StreamTiming(poll_seconds=0.01))]

    messages = asyncio.run(collect())

    assert [m.event for m in messages] == ["error"]
    assert f'"code":"{STORE_FAILED}"' in str(messages[0].data)
