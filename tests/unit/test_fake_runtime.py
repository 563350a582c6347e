"""FakeRuntime passes the runtime contract and behaves like the real adapters."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from flwd.adapters._runtime_common import NEVER_PULL_MESSAGE
from flwd.adapters.fake_runtime import FakeRuntime
from flwd.domain.errors import OciError, RuntimeUnavailableError
from flwd.ports.runtime import ContainerRuntime, OutputLine, PullProgress
from tests.contracts.runtime import (
    Before,
    Scenario,
    check_runtime_contract,
    collect_output,
    contract_spec,
)

IMAGE = "localhost/flwd-test:latest"


def scenario_setter(fake: FakeRuntime) -> Before:
    """Give the fake the behaviour a real runtime gets from each step's command."""

    def before(step: str, scenario: Scenario | None) -> None:
        fake.pull_fails = step == "pull-failure"
        if scenario is not None:
            fake.output_lines = scenario.output_lines()
            fake.exit_code = scenario.exit_code
            fake.run_seconds = 60.0 if scenario.long_running else 0.0

    return before


def test_fake_conforms_to_the_port_when_typed() -> None:
    runtime: ContainerRuntime = FakeRuntime()

    assert runtime.managed() == []


def test_fake_passes_the_runtime_contract_when_configured_per_step(tmp_path: Path) -> None:
    fake = FakeRuntime(images={IMAGE})

    check_runtime_contract(fake, IMAGE, tmp_path, before=scenario_setter(fake))

    assert fake.containers == {}
    assert len(fake.removed) == len(fake.created) == 5  # the conflicting create made nothing


def test_probe_raises_unavailable_when_runtime_is_down() -> None:
    fake = FakeRuntime(unavailable=True)

    with pytest.raises(RuntimeUnavailableError) as err:
        fake.probe()

    assert err.value.code == "container.runtime.unavailable"


def test_create_raises_unavailable_and_records_nothing_when_runtime_is_down(
    tmp_path: Path,
) -> None:
    fake = FakeRuntime(images={IMAGE}, unavailable=True)

    with pytest.raises(RuntimeUnavailableError):
        fake.create(contract_spec(IMAGE, ("true",), tmp_path))

    assert fake.created == []


def test_ensure_image_pulls_with_progress_when_missing() -> None:
    fake = FakeRuntime()
    progress: list[PullProgress] = []

    pulled = fake.ensure_image("alpine:3.20", "if-not-present", progress.append)

    assert pulled is True
    assert fake.pulled == ["alpine:3.20"]
    assert "alpine:3.20" in fake.images
    assert progress and all(p.image == "alpine:3.20" for p in progress)


def test_ensure_image_pulls_again_when_policy_is_always() -> None:
    fake = FakeRuntime(images={IMAGE})

    pulled = fake.ensure_image(IMAGE, "always", lambda p: None)

    assert pulled is True
    assert fake.pulled == [IMAGE]


def test_ensure_image_refuses_when_missing_and_policy_is_never() -> None:
    fake = FakeRuntime()

    with pytest.raises(OciError) as err:
        fake.ensure_image("alpine:3.20", "never", lambda p: None)

    assert err.value.detail == f"{NEVER_PULL_MESSAGE}: alpine:3.20"
    assert fake.pulled == []


def test_ensure_image_raises_oci_error_when_pull_fails() -> None:
    fake = FakeRuntime(pull_fails=True)

    with pytest.raises(OciError):
        fake.ensure_image("alpine:3.20", "if-not-present", lambda p: None)

    assert fake.pulled == []
    assert "alpine:3.20" not in fake.images


def test_create_raises_oci_error_when_image_is_missing(tmp_path: Path) -> None:
    fake = FakeRuntime()

    with pytest.raises(OciError):
        fake.create(contract_spec("missing:1", ("true",), tmp_path))

    assert fake.created == []


def test_output_yields_configured_lines_then_ends_when_container_exits(tmp_path: Path) -> None:
    lines = [OutputLine(stream="stdout", line="a"), OutputLine(stream="stderr", line="b")]
    fake = FakeRuntime(images={IMAGE}, output_lines=lines, exit_code=7, run_seconds=0.2)
    container_id = fake.create(contract_spec(IMAGE, ("true",), tmp_path))
    fake.start(container_id)

    collected = collect_output(fake, container_id, timeout=5)

    assert collected == lines
    assert fake.wait(container_id) == 7
    assert fake.containers[container_id].state == "exited"


def test_stop_ends_a_running_container_early_with_143(tmp_path: Path) -> None:
    fake = FakeRuntime(images={IMAGE}, run_seconds=60)
    container_id = fake.create(contract_spec(IMAGE, ("sleep", "60"), tmp_path))
    fake.start(container_id)
    waited: list[int] = []
    waiter = threading.Thread(target=lambda: waited.append(fake.wait(container_id)))
    waiter.start()
    began = time.monotonic()

    fake.stop(container_id, 10)
    waiter.join(5)

    assert waited == [143]
    assert time.monotonic() - began < 2
    assert fake.stopped == [container_id]
    assert fake.managed()[0].running is False


def test_kill_ends_a_running_container_with_137(tmp_path: Path) -> None:
    fake = FakeRuntime(images={IMAGE}, run_seconds=60)
    container_id = fake.create(contract_spec(IMAGE, ("sleep", "60"), tmp_path))
    fake.start(container_id)

    fake.kill(container_id)

    assert fake.wait(container_id) == 137
    assert fake.killed == [container_id]


def test_managed_reports_running_until_run_seconds_elapse(tmp_path: Path) -> None:
    fake = FakeRuntime(images={IMAGE}, run_seconds=60)
    spec = contract_spec(IMAGE, ("sleep", "60"), tmp_path)
    container_id = fake.create(spec)
    fake.start(container_id)

    listed = fake.managed()

    assert [(m.id, m.name, m.running) for m in listed] == [(container_id, spec.name, True)]


def test_start_raises_oci_error_when_container_is_unknown() -> None:
    fake = FakeRuntime()

    with pytest.raises(OciError):
        fake.start("nope")

    assert fake.started == []
