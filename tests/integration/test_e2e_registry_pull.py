"""SPEC sections 1 (``container.pull_policy``), 4 (``allowed_registries``) and 6 (``image.pull``
progress, ``E_OCI``) end to end against a real OCI registry on loopback, on rootless Podman
and Docker. The registry's access log says whether a runtime asked it anything."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios
import time
from typing import Any

import pytest

from tests.integration.e2e_support import (  # noqa: F401 - fixtures
    RUNTIMES,
    Result,
    Runtime,
    Sandbox,
    runtime_for,
    sandbox,
)
from tests.integration.oci_registry import LocalRegistry

JOB = """\
    executor: container
    image: {image}
    command: ["cat", "/flwd-version"]
    container:
      pull_policy: {policy}
    """


@pytest.fixture(scope="module", params=RUNTIMES)
def rt(request: pytest.FixtureRequest, registry_podman: str) -> Runtime:
    """Docker, or the private rootless Podman service that trusts the local registry."""
    if request.param == "podman":
        return Runtime(name="podman", socket=registry_podman)
    return runtime_for(request.param, request)


def write(sandbox: Sandbox, name: str, image: str, policy: str) -> str:
    return sandbox.write_job(name, JOB.format(image=image, policy=policy))


def pushed_job(sandbox: Sandbox, registry: LocalRegistry, name: str,
               policy: str) -> tuple[str, str, str]:
    """A fresh repository holding ``one`` at tag 1, and a job *name* running it under *policy*:
    (repository, image, job id)."""
    repository = registry.repository(name)
    image = registry.push(repository, "1", "one")
    return repository, image, write(sandbox, name, image, policy)


def lines(result: Result) -> list[str]:
    return [e["data"]["line"] for e in result.events() if e["type"] == "run.output"]


def pull_events(result: Result) -> list[dict[str, Any]]:
    return [e["data"] for e in result.events() if e["type"] == "image.pull"]


def progress(result: Result) -> list[dict[str, Any]]:
    """The pull's own steps, between ``checking`` and ``ready``."""
    return [d for d in pull_events(result) if d["status"] not in ("checking", "ready")]


def pulled(result: Result) -> bool:
    ready = [d for d in pull_events(result) if d["status"] == "ready"]
    assert len(ready) == 1, result.describe()
    return bool(ready[0]["pulled"])


def manifest_requests(registry: LocalRegistry, repository: str, since: int) -> list[str]:
    return [r for r in registry.requests(repository, since) if "/manifests/" in r]


def finished(result: Result) -> dict[str, Any]:
    last = result.events()[-1]
    assert last["type"] == "run.finished", result.describe()
    return dict(last["data"])


def test_if_not_present_pulls_once_with_progress_then_uses_the_local_image_when_run_again(
    sandbox: Sandbox, local_registry: LocalRegistry
) -> None:
    repository, image, job = pushed_job(sandbox, local_registry, "once", "if-not-present")
    before = local_registry.mark()

    first = sandbox.flwd(job, "--json")
    between = local_registry.mark()
    second = sandbox.flwd(job, "--json")

    assert first.code == 0 and lines(first) == ["one"], first.describe()
    assert pulled(first) and progress(first), first.describe()
    assert {d["image"] for d in pull_events(first)} == {image}
    assert manifest_requests(local_registry, repository, before)
    assert second.code == 0 and lines(second) == ["one"], second.describe()
    assert not pulled(second) and progress(second) == []
    assert local_registry.requests(repository, between) == []


def test_always_pulls_on_every_run_and_picks_up_a_moved_tag(
    sandbox: Sandbox, local_registry: LocalRegistry
) -> None:
    repository, image, job = pushed_job(sandbox, local_registry, "always", "always")

    first = sandbox.flwd(job, "--json")
    local_registry.push(repository, "1", "two")  # the tag moves to another image
    moved = local_registry.mark()
    second = sandbox.flwd(job, "--json")
    between = local_registry.mark()
    third = sandbox.flwd(job, "--json")

    runs = [first, second, third]
    assert [r.code for r in runs] == [0, 0, 0], "\n".join(r.describe() for r in runs)
    assert [lines(r) for r in runs] == [["one"], ["two"], ["two"]]
    assert all(pulled(r) and progress(r) for r in runs)
    assert manifest_requests(local_registry, repository, moved)
    assert manifest_requests(local_registry, repository, between)


def test_never_fails_e_oci_naming_the_image_without_asking_the_registry_when_absent(
    rt: Runtime, sandbox: Sandbox, local_registry: LocalRegistry
) -> None:
    # in the registry, not in the runtime's store
    repository, image, job = pushed_job(sandbox, local_registry, "never-absent", "never")
    before, since = local_registry.mark(), time.time()

    result = sandbox.flwd(job, "--json")
    end = finished(result)

    assert result.code == 125, result.describe()
    assert "error[E_OCI]" in result.err and image in result.err
    assert end["status"] == "error" and end["code"] == "E_OCI" and image in end["detail"]
    assert "run.started" not in [e["type"] for e in result.events()]
    assert local_registry.requests(repository, before) == []
    assert rt.created_since(result.events()[0]["run_id"], since) == []


def test_never_runs_the_local_image_without_asking_the_registry_when_present(
    rt: Runtime, sandbox: Sandbox, local_registry: LocalRegistry
) -> None:
    repository = local_registry.repository("never-present")
    image = local_registry.push(repository, "1", "one")
    fetched = rt.cli("pull", image, timeout=120)
    assert fetched.returncode == 0, fetched.stderr
    job = write(sandbox, "never-present", image, "never")
    before = local_registry.mark()

    result = sandbox.flwd(job, "--json")

    assert result.code == 0 and lines(result) == ["one"], result.describe()
    assert not pulled(result)
    assert local_registry.requests(repository, before) == []


def test_missing_tag_ends_the_run_e_oci_with_the_runtime_message_and_no_container(
    rt: Runtime, sandbox: Sandbox, local_registry: LocalRegistry
) -> None:
    repository = local_registry.repository("missing")
    local_registry.push(repository, "1", "one")
    image = f"{local_registry.host}/{repository}:2"  # the repository exists, this tag does not
    job = write(sandbox, "missing-tag", image, "if-not-present")
    before, since = local_registry.mark(), time.time()

    result = sandbox.flwd(job, "--json")
    end = finished(result)
    run_id = result.events()[0]["run_id"]

    assert result.code == 125, result.describe()
    assert "error[E_OCI]" in result.err
    assert end["status"] == "error" and end["code"] == "E_OCI"
    assert "manifest unknown" in end["detail"].lower(), end["detail"]  # the registry's words
    assert sandbox.only_run(job)["status"] == "error"
    assert manifest_requests(local_registry, repository, before)
    assert rt.containers(run_id) == [] and rt.created_since(run_id, since) == []


def policy_env(sandbox: Sandbox, name: str, allowed: list[str]) -> dict[str, str]:
    path = sandbox.base / f"{name}.yaml"
    path.write_text("allowed_registries: [" + ", ".join(f'"{a}"' for a in allowed) + "]\n")
    return {"FLWD_POLICY_FILE": str(path)}


@pytest.mark.parametrize("spelling", ["127.0.0.1:{port}", "localhost"])
def test_allowed_registries_entry_admits_the_local_registry_when_it_names_it(
    sandbox: Sandbox, local_registry: LocalRegistry, spelling: str
) -> None:
    repository = local_registry.repository("allowed")
    image = local_registry.push(repository, "1", "one")
    if spelling == "localhost":  # the same registry, under the name the entry uses
        image = image.replace("127.0.0.1:", "localhost:", 1)
    entry = spelling.format(port=local_registry.port)
    job = write(sandbox, f"allowed-{spelling[:4]}", image, "if-not-present")

    result = sandbox.flwd(job, "--json", env=policy_env(sandbox, "allow", [entry]))
    image_decisions = [e["data"] for e in result.events() if e["type"] == "policy.decision"
                       and e["data"]["subject"] == "container.image"]

    assert result.code == 0 and lines(result) == ["one"], result.describe()
    assert [d["code"] for d in image_decisions] == ["image.registry.allowed"]
    assert pulled(result)


def test_denied_registry_is_never_asked_when_allowed_registries_does_not_admit_it(
    rt: Runtime, sandbox: Sandbox, local_registry: LocalRegistry
) -> None:
    repository, image, job = pushed_job(sandbox, local_registry, "denied", "always")
    env = policy_env(sandbox, "deny", ["localhost", f"{local_registry.host}/flwd-it/elsewhere"])
    before, since = local_registry.mark(), time.time()

    result = sandbox.flwd(job, "--json", env=env)
    end = finished(result)

    assert result.code == 125, result.describe()
    assert "error[image.registry.not.allowed]" in result.err
    assert end["status"] == "error" and end["code"] == "image.registry.not.allowed"
    assert pull_events(result) == []
    assert local_registry.requests(repository, before) == []
    assert rt.created_since(result.events()[0]["run_id"], since) == []


def run_on_a_terminal(sandbox: Sandbox, *args: str, columns: int = 200) -> tuple[int, str, str]:
    """`flwd ARGS` with stderr on a pty *columns* wide (stdout a pipe): exit code, stdout and
    everything the terminal received."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    process = subprocess.Popen(sandbox.argv(args), stdout=subprocess.PIPE, stderr=follower,
                               stdin=subprocess.DEVNULL, cwd=sandbox.base, env=sandbox.env())
    os.close(follower)
    received = bytearray()
    try:
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the last writer closed the terminal
                break
            if not chunk:
                break
            received += chunk
        out = process.stdout.read().decode() if process.stdout else ""
        code = process.wait(timeout=120)
    finally:
        os.close(leader)
        if process.poll() is None:
            process.kill()
    return code, out, received.decode(errors="replace")


def test_terminal_shows_a_pull_progress_line_when_stderr_is_a_tty(
    sandbox: Sandbox, local_registry: LocalRegistry
) -> None:
    _, image, job = pushed_job(sandbox, local_registry, "tty", "if-not-present")

    code, out, screen = run_on_a_terminal(sandbox, job)
    again_code, _, again = run_on_a_terminal(sandbox, job)

    assert code == 0 and out == "one\n", screen
    assert f"\rpulling {image} " in screen  # drawn in place: a carriage return, no new line
    assert screen.rstrip("\r\n").endswith(f"\rpulled {image}\x1b[K")
    assert again_code == 0 and image not in again, again  # present: nothing to draw


def test_no_progress_line_is_printed_when_stderr_is_not_a_tty(
    sandbox: Sandbox, local_registry: LocalRegistry
) -> None:
    _, image, job = pushed_job(sandbox, local_registry, "pipe", "if-not-present")

    result = sandbox.flwd(job)

    assert result.code == 0 and result.out == "one\n", result.describe()
    assert "pull" not in result.err and "\r" not in result.err and "\x1b" not in result.err
