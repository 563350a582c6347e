"""Runtime detection order (SPEC section 6) against fake AF_UNIX services; no real runtime."""

from __future__ import annotations

import io
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
from dependency_injector import providers

from flwd.adapters.podman_runtime import PodmanRuntime
from flwd.adapters.podman_service import PrivatePodmanService
from flwd.adapters.runtime_detect import RuntimeEndpoint, describe_candidates, find_runtime
from flwd.domain.errors import RuntimeUnavailableError
from flwd.entrypoints.cli.main import main
from flwd.entrypoints.cli.render import Io
from flwd.entrypoints.config import FlwdConfig
from flwd.entrypoints.container import build_container
from flwd.ports.kinds import RuntimeKind

FAKE_PODMAN = """#!{python}
import os, signal, socket, sys, threading
open(os.path.join(os.path.dirname(sys.argv[0]), "podman-started"), "w").close()
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


def _find(kind: str, env: dict[str, str], short_dir: Path, **where: str) -> RuntimeEndpoint:
    """find_runtime with the default sockets in *short_dir* (dead unless *where* says)."""
    return find_runtime(kind, env=env,
                        system_podman_url=where.get("system", _dead(short_dir, "sys.sock")),
                        docker_url=where.get("docker", _dead(short_dir, "docker-default.sock")))


def test_detect_prefers_container_host_when_it_answers(
    serve: Callable[..., FakeService], env: dict[str, str], short_dir: Path
) -> None:
    host, xdg_dir = serve("host.sock"), short_dir / "xdg"
    (xdg_dir / "podman").mkdir(parents=True)
    serve("xdg/podman/podman.sock")
    env |= {"CONTAINER_HOST": host.url, "XDG_RUNTIME_DIR": str(xdg_dir)}

    found = _find("auto", env, short_dir)

    assert (found.kind, found.url, found.service) == ("podman", host.url, None)


@pytest.mark.parametrize("kind", ["auto", "podman"])
def test_detect_fails_naming_container_host_when_it_is_dead_and_others_would_answer(
    serve: Callable[..., FakeService], env: dict[str, str], short_dir: Path, kind: str
) -> None:
    """A socket the user named is a choice: never another Podman (the system one is root's),
    never a private service (root's too when flwd runs as root), never Docker."""
    (short_dir / "xdg" / "podman").mkdir(parents=True)
    serve("xdg/podman/podman.sock")
    system, docker = serve("sys.sock"), serve("docker.sock", libpod=False)
    _install_fake_podman(env)
    env |= {"CONTAINER_HOST": _dead(short_dir, "gone.sock"),
            "XDG_RUNTIME_DIR": str(short_dir / "xdg")}
    del env["DOCKER_HOST"]

    with pytest.raises(RuntimeUnavailableError) as err:
        _find(kind, env, short_dir, system=system.url, docker=docker.url)

    assert err.value.code == "container.runtime.unavailable"
    assert f"podman at {env['CONTAINER_HOST']} (CONTAINER_HOST): not reachable" in err.value.detail
    assert "CONTAINER_HOST named the runtime to use" in err.value.detail
    assert err.value.context["socket"] == env["CONTAINER_HOST"]
    assert system.url not in err.value.detail and docker.url not in err.value.detail
    assert not _fake_podman_started(env)


def test_detect_starts_no_private_service_when_auto_and_docker_host_is_named(
    serve: Callable[..., FakeService], env: dict[str, str], short_dir: Path
) -> None:
    system = serve("sys.sock")
    _install_fake_podman(env)

    with pytest.raises(RuntimeUnavailableError) as err:
        _find("auto", env, short_dir, system=system.url)

    assert f"docker at {env['DOCKER_HOST']} (DOCKER_HOST): not reachable" in err.value.detail
    assert "podman" not in err.value.detail.split("tried:")[1].split("(DOCKER_HOST named")[0]
    assert not _fake_podman_started(env)


def test_detect_uses_xdg_socket_when_nothing_is_named(
    serve: Callable[..., FakeService], env: dict[str, str], short_dir: Path
) -> None:
    (short_dir / "xdg" / "podman").mkdir(parents=True)
    xdg = serve("xdg/podman/podman.sock")
    env |= {"XDG_RUNTIME_DIR": str(short_dir / "xdg")}
    del env["DOCKER_HOST"]

    found = _find("auto", env, short_dir, system=serve("sys.sock").url)

    assert (found.kind, found.url) == ("podman", xdg.url)


def test_detect_uses_system_socket_when_user_sockets_are_dead(
    serve: Callable[..., FakeService], env: dict[str, str], short_dir: Path
) -> None:
    system = serve("sys.sock")
    env |= {"XDG_RUNTIME_DIR": str(short_dir / "nothing-here")}

    found = _find("podman", env, short_dir, system=system.url)

    assert (found.kind, found.url) == ("podman", system.url)


def test_detect_skips_a_socket_when_it_answers_ping_with_an_error(
    serve: Callable[..., FakeService], env: dict[str, str], short_dir: Path
) -> None:
    (short_dir / "xdg" / "podman").mkdir(parents=True)
    serve("xdg/podman/podman.sock", status=500)
    system = serve("sys.sock")
    env |= {"XDG_RUNTIME_DIR": str(short_dir / "xdg")}

    found = _find("podman", env, short_dir, system=system.url)

    assert found.url == system.url


def test_detect_skips_a_socket_when_it_is_not_podman(
    serve: Callable[..., FakeService], env: dict[str, str], short_dir: Path
) -> None:
    (short_dir / "xdg" / "podman").mkdir(parents=True)
    serve("xdg/podman/podman.sock", libpod=False)
    system = serve("sys.sock")
    env |= {"XDG_RUNTIME_DIR": str(short_dir / "xdg")}

    described = describe_candidates(env, RuntimeKind.PODMAN, system_podman_url=system.url)
    found = _find("podman", env, short_dir, system=system.url)

    assert "not a Podman service" in described[0].reason
    assert found.url == system.url


def test_detect_uses_docker_host_when_auto_and_only_docker_host_is_named(
    serve: Callable[..., FakeService], env: dict[str, str], short_dir: Path
) -> None:
    docker = serve("docker.sock", libpod=False)
    env |= {"DOCKER_HOST": docker.url}

    found = _find("auto", env, short_dir)

    assert (found.kind, found.url) == ("docker", docker.url)


def test_detect_falls_back_to_the_default_docker_socket_when_auto_and_no_podman_answers(
    serve: Callable[..., FakeService], env: dict[str, str], short_dir: Path
) -> None:
    docker = serve("docker-default.sock", libpod=False)
    del env["DOCKER_HOST"]

    found = _find("auto", env, short_dir, docker=docker.url)

    assert (found.kind, found.url) == ("docker", docker.url)


def test_detect_ignores_podman_when_docker_is_asked_for(
    serve: Callable[..., FakeService], env: dict[str, str], short_dir: Path
) -> None:
    podman, docker = serve("podman.sock"), serve("docker.sock", libpod=False)
    env |= {"CONTAINER_HOST": podman.url, "DOCKER_HOST": docker.url}

    found = _find("docker", env, short_dir, system=podman.url)

    assert (found.kind, found.url) == ("docker", docker.url)


def test_detect_never_falls_back_to_docker_when_podman_is_asked_for(
    serve: Callable[..., FakeService], env: dict[str, str], short_dir: Path
) -> None:
    env |= {"DOCKER_HOST": serve("docker.sock").url}

    with pytest.raises(RuntimeUnavailableError) as err:
        _find("podman", env, short_dir, docker=serve("docker-default.sock").url)

    assert "docker" not in err.value.detail.split("tried:")[1].replace("docker-default", "")


def test_detect_lists_everything_tried_quickly_when_nothing_answers(
    serve: Callable[..., FakeService], env: dict[str, str], short_dir: Path
) -> None:
    (short_dir / "x" / "podman").mkdir(parents=True)
    hung = serve("x/podman/podman.sock", status=None)
    env |= {"XDG_RUNTIME_DIR": str(short_dir / "x")}
    del env["DOCKER_HOST"]
    started = time.monotonic()

    with pytest.raises(RuntimeUnavailableError) as err:
        _find("auto", env, short_dir)

    assert time.monotonic() - started < 2.0
    assert err.value.code == "container.runtime.unavailable"
    for expected in (hung.url, "sys.sock", "podman is not installed", "docker-default.sock"):
        assert expected in err.value.detail
    assert "named the runtime" not in err.value.detail


def test_detect_rejects_an_unknown_kind_when_asked(env: dict[str, str]) -> None:
    with pytest.raises(RuntimeUnavailableError, match="unknown runtime"):
        find_runtime("lxc", env=env)


def test_describe_lists_only_the_named_sockets_when_some_are_named(
    serve: Callable[..., FakeService], env: dict[str, str], short_dir: Path
) -> None:
    docker = serve("docker.sock", libpod=False)
    env |= {"CONTAINER_HOST": _dead(short_dir, "gone.sock"), "DOCKER_HOST": docker.url}

    found = describe_candidates(env, system_podman_url=serve("sys.sock").url)

    assert [(c.runtime, c.source, c.reachable) for c in found] == [
        ("podman", "CONTAINER_HOST", False),
        ("docker", "DOCKER_HOST", True),
    ]
    assert found[0].reason


def test_describe_lists_the_default_sockets_in_order_when_nothing_is_named(
    serve: Callable[..., FakeService], env: dict[str, str], short_dir: Path
) -> None:
    del env["DOCKER_HOST"]
    env |= {"XDG_RUNTIME_DIR": str(short_dir / "x")}

    found = describe_candidates(env, system_podman_url=_dead(short_dir, "sys.sock"),
                                docker_url=serve("docker.sock", libpod=False).url)

    assert [(c.runtime, c.source, c.reachable) for c in found] == [
        ("podman", "XDG_RUNTIME_DIR", False),
        ("podman", "system socket", False),
        ("docker", "default socket", True),
    ]


def test_doctor_fails_naming_container_host_and_starts_nothing_when_its_socket_is_dead(
    env: dict[str, str], short_dir: Path
) -> None:
    """`CONTAINER_HOST=unix:///nonexistent.sock flwd :doctor` used to start a private root
    Podman and report it with a mere rootful warning."""
    _install_fake_podman(env)
    env |= {"CONTAINER_HOST": _dead(short_dir, "nonexistent.sock"), "HOME": str(short_dir),
            "XDG_RUNTIME_DIR": str(short_dir), "FLWD_DATA_DIR": str(short_dir / "data")}
    del env["DOCKER_HOST"]
    out, err = io.StringIO(), io.StringIO()

    code = main([":doctor"], Io(out=out, err=err), env)

    assert code == 125, out.getvalue() + err.getvalue()
    assert f"container.runtime.unavailable: no container runtime is reachable; tried: podman at " \
           f"{env['CONTAINER_HOST']} (CONTAINER_HOST)" in out.getvalue()
    assert "rootful" not in out.getvalue()
    assert not _fake_podman_started(env)


def _install_fake_podman(env: dict[str, str], fail: str = "") -> None:
    script = Path(env["PATH"]) / "podman"
    script.write_text(FAKE_PODMAN.format(python=sys.executable, fail=fail))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def _fake_podman_started(env: dict[str, str]) -> bool:
    return (Path(env["PATH"]) / "podman-started").exists()


@pytest.mark.parametrize("docker_host", [True, False], ids=["docker-host-named", "nothing-named"])
def test_detect_starts_a_private_service_when_podman_is_asked_for_and_installed_but_silent(
    env: dict[str, str], short_dir: Path, docker_host: bool
) -> None:
    """SPEC section 6 allows it: `runtime: podman` and no CONTAINER_HOST (DOCKER_HOST is not
    about Podman). The runtime the container selects stops it when resources shut down."""
    _install_fake_podman(env)
    env["XDG_RUNTIME_DIR"] = str(short_dir)
    if not docker_host:
        del env["DOCKER_HOST"]
    found = _find("podman", env, short_dir)
    container = build_container(FlwdConfig(runtime=RuntimeKind.PODMAN), env=env)
    container.runtime_found.override(providers.Object(found))

    runtime = container.runtime()
    socket_path = Path(found.url.removeprefix("unix://"))
    answering = socket_path.exists()
    container.shutdown_resources()

    assert isinstance(runtime, PodmanRuntime) and runtime.url == found.url
    assert found.service is not None and answering and socket_path.parent.parent == short_dir
    assert not found.service.running and not socket_path.parent.exists()


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
        _find("podman", env, short_dir)

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
