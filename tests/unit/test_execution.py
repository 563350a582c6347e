"""The run lifecycle on the fakes (no container): states, events, clean-up on every path."""

from __future__ import annotations

import threading
import time

import pytest

from flwd.adapters.fake_runtime import FakeRuntime
from flwd.adapters.fakes import FakeRunWorkspace, FakeSecretWriter
from flwd.domain.run.control import RunControl
from flwd.domain.errors import OciError, PolicyOverrideDeniedError
from flwd.domain.run.execution import QueuedRun
from flwd.domain.model import PolicyBundle
from flwd.domain.args.redact import Redactor
from flwd.domain.plan.use_cases import RunRequest
from flwd.ports.runtime import ContainerSpec, OutputLine, RuntimeInfo
from flwd.ports.store import RunRecord
from tests.unit.fake_engine import FakeEngine

GREET = """\
executor: container
image: alpine:3.20
script: main.sh
args:
  - {name: name, type: string, required: true}
  - {name: token, type: string, format: secret}
"""


def _submit(fake_engine: FakeEngine, args: dict[str, object] | None = None, job: str = "greet") -> QueuedRun:
    queued = fake_engine.submit_run()(RunRequest(job=job, args={"name": "Ada"} if args is None else args))
    assert isinstance(queued, QueuedRun)
    return queued


def _execute(fake_engine: FakeEngine, queued: QueuedRun, control: RunControl | None = None) -> RunRecord:
    return fake_engine.execute_run()(queued, control or RunControl())


def _types(fake_engine: FakeEngine, run_id: str) -> list[str]:
    return [e.type for e in fake_engine.store().events(run_id)]


@pytest.fixture
def greet(fake_engine: FakeEngine) -> str:
    return fake_engine.add_job("greet", GREET, "echo hi\n")


def test_run_succeeds_when_container_exits_zero(fake_engine: FakeEngine, greet: str,
                                                fake_runtime: FakeRuntime) -> None:
    fake_runtime.output_lines = [OutputLine(stream="stdout", line="Hello Ada")]

    record = _execute(fake_engine, _submit(fake_engine))

    assert (record.status, record.exit_code) == ("succeeded", 0)
    types = _types(fake_engine, record.run_id)
    assert types[0] == "run.created" and types[-1] == "run.finished"
    assert types.index("image.pull") < types.index("run.started") < types.index("run.output")
    assert fake_runtime.containers == {} and fake_runtime.removed


def test_event_seq_increases_by_one_when_run_ends(fake_engine: FakeEngine, greet: str) -> None:
    record = _execute(fake_engine, _submit(fake_engine))

    seqs = [e.seq for e in fake_engine.store().events(record.run_id)]

    assert seqs == list(range(1, len(seqs) + 1))


def test_job_exit_code_is_recorded_when_job_fails(fake_engine: FakeEngine, greet: str,
                                                  fake_runtime: FakeRuntime) -> None:
    fake_runtime.exit_code = 7

    record = _execute(fake_engine, _submit(fake_engine))

    assert (record.status, record.exit_code) == ("failed", 7)
    finished = fake_engine.store().events(record.run_id)[-1]
    assert finished.data["exit_code"] == 7 and finished.data["status"] == "failed"


def test_run_ends_error_without_container_when_runtime_unavailable(
        fake_engine: FakeEngine, greet: str, fake_runtime: FakeRuntime) -> None:
    fake_runtime.unavailable = True

    record = _execute(fake_engine, _submit(fake_engine))

    assert (record.status, record.code) == ("error", "container.runtime.unavailable")
    assert fake_runtime.created == []
    assert _types(fake_engine, record.run_id)[-1] == "run.finished"


def test_pull_failure_is_e_oci_and_writes_no_secret_when_image_cannot_be_pulled(
        fake_engine: FakeEngine, greet: str, fake_runtime: FakeRuntime,
        fake_secrets: FakeSecretWriter) -> None:
    fake_runtime.images.clear()
    fake_runtime.pull_fails = True

    record = _execute(fake_engine, _submit(fake_engine, {"name": "Ada", "token": "tok-123456"}))

    assert (record.status, record.code) == ("error", "E_OCI")
    assert fake_secrets.files == {} and fake_runtime.created == []


def test_secrets_are_written_for_container_root_and_removed_when_run_ends(
        fake_engine: FakeEngine, greet: str, fake_runtime: FakeRuntime,
        fake_secrets: FakeSecretWriter) -> None:
    fake_runtime.info = RuntimeInfo(name="fake", version="1", rootless=True, socket="s",
                                    root_uid=1001, root_gid=1002)
    seen: dict[str, bytes] = {}
    original = fake_runtime.start

    def start(container_id: str) -> None:
        seen.update(next(iter(fake_secrets.files.values())))
        original(container_id)

    fake_runtime.start = start  # type: ignore[method-assign]

    record = _execute(fake_engine, _submit(fake_engine, {"name": "Ada", "token": "tok-123456"}))

    assert seen == {"token": b"tok-123456"}
    assert fake_secrets.owners == {} and record.run_id in fake_secrets.removed
    mounts = {m.target: m for m in fake_runtime.created[0].mounts}
    assert mounts["/run/secrets"].read_only and not mounts["/flwd/run"].read_only


def test_secret_value_is_masked_when_job_prints_it(fake_engine: FakeEngine, greet: str,
                                                   fake_runtime: FakeRuntime) -> None:
    fake_runtime.output_lines = [OutputLine(stream="stdout", line="token=tok-123456!")]

    record = _execute(fake_engine, _submit(fake_engine, {"name": "Ada", "token": "tok-123456"}))

    lines = [e.data["line"] for e in fake_engine.store().events(record.run_id) if e.type == "run.output"]
    assert lines == ["token=***!"]
    everything = repr(fake_engine.store().events(record.run_id)) + repr(record)
    assert "tok-123456" not in everything
    assert "tok-123456" not in repr(fake_runtime.created[0])


def test_cancel_while_queued_never_creates_container(fake_engine: FakeEngine, greet: str,
                                                     fake_runtime: FakeRuntime) -> None:
    control = RunControl()
    control.cancel()

    record = _execute(fake_engine, _submit(fake_engine), control)

    assert record.status == "canceled"
    assert fake_runtime.created == []
    assert "run.canceled" in _types(fake_engine, record.run_id)


def test_cancel_while_running_stops_and_removes_container(fake_engine: FakeEngine, greet: str,
                                                          fake_runtime: FakeRuntime) -> None:
    fake_runtime.run_seconds = 30
    control = RunControl()
    threading.Timer(0.3, control.cancel).start()
    started = time.monotonic()

    record = _execute(fake_engine, _submit(fake_engine), control)

    assert record.status == "canceled"
    assert time.monotonic() - started < 5
    assert fake_runtime.stopped and fake_runtime.containers == {}
    types = _types(fake_engine, record.run_id)
    assert types.index("run.canceled") < types.index("run.finished") == len(types) - 1


def test_run_times_out_when_job_exceeds_timeout(fake_engine: FakeEngine,
                                                fake_runtime: FakeRuntime) -> None:
    fake_engine.add_job("slow", "executor: container\nimage: alpine:3.20\ntimeout: 300ms\n")
    fake_runtime.run_seconds = 30

    record = _execute(fake_engine, _submit(fake_engine, {}, job="slow"))

    assert record.status == "timed_out"
    assert "run.timed_out" in _types(fake_engine, record.run_id)
    assert fake_runtime.containers == {}


def test_cancel_from_another_process_arrives_through_the_store(
        fake_engine: FakeEngine, greet: str, fake_runtime: FakeRuntime) -> None:
    fake_runtime.run_seconds = 30
    queued = _submit(fake_engine)
    store = fake_engine.store()
    threading.Timer(0.3, lambda: store.append(queued.record.run_id, "run.cancel.requested", {},
                                              "2026-01-01T00:00:00.000Z")).start()

    record = _execute(fake_engine, queued)

    assert record.status == "canceled"


def test_cancel_from_another_process_while_queued_never_creates_container(
        fake_engine: FakeEngine, greet: str, fake_runtime: FakeRuntime) -> None:
    queued = _submit(fake_engine)
    fake_engine.store().append(queued.record.run_id, "run.cancel.requested", {},
                          "2026-01-01T00:00:00.000Z")

    record = _execute(fake_engine, queued)

    assert record.status == "canceled"
    assert fake_runtime.created == []


class _SocketDropsOnWait(FakeRuntime):
    def wait(self, container_id: str) -> int:
        raise ConnectionResetError("the runtime closed the socket")


def test_reattached_run_still_ends_with_run_finished_when_runtime_fails_unexpectedly(
        fake_engine: FakeEngine, greet: str) -> None:
    runtime = _SocketDropsOnWait(images={"docker.io/library/alpine:3.20"})
    fake_engine.runtime = runtime
    queued = _submit(fake_engine)
    container_id = runtime.create(ContainerSpec(
        name=f"flwd-{queued.record.run_id}", image="docker.io/library/alpine:3.20",
        command=None, env={}, labels={}, mounts=(), workdir="/"))
    record = queued.record.evolve(status="running", container_id=container_id)

    ended = fake_engine.execute_run().reattach(record, RunControl(), redactor=Redactor())

    assert (ended.status, ended.code) == ("error", "flwd.internal")
    assert _types(fake_engine, record.run_id)[-1] == "run.finished"
    assert runtime.containers == {}


def test_rootful_runtime_is_denied_before_create_when_policy_requires_rootless(
        fake_engine: FakeEngine, greet: str, fake_runtime: FakeRuntime) -> None:
    fake_engine.bundle = PolicyBundle(require_rootless=True)
    fake_runtime.info = RuntimeInfo(name="fake", version="1", rootless=False, socket="s")

    record = _execute(fake_engine, _submit(fake_engine))

    assert (record.status, record.code) == ("error", "runtime.rootful")
    assert fake_runtime.created == []


def test_rootful_runtime_is_a_warning_when_policy_allows_it(
        fake_engine: FakeEngine, greet: str, fake_runtime: FakeRuntime) -> None:
    fake_runtime.info = RuntimeInfo(name="fake", version="1", rootless=False, socket="s")

    record = _execute(fake_engine, _submit(fake_engine))

    assert record.status == "succeeded"
    warns = [d for d in record.decisions if d["decision"] == "warn"]
    assert [d["code"] for d in warns] == ["runtime.rootful"]


def test_name_conflict_is_reported_when_container_name_is_taken(
        fake_engine: FakeEngine, greet: str, fake_runtime: FakeRuntime) -> None:
    queued = _submit(fake_engine)
    squatter = ContainerSpec(name=f"flwd-{queued.record.run_id}", image="docker.io/library/alpine:3.20",
                             command=None, env={}, labels={}, mounts=(), workdir="/")
    fake_runtime.create(squatter)

    record = _execute(fake_engine, queued)

    assert (record.status, record.code) == ("error", "container.name.conflict")
    assert [spec.name for spec in fake_runtime.created] == [squatter.name]


def test_secret_failure_ends_run_before_container_exists(
        fake_engine: FakeEngine, greet: str, fake_runtime: FakeRuntime,
        fake_secrets: FakeSecretWriter) -> None:
    fake_secrets.fail = True

    record = _execute(fake_engine, _submit(fake_engine, {"name": "Ada", "token": "tok-123456"}))

    assert (record.status, record.code) == ("error", "secret.write.failed")
    assert fake_runtime.created == []


def test_denied_plan_is_recorded_and_raised_when_job_asks_network_under_secure(
        fake_engine: FakeEngine, fake_runtime: FakeRuntime) -> None:
    fake_engine.add_job("net", "executor: container\nimage: alpine:3.20\n"
                                "container: {network: bridge}\n")

    with pytest.raises(PolicyOverrideDeniedError) as err:
        fake_engine.submit_run()(RunRequest(job="net"))

    run = fake_engine.store().get(str(err.value.context["run_id"]))
    assert run is not None and (run.status, run.code) == ("error", "policy.override.denied")
    assert fake_runtime.created == []


def test_host_environment_is_not_inherited_when_policy_does_not_grant_it(
        fake_engine: FakeEngine, greet: str, fake_runtime: FakeRuntime) -> None:
    _execute(fake_engine, _submit(fake_engine))

    env = fake_runtime.created[0].env

    assert "HOST_CANARY" not in env and env["ARG_NAME"] == "Ada"
    assert env["FLWD_RUN_ID"] != "<run_id>"


def test_run_ends_before_any_container_when_runtime_user_cannot_read_the_job_dir(
        fake_engine: FakeEngine, greet: str, fake_runtime: FakeRuntime,
        fake_workspace: FakeRunWorkspace, fake_secrets: FakeSecretWriter) -> None:
    fake_workspace.unreachable.add(greet)

    record = _execute(fake_engine, _submit(fake_engine, {"name": "Ada", "token": "tok-123456"}))

    assert (record.status, record.code) == ("error", "run.workspace.failed")
    assert fake_runtime.created == [] and fake_secrets.files == {}


def test_run_attaches_to_its_container_before_starting_it(fake_engine: FakeEngine, greet: str,
                                                          fake_runtime: FakeRuntime) -> None:
    fake_runtime.output_lines = [OutputLine(stream="stdout", line="Hello Ada")]

    record = _execute(fake_engine, _submit(fake_engine))

    (container_id,) = fake_runtime.started
    assert fake_runtime.attached == [(container_id, "created")]
    outputs = [e.data["line"] for e in fake_engine.store().events(record.run_id)
               if e.type == "run.output"]
    assert (record.status, outputs) == ("succeeded", ["Hello Ada"])


def test_run_lets_go_of_the_attached_output_when_the_start_fails(
        fake_engine: FakeEngine, greet: str, fake_runtime: FakeRuntime,
        monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[bool] = []
    attach = fake_runtime.attach

    class Tracked:
        def __init__(self, container_id: str) -> None:
            self._lines = attach(container_id)

        def __iter__(self) -> Tracked:
            return self

        def __next__(self) -> OutputLine:
            return next(self._lines)

        def close(self) -> None:
            closed.append(True)
            self._lines.close()

    def failing_start(container_id: str) -> None:
        raise OciError("start failed: no such file", container=container_id)

    monkeypatch.setattr(fake_runtime, "attach", Tracked)
    monkeypatch.setattr(fake_runtime, "start", failing_start)

    record = _execute(fake_engine, _submit(fake_engine))

    assert (record.status, record.code) == ("error", "E_OCI")
    assert closed == [True]
    assert fake_runtime.containers == {}
