"""Runtime detection against the real rootless Podman service, a private service, and Docker."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

from dependency_injector import providers

from flwd.adapters.podman_runtime import PodmanRuntime
from flwd.adapters.runtime_detect import find_runtime
from flwd.domain.errors import RuntimeUnavailableError
from flwd.entrypoints.config import FlwdConfig
from flwd.entrypoints.container import build_container
from flwd.ports.runtime import ContainerRuntime


@pytest.fixture
def nowhere() -> Iterator[Path]:
    """A short directory where no socket listens (AF_UNIX paths must stay short)."""
    path = Path(tempfile.mkdtemp(prefix="fd-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _env(nowhere: Path, **extra: str) -> dict[str, str]:
    return {"PATH": str(nowhere), "HOME": os.environ.get("HOME", "/root"), **extra}


def detect_runtime(kind: str, *, env: dict[str, str], nowhere: Path,
                   docker_url: str | None = None) -> ContainerRuntime:
    """The adapter the container selects for what detection finds (default sockets dead)."""
    found = find_runtime(kind, env=env, system_podman_url=f"unix://{nowhere}/sys.sock",
                         docker_url=docker_url or f"unix://{nowhere}/docker.sock")
    container = build_container(FlwdConfig(), env=env)
    container.runtime_found.override(providers.Object(found))
    return container.runtime()


@pytest.mark.podman
def test_detect_finds_rootless_podman_when_container_host_names_it(
    podman_socket: str, nowhere: Path
) -> None:
    env = _env(nowhere, CONTAINER_HOST=podman_socket)
    runtime = detect_runtime("auto", env=env, nowhere=nowhere)
    try:
        info = runtime.probe()
    finally:
        runtime.close()

    assert isinstance(runtime, PodmanRuntime)
    assert info.rootless and info.socket == podman_socket


@pytest.mark.podman
def test_detect_finds_rootless_podman_when_xdg_runtime_dir_holds_it(
    podman_socket: str, nowhere: Path
) -> None:
    socket_path = podman_socket.removeprefix("unix://")
    assert socket_path.endswith("/podman/podman.sock")
    xdg = socket_path.removesuffix("/podman/podman.sock")

    runtime = detect_runtime("podman", env=_env(nowhere, XDG_RUNTIME_DIR=xdg), nowhere=nowhere)

    assert isinstance(runtime, PodmanRuntime) and runtime.url == podman_socket
    runtime.close()


@pytest.mark.podman
def test_detect_starts_and_stops_a_private_service_when_only_the_binary_exists(
    nowhere: Path,
) -> None:
    podman_dir = os.path.dirname(shutil.which("podman") or "/usr/bin/podman")
    env = dict(os.environ) | {"PATH": f"{podman_dir}:/usr/sbin:/usr/bin:/sbin:/bin",
                             "XDG_RUNTIME_DIR": str(nowhere)}
    env.pop("CONTAINER_HOST", None)

    runtime = detect_runtime("podman", env=env, nowhere=nowhere)
    assert isinstance(runtime, PodmanRuntime)
    try:
        info = runtime.probe()
    finally:
        runtime.close()

    assert info.name == "podman" and info.socket.startswith(f"unix://{nowhere}/flwd-podman-")
    assert [p.name for p in nowhere.iterdir()] == []  # socket dir removed with the service


def test_detect_fails_fast_naming_everything_when_nothing_is_reachable(nowhere: Path) -> None:
    started = time.monotonic()

    with pytest.raises(RuntimeUnavailableError) as err:
        detect_runtime("auto", env=_env(nowhere, XDG_RUNTIME_DIR=str(nowhere)), nowhere=nowhere)

    # fast: a short ping of each candidate socket, never a client's 60 s connect timeout
    assert time.monotonic() - started < 4.5
    assert f"{nowhere}/podman/podman.sock" in err.value.detail
    assert f"{nowhere}/docker.sock" in err.value.detail
    assert "not installed" in err.value.detail


@pytest.mark.docker
def test_detect_falls_back_to_docker_when_no_podman_is_reachable_and_nothing_is_named(
    docker_socket: str, nowhere: Path
) -> None:
    runtime = detect_runtime("auto", env=_env(nowhere), nowhere=nowhere, docker_url=docker_socket)
    try:
        info = runtime.probe()
    finally:
        runtime.close()

    assert info.name == "docker"
