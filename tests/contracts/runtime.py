"""The ContainerRuntime contract, exercised the way the engine uses the port.

``check_runtime_contract`` runs against ``FakeRuntime`` in ``tests/unit`` and against the Docker
and Podman adapters in ``tests/integration``. Real runtimes execute each step's command; a fake
cannot, so before every step the contract calls ``before(step, scenario)`` and the fake's test
sets its knobs from the scenario (expected output, exit code, long-running or not).
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import pytest

from flwd.adapters._runtime_common import NEVER_PULL_MESSAGE
from flwd.domain.errors import ContainerNameConflictError, OciError
from flwd.ports.runtime import (
    LABEL_JOB_ID,
    LABEL_RUN_ID,
    ContainerRuntime,
    ContainerSpec,
    Mount,
    OutputLine,
    PullProgress,
    RuntimeInfo,
)

UNPULLABLE_IMAGE = "localhost:1/none:latest"
STOP_GRACE = 2.0
STOP_SLACK = 3.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """What a step's command does, so a fake can be told to do the same."""

    command: tuple[str, ...]
    stdout: tuple[str, ...] = ()
    stderr: tuple[str, ...] = ()
    exit_code: int = 0
    long_running: bool = False

    def output_lines(self) -> list[OutputLine]:
        return [OutputLine(stream="stdout", line=x) for x in self.stdout] + [
            OutputLine(stream="stderr", line=x) for x in self.stderr
        ]


EXIT_3 = Scenario(command=("sh", "-c", "echo out; echo err >&2; exit 3"),
                  stdout=("out",), stderr=("err",), exit_code=3)
SLEEP = Scenario(command=("sleep", "60"), long_running=True)
MANY_LINES = 200_000
LONG_LINE = 100_000  # past the 64 KiB of a read, a pipe, and Docker's 16 KiB log entries
EDGES = Scenario(
    command=("sh", "-c", f"seq 1 {MANY_LINES}; head -c {LONG_LINE} /dev/zero | tr '\\0' x; echo;"
             " printf 'bad \\377\\376 bytes\\n'; echo err-1 >&2; printf err-last >&2;"
             " printf out-last"),
    stdout=(*(str(i) for i in range(1, MANY_LINES + 1)), "x" * LONG_LINE,
            "bad \ufffd\ufffd bytes", "out-last"),
    stderr=("err-1", "err-last"),
)

Before = Callable[[str, "Scenario | None"], None]


def _no_setup(step: str, scenario: Scenario | None) -> None:
    return None


def contract_spec(image: str, command: tuple[str, ...], workdir: Path,
                  name: str | None = None) -> ContainerSpec:
    """A container with flwd's secure settings and the job (ro) and run (rw) mounts."""
    run_id = uuid.uuid4().hex[:12]
    job_dir, run_dir = workdir / "job", workdir / "run"
    job_dir.mkdir(mode=0o755, exist_ok=True)
    run_dir.mkdir(exist_ok=True)
    run_dir.chmod(0o777)  # container root may be a sub-uid (rootless, userns-remap)
    (job_dir / "main.sh").write_text("echo hello\n")
    return ContainerSpec(
        name=name or f"flwd-contract-{run_id}",
        image=image,
        command=command,
        env={"FLWD_RUN_ID": run_id},
        labels={LABEL_RUN_ID: run_id, LABEL_JOB_ID: "contract/job"},
        mounts=(
            Mount(source=str(job_dir), target="/flwd/job", read_only=True),
            Mount(source=str(run_dir), target="/flwd/run", read_only=False),
        ),
        workdir="/flwd/run",
        tmpfs={"/tmp": "rw,nosuid,nodev,size=16m"},
        pids_limit=64,
        memory_bytes=64 * 1024 * 1024,
        nano_cpus=500_000_000,
    )


def collect_output(runtime: ContainerRuntime, container_id: str, timeout: float = 30.0,
                   source: Iterable[OutputLine] | None = None) -> list[OutputLine]:
    """Drain *source* (else ``output()``) in a thread; fail if it does not end after the
    container exits."""
    lines: list[OutputLine] = []
    errors: list[BaseException] = []

    def drain() -> None:
        try:
            lines.extend(runtime.output(container_id) if source is None else source)
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    reader.join(timeout)
    assert not reader.is_alive(), "output() did not end after the container exited"
    if errors:
        raise errors[0]
    return lines


def check_runtime_contract(runtime: ContainerRuntime, image: str, workdir: Path,
                           before: Before = _no_setup) -> None:
    """Every step of the port contract; *workdir* must be traversable by the runtime's uid."""
    info = check_probe(runtime)
    assert isinstance(info, RuntimeInfo)
    check_image_present(runtime, image)
    before("lifecycle", EXIT_3)
    check_lifecycle(runtime, image, workdir)
    before("edges", EDGES)
    check_output_edges(runtime, image, workdir)
    before("conflict", SLEEP)
    check_name_conflict(runtime, image, workdir)
    before("stop", SLEEP)
    check_stop(runtime, image, workdir)
    before("kill", SLEEP)
    check_kill(runtime, image, workdir)
    before("pull-failure", None)
    check_pull_failure(runtime)


def check_probe(runtime: ContainerRuntime) -> RuntimeInfo:
    info = runtime.probe()
    assert info.name and info.version and info.socket
    return info


def check_image_present(runtime: ContainerRuntime, image: str) -> None:
    progress: list[PullProgress] = []
    assert runtime.ensure_image(image, "if-not-present", progress.append) is False
    assert runtime.ensure_image(image, "never", progress.append) is False
    assert progress == []


def check_lifecycle(runtime: ContainerRuntime, image: str, workdir: Path) -> None:
    spec = contract_spec(image, EXIT_3.command, workdir)
    container_id = runtime.create(spec)
    try:
        listed = {m.id: m for m in runtime.managed()}
        assert container_id in listed
        assert listed[container_id].run_id == spec.labels[LABEL_RUN_ID]
        assert listed[container_id].job_id == "contract/job"
        attached = runtime.attach(container_id)
        runtime.start(container_id)
        lines = collect_output(runtime, container_id, source=attached)
        assert runtime.wait(container_id) == EXIT_3.exit_code
        logged = collect_output(runtime, container_id)
    finally:
        runtime.remove(container_id)
    for got in (lines, logged):
        assert [x.line for x in got if x.stream == "stdout"] == list(EXIT_3.stdout)
        assert [x.line for x in got if x.stream == "stderr"] == list(EXIT_3.stderr)
    assert container_id not in {m.id for m in runtime.managed()}
    runtime.remove(container_id)  # removing twice is no error


def check_output_edges(runtime: ContainerRuntime, image: str, workdir: Path) -> None:
    """Fast output, a long line, bytes that are not UTF-8 and a last line without newline all
    come through the attach whole, and the log (read when an attach broke) splits them alike."""
    container_id = runtime.create(contract_spec(image, EDGES.command, workdir))
    try:
        attached = runtime.attach(container_id)
        runtime.start(container_id)
        lines = collect_output(runtime, container_id, timeout=300.0, source=attached)
        assert runtime.wait(container_id) == 0
        logged = collect_output(runtime, container_id, timeout=300.0)
    finally:
        runtime.remove(container_id)
    for got in (lines, logged):
        stdout = [x.line for x in got if x.stream == "stdout"]
        assert len(stdout) == len(EDGES.stdout)
        assert stdout == list(EDGES.stdout)
        assert [x.line for x in got if x.stream == "stderr"] == list(EDGES.stderr)


def check_name_conflict(runtime: ContainerRuntime, image: str, workdir: Path) -> None:
    spec = contract_spec(image, SLEEP.command, workdir)
    container_id = runtime.create(spec)
    try:
        with pytest.raises(ContainerNameConflictError) as err:
            runtime.create(spec)
        assert err.value.code == "container.name.conflict"
    finally:
        runtime.remove(container_id)


def check_stop(runtime: ContainerRuntime, image: str, workdir: Path) -> None:
    container_id = runtime.create(contract_spec(image, SLEEP.command, workdir))
    try:
        runtime.start(container_id)
        began = time.monotonic()
        runtime.stop(container_id, STOP_GRACE)
        exit_code = runtime.wait(container_id)
        elapsed = time.monotonic() - began
        runtime.stop(container_id, STOP_GRACE)  # stopping a stopped container is no error
    finally:
        runtime.remove(container_id)
    assert elapsed <= STOP_GRACE + STOP_SLACK
    assert exit_code == 143, "SIGTERM must reach the job through the init process"


def check_kill(runtime: ContainerRuntime, image: str, workdir: Path) -> None:
    container_id = runtime.create(contract_spec(image, SLEEP.command, workdir))
    try:
        runtime.start(container_id)
        runtime.kill(container_id)
        exit_code = runtime.wait(container_id)
        runtime.kill(container_id)  # killing a stopped container is no error
    finally:
        runtime.remove(container_id)
    assert exit_code == 137


def check_pull_failure(runtime: ContainerRuntime) -> None:
    with pytest.raises(OciError) as never:
        runtime.ensure_image(UNPULLABLE_IMAGE, "never", lambda p: None)
    assert NEVER_PULL_MESSAGE in never.value.detail and UNPULLABLE_IMAGE in never.value.detail
    with pytest.raises(OciError) as failed:
        runtime.ensure_image(UNPULLABLE_IMAGE, "if-not-present", lambda p: None)
    assert failed.value.code == "E_OCI"
    assert failed.value.detail
