"""Cluster mode's settings: queue_url, a job's queue:, :worker's options, the container's
selection of the queue dispatcher, and the worker's watch for stop requests."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from flwd.adapters.celery_queue import make_app
from flwd.adapters.fakes import FakeNotifyingRunStore
from flwd.adapters.system import LocalRunOwners
from flwd.domain.errors import ConfigInvalidError, SpecInvalidError, UsageError
from flwd.domain.plan.assembly import plan_as_dict
from flwd.domain.plan.use_cases import RunRequest
from flwd.domain.run.queue_dispatch import QueueDispatcher
from flwd.domain.run.remote_stop import RemoteStops
from flwd.domain.run.supervisor import RunSupervisor
from flwd.entrypoints.cli.command_parser import parse_command
from flwd.entrypoints.cli.grammar import COMMANDS_BY_NAME
from flwd.entrypoints.config import CliOverrides, FlwdConfig, load_config
from flwd.entrypoints.container import build_container
from flwd.entrypoints.worker import WorkerOptions, work, worker_options
from flwd.ports.owner import QUEUED_OWNER
from flwd.ports.store import RunRecord
from tests.unit.fake_engine import FakeEngine

STORE = "postgresql://flwd@db.example/flwd"
QUEUE = "redis://:hunter2@queue.example:6379/0"


def test_queue_url_is_taken_from_the_environment_when_it_is_a_broker_url() -> None:
    config = load_config(CliOverrides(), {"FLWD_STORE_URL": STORE, "FLWD_QUEUE_URL": QUEUE})

    assert config.queue_url == QUEUE and config.cluster
    assert "hunter2" not in repr(config)


@pytest.mark.parametrize("url", ["http://queue.example/", "redis://", "sqs://x", "redis://h:0/0"])
def test_queue_url_is_config_invalid_without_its_password_when_not_a_broker_url(url: str) -> None:
    with pytest.raises(ConfigInvalidError) as caught:
        load_config(CliOverrides(), {"FLWD_STORE_URL": STORE, "FLWD_QUEUE_URL": url})

    assert caught.value.context["field"] == "queue_url"


def test_queue_url_is_config_invalid_when_no_store_url_is_set(tmp_path: Path) -> None:
    config_file = tmp_path / "flwd.yaml"
    config_file.write_text(f"queue_url: {QUEUE}\n")

    with pytest.raises(ConfigInvalidError) as caught:
        load_config(CliOverrides(config=str(config_file)), {})

    assert "store_url" in caught.value.detail and "hunter2" not in caught.value.detail


def test_the_container_enqueues_runs_and_records_them_owned_by_the_queue_in_cluster_mode(
        tmp_path: Path) -> None:
    config = load_config(CliOverrides(data_dir=str(tmp_path)),
                         {"FLWD_STORE_URL": STORE, "FLWD_QUEUE_URL": QUEUE})

    container = build_container(config)

    assert isinstance(container.dispatcher(), QueueDispatcher)
    assert container.submit_owner() == QUEUED_OWNER
    assert repr(container.run_queue()).count("hunter2") == 0


def test_the_container_runs_locally_when_only_a_store_url_is_set(tmp_path: Path) -> None:
    config = load_config(CliOverrides(data_dir=str(tmp_path)), {"FLWD_STORE_URL": STORE})

    container = build_container(config)

    assert isinstance(container.dispatcher(), RunSupervisor)
    assert container.submit_owner() == container.owner()


def test_a_run_waiting_in_the_queue_counts_as_owned_by_a_live_process() -> None:
    assert LocalRunOwners(shared_store=True).alive(QUEUED_OWNER)
    assert LocalRunOwners(shared_store=False).alive(QUEUED_OWNER)


def test_a_gone_process_of_this_host_counts_as_alive_only_in_cluster_mode() -> None:
    here = LocalRunOwners().me().rpartition(":")[0]
    gone = f"{here}:{2**22 + 7}"  # above the kernel's PID_MAX_LIMIT: never a live process

    assert not LocalRunOwners(shared_store=True).alive(gone)
    assert LocalRunOwners(shared_store=True, cluster=True).alive(gone)


def test_a_jobs_queue_shows_in_its_plan_when_named(fake_engine: FakeEngine) -> None:
    fake_engine.add_job("gpu", "executor: container\nimage: alpine:3.20\nqueue: gpu-1\n")
    fake_engine.add_job("plain", "executor: container\nimage: alpine:3.20\n")

    _, gpu = fake_engine.plan_job()(RunRequest(job="gpu"))
    _, plain = fake_engine.plan_job()(RunRequest(job="plain"))

    assert plan_as_dict(gpu.plan)["queue"] == "gpu-1" and plain.plan.queue == "default"


@pytest.mark.parametrize("queue", ["", "a b", "-x", "x" * 64, "7", "[a]"])
def test_a_jobs_queue_is_spec_invalid_when_not_a_queue_name(
        fake_engine: FakeEngine, queue: str) -> None:
    fake_engine.add_job("bad", f"executor: container\nimage: alpine:3.20\nqueue: {queue!r}\n"
                        if queue != "7" else "executor: container\nimage: alpine:3.20\nqueue: 7\n")

    with pytest.raises(SpecInvalidError) as caught:
        fake_engine.plan_job()(RunRequest(job="bad"))

    assert caught.value.context["field"] == "queue"


def test_worker_options_take_repeated_queues_and_a_concurrency_when_valid() -> None:
    parsed = parse_command(COMMANDS_BY_NAME[":worker"],
                           ["--queue", "gpu", "--queue", "default", "--concurrency", "2"])

    options = worker_options(parsed.values)

    assert options.queues == ("gpu", "default") and options.concurrency == 2


def test_worker_takes_the_default_queue_when_none_is_named() -> None:
    options = worker_options(parse_command(COMMANDS_BY_NAME[":worker"], []).values)

    assert options.queues == ("default",) and options.concurrency is None


@pytest.mark.parametrize("argv", [["--queue", "a b"], ["--concurrency", "0"],
                                  ["--concurrency", "two"]])
def test_worker_options_are_usage_invalid_when_malformed(argv: list[str]) -> None:
    with pytest.raises(UsageError):
        worker_options(parse_command(COMMANDS_BY_NAME[":worker"], argv).values)


def _held_run(store: FakeNotifyingRunStore, run_id: str) -> None:
    store.create(RunRecord(run_id=run_id, job_id="j", status="running", profile="secure",
                           created_at="2026-01-01T00:00:00.000Z", owner="w:1"), "run.created", {})


def test_the_worker_stops_a_run_it_holds_when_another_process_records_a_cancel() -> None:
    store = FakeNotifyingRunStore()
    supervisor = RunSupervisor(execute=lambda *_: None)  # type: ignore[arg-type,return-value]
    control = supervisor.control_for("r1")
    _held_run(store, "r1")
    stops = RemoteStops(store=store, feed=store, runs=supervisor)

    stops.check("r1")
    before = control.cancel_requested
    store.append("r1", "run.cancel.requested", {"kill": True}, "2026-01-01T00:00:01.000Z")
    stops.check("r1")

    assert (before, control.cancel_requested, control.kill_requested) == (False, True, True)


def test_worker_refuses_to_start_config_invalid_outside_cluster_mode() -> None:
    with pytest.raises(ConfigInvalidError) as caught:
        work(FlwdConfig(store_url=STORE), WorkerOptions(), io.StringIO(), {})

    assert caught.value.context["field"] == "queue_url"


def test_celery_app_takes_json_only_and_acknowledges_a_run_after_it_ended() -> None:
    conf = make_app("redis://127.0.0.1:1/0").conf

    assert (conf.task_acks_late, conf.task_reject_on_worker_lost) == (True, True)
    assert conf.worker_prefetch_multiplier == 1 and conf.accept_content == ["json"]
    assert conf.task_serializer == "json" and conf.task_ignore_result
