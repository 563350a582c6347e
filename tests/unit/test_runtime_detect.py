"""Runtime detection order (SPEC section 6) against fake AF_UNIX services; no real runtime."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from flwd.adapters.podman_runtime import PodmanRuntime
from flwd.adapters.podman_service import PrivatePodmanService
from flwd.adapters.runtime_detect import describe_candidates, detect_runtime
from flwd.domain.errors import RuntimeUnavailableError

FAKE_PODMAN = """#!{python}
import os, signal, socket, sys, threading
if {fail!r}:
    sys.stderr.write("Error: {fail}\\n")
    sys.exit(125)
path = sys.argv[-1].removeprefix("unix://")
server = socket.socket(socket.AF_UNIX)
server.bind(path)
server.listen()
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    conn, _ = server.accept()
    conn.recv(1024)
    conn.sendall(b"HTTP/1.1 200 OK\\r\\nLibpod-Api-Version: 4.3.1\\r\\n\\r\\nOK")
    conn.close()
"""


class FakeService:
    """A tiny HTTP-ish server on a unix socket answering every request with *status*."""

    def __init__(self, path: Path, status: int | None, libpod: bool) -> None:
        self.path = path
        self._server = socket.socket(socket.AF_UNIX)
        self._server.bind(str(path))
        self._server.listen()
        self._status = status
        self._extra = "Libpod-Api-Version: 4.3.1\r\n" if libpod else ""
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with conn:
                conn.recv(1024)
                if self._status is None:  # hung: accept, never answer
                    time.sleep(2)
                    continue
                head = f"HTTP/1.1 {self._status} X\r\n{self._extra}Content-Length: 2\r\n\r\n"
                conn.sendall(head.encode() + b"OK")

    def close(self) -> None:
        self._server.close()


@pytest.fixture
def short_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="fd-", dir="/tmp"))  # AF_UNIX paths must stay short
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def serve(short_dir: Path) -> Iterator[Callable[..., FakeService]]:
    services: list[FakeService] = []

    def start(name: str, status: int | None = 200, libpod: bool = True) -> FakeService:
        service = FakeService(short_dir / name, status, libpod)
        services.append(service)
        return service

    yield start
    for service in services:
        service.close()


@pytest.fixture
def env(short_dir: Path) -> dict[str, str]:
    """Nothing answers anywhere and podman is not on PATH, until a test says otherwise."""
    (short_dir / "bin").mkdir()
    return {"PATH": str(short_dir / "bin"), "DOCKER_HOST": f"unix://{short_dir}/no-docker.sock"}


def _dead(short_dir: Path, name: str) -> str:
    return f"unix://{short_dir}/{name}"


def test_detect_prefers_container_host_when_it_answers(
    serve: Callable[..., FakeService], env: dict[str, str], short_dir: Path
) -> None:
    host, xdg_dir = serve("host.sock"), short_dir / "xdg"
    (xdg_dir / "podman").mkdir(parents=True)
    serve("xdg/podman/podman.sock")
    env |= {"CONTAINER_HOST": host.url, "XDG_RUNTIME_DIR": str(xdg_dir)}

    runtime = detect_runtime("auto", env=env, system_podman_url=_dead(short_dir, "sys.sock"))

    assert isinstance(runtime, PodmanRuntime)
    assert runtime.url == host.url


def test_detect_uses_xdg_socket_when_container_host_is_dead(
    serve: Callable[..., FakeService], env: dict[str, str], short_dir: Path
) -> None:
    (short_dir / "xdg" / "podman").mkdir(parents=True)
    xdg = serve("xdg/podman/podman.sock")
    env |= {"CONTAINER_HOST": _dead(short_dir, "gone.sock"),
            "XDG_RUNTIME_DIR": str(short_dir / "xdg")}

    runtime = detect_runtime("podman", env=env, system_podman_url=_dead(short_dir, "sys.sock"))

    assert isinstance(runtime, PodmanRuntime)
    assert runtime.url == xdg.url


def test_detect_uses_system_socket_when_user_sockets_are_dead(
    serve: Callable[..., FakeService], env: dict[str, str], short_dir: Path
) -> None:
    system = serve("sys.sock")
    env |= {"XDG_RUNTIME_DIR": str(short_dir / "nothing-here")}

    runtime = detect_runtime("auto", env=env, system_podman_url=system.url)

    assert isinstance(runtime, PodmanRuntime)
    assert runtime.url == system.url


def test_detect_skips_a_socket_when_it_answers_ping_with_an_error(
    serve: Callable[..., FakeService], env: dict[str, str], short_dir: Path
) -> None:
    broken, system = serve("broken.sock", status=500), serve("sys.sock")
    env |= {"CONTAINER_HOST": broken.url}

    runtime = detect_runtime("podman", env=env, system_podman_url=system.url)

    assert isinstance(runtime, PodmanRuntime)
    assert runtime.url == system.url


def test_detect_skips_a_socket_when_it_is_not_podman(
    serve: Callable[..., FakeService], env: dict[str, str], short_dir: Path
) -> None:
    docker_like, system = serve("docker-like.sock", libpod=False), serve("sys.sock")
    env |= {"CONTAINER_HOST": docker_like.url}

    found = describe_candidates(env, "podman", system_podman_url=system.url)
    runtime = detect_runtime("podman", env=env, system_podman_url=system.url)

    assert "not a Podman service" in found[0].reason
    assert isinstance(runtime, PodmanRuntime) and runtime.url == system.url


def test_detect_falls_back_to_docker_when_no_podman_answers_and_auto(
    serve: Callable[..., FakeService], env: dict[str, str], short_dir: Path
) -> None:
    docker = serve("docker.sock", libpod=False)
    env |= {"DOCKER_HOST": docker.url}

    runtime = detect_runtime("auto", env=env, system_podman_url=_dead(short_dir, "sys.sock"))

    assert type(runtime).__name__ == "DockerRuntime"
    assert getattr(runtime, "url") == docker.url


def test_detect_ignores_podman_when_docker_is_asked_for(
    serve: Callable[..., FakeService], env: dict[str, str], short_dir: Path
) -> None:
    podman, docker = serve("podman.sock"), serve("docker.sock", libpod=False)
    env |= {"CONTAINER_HOST": podman.url, "DOCKER_HOST": docker.url}

    runtime = detect_runtime("docker", env=env, system_podman_url=podman.url)

    assert type(runtime).__name__ == "DockerRuntime"
    assert getattr(runtime, "url") == docker.url


def test_detect_never_falls_back_to_docker_when_podman_is_asked_for(
    serve: Callable[..., FakeService], env: dict[str, str], short_dir: Path
) -> None:
    env |= {"DOCKER_HOST": serve("docker.sock").url}

    with pytest.raises(RuntimeUnavailableError) as err:
        detect_runtime("podman", env=env, system_podman_url=_dead(short_dir, "sys.sock"))

    assert "docker" not in err.value.detail.split("tried:")[1].replace("no-docker", "")


def test_detect_lists_everything_tried_quickly_when_nothing_answers(
    serve: Callable[..., FakeService], env: dict[str, str], short_dir: Path
) -> None:
    hung = serve("hung.sock", status=None)
    env |= {"CONTAINER_HOST": hung.url, "XDG_RUNTIME_DIR": str(short_dir / "x")}
    started = time.monotonic()

    with pytest.raises(RuntimeUnavailableError) as err:
        detect_runtime("auto", env=env, system_podman_url=_dead(short_dir, "sys.sock"))

    assert time.monotonic() - started < 2.0
    assert err.value.code == "container.runtime.unavailable"
    for expected in (hung.url, f"{short_dir}/x/podman/podman.sock", "sys.sock",
                     "podman is not installed", env["DOCKER_HOST"]):
        assert expected in err.value.detail


def test_detect_rejects_an_unknown_kind_when_asked(env: dict[str, str]) -> None:
    with pytest.raises(RuntimeUnavailableError, match="unknown runtime"):
        detect_runtime("lxc", env=env)


def test_describe_lists_candidates_in_order_when_some_answer(
    serve: Callable[..., FakeService], env: dict[str, str], short_dir: Path
) -> None:
    docker = serve("docker.sock", libpod=False)
    env |= {"CONTAINER_HOST": _dead(short_dir, "gone.sock"), "DOCKER_HOST": docker.url}

    found = describe_candidates(env, system_podman_url=_dead(short_dir, "sys.sock"))

    assert [(c.runtime, c.source, c.reachable) for c in found] == [
        ("podman", "CONTAINER_HOST", False),
        ("podman", "system socket", False),
        ("docker", "DOCKER_HOST", True),
    ]
    assert found[0].reason


def _install_fake_podman(env: dict[str, str], fail: str = "") -> None:
    script = Path(env["PATH"]) / "podman"
    script.write_text(FAKE_PODMAN.format(python=sys.executable, fail=fail))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def test_detect_starts_a_private_service_when_podman_is_installed_but_silent(
    env: dict[str, str], short_dir: Path
) -> None:
    _install_fake_podman(env)
    env["XDG_RUNTIME_DIR"] = str(short_dir)

    runtime = detect_runtime("podman", env=env, system_podman_url=_dead(short_dir, "sys.sock"))
    assert isinstance(runtime, PodmanRuntime)
    socket_path = Path(runtime.url.removeprefix("unix://"))
    answering = socket_path.exists()
    runtime.close()

    assert answering and socket_path.parent.parent == short_dir
    assert not socket_path.parent.exists()


def test_private_service_explains_crun_when_podman_fails_with_it(
    env: dict[str, str], short_dir: Path
) -> None:
    _install_fake_podman(env, fail="crun: cgroups in hybrid mode not supported")
    service = PrivatePodmanService(env=env | {"XDG_RUNTIME_DIR": str(short_dir)})

    with pytest.raises(RuntimeUnavailableError) as err:
        service.start()

    assert 'runtime = "runc"' in err.value.detail
    assert not service.running
    assert [p.name for p in short_dir.iterdir()] == ["bin"]


def test_private_service_socket_dir_is_private_when_started(
    env: dict[str, str], short_dir: Path
) -> None:
    _install_fake_podman(env)
    service = PrivatePodmanService(env=env | {"XDG_RUNTIME_DIR": str(short_dir)})

    url = service.start()
    mode = stat.S_IMODE(os.stat(Path(url.removeprefix("unix://")).parent).st_mode)
    service.stop()

    assert mode == 0o700
    assert len(url) < 108
    assert not service.running


def test_detect_refuses_an_ssh_container_host_at_once_when_its_host_does_not_resolve(
        env: dict[str, str], short_dir: Path) -> None:
    """The SDK's SSH tunnel would wait minutes on it; detection says why right away."""
    env |= {"CONTAINER_HOST": "ssh://core@flwd-no-such-host.invalid/run/podman/podman.sock",
            "XDG_RUNTIME_DIR": str(short_dir / "x")}

    with pytest.raises(RuntimeUnavailableError) as err:
        detect_runtime("podman", env=env, system_podman_url=_dead(short_dir, "sys.sock"))

    assert "ssh://core@flwd-no-such-host.invalid" in err.value.detail
    assert "SSH host does not answer" in err.value.detail


def test_describe_checks_an_ssh_address_by_connecting_to_its_host(
        env: dict[str, str], short_dir: Path) -> None:
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(1)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: connecting is refused
    try:
        env |= {"CONTAINER_HOST": f"ssh://core@127.0.0.1:{listening.getsockname()[1]}/run/p.sock",
                "DOCKER_HOST": f"ssh://core@127.0.0.1:{closed.getsockname()[1]}"}

        found = describe_candidates(env, system_podman_url=_dead(short_dir, "sys.sock"))
    finally:
        listening.close()
        closed.close()

    by_source = {c.source: c for c in found}
    assert by_source["CONTAINER_HOST"].reachable is True
    assert by_source["DOCKER_HOST"].reachable is False
    assert "SSH host does not answer" in (by_source["DOCKER_HOST"].reason or "")
