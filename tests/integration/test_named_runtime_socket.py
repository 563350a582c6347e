"""A runtime socket the user named is a choice: when it does not answer, the real CLI fails
naming it and starts no private (root) Podman service in its place."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
FLWD = str(REPO / ".venv" / "bin" / "flwd")
EXAMPLES = REPO / "examples" / "jobs"
DEAD = "unix:///nonexistent.sock"

# Records every call, then runs the real podman: whatever flwd starts really starts.
SHIM = """#!/bin/sh
echo "$@" >> "$(dirname "$0")/calls.log"
exec {podman} "$@"
"""


@pytest.fixture
def shim_dir() -> Iterator[Path]:
    """A PATH directory whose `podman` logs its arguments (short: a private socket lives
    under XDG_RUNTIME_DIR, and AF_UNIX paths must stay short)."""
    podman = shutil.which("podman")
    assert podman, "podman is not installed; run .ci/setup-runtimes.sh"
    path = Path(tempfile.mkdtemp(prefix="fd-", dir="/tmp"))
    (path / "podman").write_text(SHIM.format(podman=podman))
    (path / "podman").chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _flwd(shim_dir: Path, variable: str, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{shim_dir}:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(shim_dir),
           "XDG_RUNTIME_DIR": str(shim_dir), "LANG": "C.UTF-8", variable: DEAD}
    return subprocess.run([FLWD, "--jobs-dir", str(EXAMPLES), "--data-dir", str(shim_dir / "data"),
                           *argv], capture_output=True, text=True, env=env, cwd=shim_dir,
                          timeout=60)


def _podman_calls(shim_dir: Path) -> str:
    log = shim_dir / "calls.log"
    return log.read_text() if log.exists() else ""


@pytest.mark.podman
@pytest.mark.parametrize(("variable", "kind"), [("CONTAINER_HOST", "auto"),
                                                ("CONTAINER_HOST", "podman"),
                                                ("DOCKER_HOST", "auto")])
def test_run_fails_naming_the_socket_and_starts_no_podman_when_a_named_socket_is_dead(
        shim_dir: Path, variable: str, kind: str) -> None:
    done = _flwd(shim_dir, variable, "--runtime", kind, "demo-container", "--name", "x")

    assert done.returncode == 125, done.stdout + done.stderr
    assert done.stderr.startswith("error[container.runtime.unavailable]"), done.stderr
    assert f"at {DEAD} ({variable}): not reachable" in done.stderr
    assert "Traceback" not in done.stderr
    assert _podman_calls(shim_dir) == ""  # no `podman system service`, nothing at all
    assert not list(shim_dir.glob("flwd-podman-*"))


@pytest.mark.podman
def test_doctor_reports_the_dead_socket_and_starts_no_podman_when_container_host_names_it(
        shim_dir: Path) -> None:
    done = _flwd(shim_dir, "CONTAINER_HOST", ":doctor")

    assert done.returncode == 125, done.stdout + done.stderr
    assert f"container.runtime.unavailable: no container runtime is reachable; tried: podman at " \
           f"{DEAD} (CONTAINER_HOST)" in done.stdout
    assert "rootful" not in done.stdout
    assert _podman_calls(shim_dir) == ""


@pytest.mark.podman
def test_podman_runtime_still_gets_a_private_service_when_nothing_is_named(
        shim_dir: Path) -> None:
    """SPEC section 6: `runtime: podman`, podman installed, no service listening."""
    done = subprocess.run(
        [FLWD, "--runtime", "podman", ":doctor", "--json"], capture_output=True, text=True,
        timeout=60, cwd=shim_dir,
        env={"PATH": f"{shim_dir}:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(shim_dir),
             "XDG_RUNTIME_DIR": str(shim_dir), "LANG": "C.UTF-8"})

    assert f"system service --time=0 unix://{shim_dir}/flwd-podman-" in _podman_calls(shim_dir)
    assert '"runtime": "podman"' in done.stdout, done.stdout + done.stderr
    assert not list(shim_dir.glob("flwd-podman-*"))  # stopped and removed at exit
