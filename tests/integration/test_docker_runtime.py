"""DockerRuntime against a real Docker daemon: the port contract and flwd's secure settings."""

from __future__ import annotations

import re
import shutil
import socket
import socketserver
import subprocess
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import pytest

from flwd.adapters.docker_runtime import DockerRuntime
from flwd.domain.errors import OciError, RuntimeUnavailableError
from flwd.ports.runtime import ContainerRuntime, OutputLine
from tests.contracts.runtime import check_runtime_contract, collect_output, contract_spec
from tests.integration import secure_facts as secure

pytestmark = pytest.mark.docker

# the shared secure probe, then what only this adapter test checks: Docker's own init by name
# and that the job dir holds what contract_spec wrote
PROBE_SCRIPT = secure.SECURE_PROBE + r"""
echo "init=$(cat /proc/1/comm)"
echo "job=$(cat /flwd/job/main.sh)"
"""


@pytest.fixture
def docker_runtime(docker_socket: str) -> Iterator[DockerRuntime]:
    runtime = DockerRuntime(base_url=docker_socket)
    yield runtime
    runtime.close()


def run_to_end(runtime: DockerRuntime, command: tuple[str, ...], image: str,
               workdir: Path) -> tuple[list[OutputLine], int]:
    container_id = runtime.create(contract_spec(image, command, workdir))
    try:
        runtime.start(container_id)
        lines = collect_output(runtime, container_id)
        return lines, runtime.wait(container_id)
    finally:
        runtime.remove(container_id)


def test_docker_runtime_conforms_to_the_port_when_typed() -> None:
    runtime: ContainerRuntime = DockerRuntime(base_url="unix:///nonexistent/docker.sock")

    assert runtime is not None  # construction did no I/O, so a bad socket is fine here


def test_docker_passes_the_runtime_contract_when_daemon_is_up(
    docker_runtime: DockerRuntime, test_image: str, shared_tmp: Path
) -> None:
    check_runtime_contract(docker_runtime, test_image, shared_tmp)

    assert not [m for m in docker_runtime.managed() if m.name.startswith("flwd-contract-")]


def test_probe_describes_the_daemon_when_reachable(
    docker_runtime: DockerRuntime, docker_socket: str
) -> None:
    info = docker_runtime.probe()

    assert (info.name, info.socket) == ("docker", docker_socket)
    assert info.version[0].isdigit()
    assert info.rootless is (info.root_uid != 0)  # rootful here; remapped root would be a sub-uid


class CountingProxy(socketserver.ThreadingUnixStreamServer):
    """A unix-socket proxy in front of the daemon that records each request line it passes."""

    daemon_threads = True

    def __init__(self, upstream: str, path: Path) -> None:
        self.url, self.upstream, self.requests = f"unix://{path}", upstream, []
        super().__init__(str(path), _Relay)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _Relay(socketserver.BaseRequestHandler):
    server: CountingProxy

    def handle(self) -> None:
        with socket.socket(socket.AF_UNIX) as daemon:
            daemon.connect(self.server.upstream.removeprefix("unix://"))
            threading.Thread(target=_relay, args=(daemon, self.request, None), daemon=True).start()
            _relay(self.request, daemon, self.server.requests)


def _relay(source: socket.socket, sink: socket.socket, record: list[bytes] | None) -> None:
    try:
        while data := source.recv(65536):
            if record is not None:
                record += re.findall(rb"^(?:GET|POST|HEAD) (/\S*) HTTP", data, re.M)
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)
    except OSError:  # the other side is gone
        return


def test_probe_asks_the_daemon_once_when_probed_again(docker_socket: str) -> None:
    """Each run probes: one /info per adapter (it carries the version), not /version twice
    and /info every time."""
    where = Path(tempfile.mkdtemp(prefix="fd-", dir="/tmp"))
    proxy = CountingProxy(docker_socket, where / "d.sock")
    runtime = DockerRuntime(base_url=proxy.url)
    try:
        first, second = runtime.probe(), runtime.probe()
    finally:
        runtime.close()
        proxy.close()
        shutil.rmtree(where, ignore_errors=True)
    server = subprocess.run(["docker", "-H", docker_socket, "version", "--format",
                             "{{.Server.Version}}"], capture_output=True, text=True, timeout=30)

    assert first == second and first.version == server.stdout.strip()
    paths = [path.split(b"?")[0].rsplit(b"/", 1)[-1] for path in proxy.requests]
    assert paths.count(b"info") == 1 and paths.count(b"version") <= 1, proxy.requests


def test_probe_fails_fast_naming_the_socket_when_daemon_is_absent() -> None:
    runtime = DockerRuntime(base_url="unix:///run/flwd-no-such-docker.sock")
    began = time.monotonic()

    with pytest.raises(RuntimeUnavailableError) as err:
        runtime.probe()

    assert time.monotonic() - began < 30  # not docker-py's 60 s default timeout
    assert "unix:///run/flwd-no-such-docker.sock" in err.value.detail


def test_secure_settings_hold_inside_the_container(
    docker_runtime: DockerRuntime, test_image: str, shared_tmp: Path
) -> None:
    # run from a file: with `sh -c` the whole script would be pid 1's command line
    (shared_tmp / "job").mkdir(mode=0o755)
    (shared_tmp / "job" / "probe.sh").write_text(PROBE_SCRIPT)
    command = ("sh", "/flwd/job/probe.sh")

    lines, exit_code = run_to_end(docker_runtime, command, test_image, shared_tmp)
    seen = secure.parse_facts(x.line for x in lines if x.stream == "stdout")

    assert exit_code == 0, lines
    secure.assert_no_capabilities(seen)
    secure.assert_no_new_privileges(seen)
    secure.assert_default_seccomp(seen)
    secure.assert_only_loopback(seen)
    secure.assert_rootfs_read_only(seen)
    secure.assert_tmp_is_the_only_writable_tmpfs(seen)
    assert "noexec" not in seen["tmp_options"][0].split(",")  # exactly the planned flags
    assert seen["pids_max"] == ["64"]
    secure.assert_init_is_pid_one(seen, "/flwd/job/probe.sh")
    assert seen["init"] == ["docker-init"]
    assert seen["nofile"] == ["1024"]
    assert seen["job"] == ["echo hello"]
    secure.assert_run_dir_writable_job_dir_read_only(seen)
    secure.assert_mounts_are_exactly(seen)
    secure.assert_private_namespaces(seen)
    secure.assert_no_runtime_socket(seen)
    secure.assert_env_adds_exactly(seen, {"FLWD_RUN_ID"})
    assert "FLWD_TEST_DOCKER_SOCKET" not in seen["env"]
    assert (shared_tmp / "run" / "out.txt").read_text() == "hello\n"


def test_memory_limit_is_enforced_when_set(
    docker_runtime: DockerRuntime, test_image: str, shared_tmp: Path
) -> None:
    script = ("cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null "
              "|| cat /sys/fs/cgroup/memory.max")

    lines, exit_code = run_to_end(docker_runtime, ("sh", "-c", script), test_image, shared_tmp)

    assert exit_code == 0
    assert [x.line for x in lines] == [str(64 * 1024 * 1024)]


def test_output_buffers_partial_lines_and_replaces_bad_utf8(
    docker_runtime: DockerRuntime, test_image: str, shared_tmp: Path
) -> None:
    script = r"printf 'a'; sleep 1; printf 'b\nc\377'; printf 'e1\ne2' >&2"

    lines, exit_code = run_to_end(docker_runtime, ("sh", "-c", script), test_image, shared_tmp)

    assert exit_code == 0
    assert [x.line for x in lines if x.stream == "stdout"] == ["ab", "c\ufffd"]
    assert [x.line for x in lines if x.stream == "stderr"] == ["e1", "e2"]


def test_start_raises_oci_error_with_daemon_message_when_mount_source_vanished(
    docker_runtime: DockerRuntime, test_image: str, shared_tmp: Path
) -> None:
    container_id = docker_runtime.create(contract_spec(test_image, ("true",), shared_tmp))
    (shared_tmp / "job" / "main.sh").unlink()
    (shared_tmp / "job").rmdir()
    try:
        with pytest.raises(OciError) as err:
            docker_runtime.start(container_id)
    finally:
        docker_runtime.remove(container_id)

    assert err.value.code == "E_OCI"
    assert "bind source path does not exist" in err.value.detail


def test_missing_command_exits_127_through_the_init(
    docker_runtime: DockerRuntime, test_image: str, shared_tmp: Path
) -> None:
    lines, exit_code = run_to_end(docker_runtime, ("/no/such/bin",), test_image, shared_tmp)

    assert exit_code == 127
    assert any("/no/such/bin" in x.line for x in lines if x.stream == "stderr")


def test_create_raises_oci_error_when_image_is_missing(
    docker_runtime: DockerRuntime, shared_tmp: Path
) -> None:
    spec = contract_spec("localhost:1/none:latest", ("true",), shared_tmp)

    with pytest.raises(OciError) as err:
        docker_runtime.create(spec)

    assert "none" in err.value.detail
    assert spec.name not in {m.name for m in docker_runtime.managed()}


def test_pull_failure_carries_the_daemon_message(docker_runtime: DockerRuntime) -> None:
    with pytest.raises(OciError) as err:
        docker_runtime.ensure_image("localhost:1/none:latest", "always", lambda p: None)

    assert "localhost:1" in err.value.detail


def test_user_and_env_are_applied_when_given(
    docker_runtime: DockerRuntime, test_image: str, shared_tmp: Path
) -> None:
    spec = replace(contract_spec(test_image, ("sh", "-c", "id -u; echo $GREETING"), shared_tmp),
                   user="65534:65534", env={"GREETING": "hello"})
    container_id = docker_runtime.create(spec)
    try:
        docker_runtime.start(container_id)
        lines = collect_output(docker_runtime, container_id)
        exit_code = docker_runtime.wait(container_id)
    finally:
        docker_runtime.remove(container_id)

    assert exit_code == 0
    assert [x.line for x in lines] == ["65534", "hello"]
