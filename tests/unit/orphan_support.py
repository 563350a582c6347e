"""An orphan for unit tests: a run left 'running' by a dead process, on the fake runtime."""

from __future__ import annotations

from typing import Any

from flwd.adapters.fake_runtime import FakeRuntime
from flwd.adapters.fakes import FakeSecretWriter
from flwd.domain.plan.use_cases import RunRequest
from flwd.domain.run.execution import QueuedRun
from flwd.ports.runtime import ContainerSpec, OutputLine
from flwd.ports.secrets import SecretFile

SLEEPER = "executor: container\nimage: alpine:3.20\n"
IMAGE = "docker.io/library/alpine:3.20"
DEAD_OWNER = "elsewhere:999999"  # another host: never alive here
STARTED = "2026-01-01T00:00:00.000Z"
OUTPUT = (OutputLine(stream="stdout", line="one"), OutputLine(stream="stderr", line="warn s3cret"),
          OutputLine(stream="stdout", line="two"), OutputLine(stream="stdout", line="three"))


def make_orphan(engine: Any, runtime: FakeRuntime, secrets: FakeSecretWriter, *,
                run_seconds: float, exit_code: int = 0, recorded: int = 0,
                timeout: float | None = None) -> str:
    """A run of job ``sleeper`` on *engine* (the container or the FakeEngine) left 'running'
    by a dead process, with secret ``s3cret``; its container printed OUTPUT and exits with
    *exit_code* after *run_seconds*; the first *recorded* lines were stored before its flwd
    died. It started on 2026-01-01 with *timeout*. Returns its run id."""
    queued = engine.submit_run()(RunRequest(job="sleeper"))
    assert isinstance(queued, QueuedRun)
    run_id = queued.record.run_id
    secrets.materialise(run_id, [SecretFile(name="token", value=b"s3cret")])
    runtime.output_lines, runtime.exit_code, runtime.run_seconds = list(OUTPUT), exit_code, run_seconds
    container_id = runtime.create(ContainerSpec(
        name=f"flwd-{run_id}", image=IMAGE, command=None, env={}, mounts=(), workdir="/",
        labels={"flwd.run-id": run_id, "flwd.job-id": "sleeper"}))
    runtime.start(container_id)
    store = engine.store()
    store.append(run_id, "run.started", {"timeout_seconds": timeout}, STARTED,
                 run=queued.record.evolve(status="running", container_id=container_id,
                                          owner=DEAD_OWNER, started_at=STARTED))
    for line in OUTPUT[:recorded]:
        store.append(run_id, "run.output", {"stream": line.stream, "line": line.line.replace(
            "s3cret", "***")}, STARTED)
    return run_id


def output_of(engine: Any, run_id: str) -> list[tuple[str, str]]:
    return [(e.data["stream"], e.data["line"]) for e in engine.store().events(run_id)
            if e.type == "run.output"]
