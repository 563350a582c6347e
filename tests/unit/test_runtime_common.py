"""The helpers the Docker and Podman adapters share: line splitting, reachability, errors."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from flwd.adapters._runtime_common import (
    LineSplitter,
    check_reachable,
    managed_container,
    split_lines,
    translate_api_error,
)
from flwd.domain.errors import ContainerNameConflictError, OciError, RuntimeUnavailableError
from flwd.ports.runtime import OutputLine


class ApiError(Exception):
    """Shaped like docker-py's and podman-py's APIError."""

    def __init__(self, status_code: int, explanation: str) -> None:
        super().__init__(explanation)
        self.status_code, self.explanation = status_code, explanation


def test_split_lines_buffers_partial_lines_per_stream_when_chunks_interleave() -> None:
    chunks = [("stdout", b"a"), ("stderr", b"x\n"), ("stdout", b"b\r\nc")]

    lines = list(split_lines(chunks))

    assert lines == [
        OutputLine(stream="stderr", line="x"),
        OutputLine(stream="stdout", line="ab"),
        OutputLine(stream="stdout", line="c"),
    ]


def test_line_splitter_joins_utf8_split_across_chunks_and_replaces_bad_bytes() -> None:
    splitter = LineSplitter()
    euro = "€".encode()

    first = splitter.feed(euro[:1])
    second = splitter.feed(euro[1:] + b"\xff\n")

    assert (first, second, splitter.flush()) == ([], ["€\ufffd"], [])


def test_check_reachable_fails_fast_naming_the_socket_when_nothing_listens(
    tmp_path: Path,
) -> None:
    url = f"unix://{tmp_path}/none.sock"
    began = time.monotonic()

    with pytest.raises(RuntimeUnavailableError) as err:
        check_reachable(url, "podman")

    assert url in err.value.detail
    assert time.monotonic() - began < 1


def test_check_reachable_passes_when_a_unix_socket_listens(tmp_path: Path) -> None:
    path = tmp_path / "ok.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen(1)

        check_reachable(f"unix://{path}", "docker")

    assert not path.is_dir()


def test_translate_maps_409_on_create_to_name_conflict() -> None:
    error = translate_api_error(ApiError(409, "name in use"), "create", name="flwd-1")

    assert isinstance(error, ContainerNameConflictError)
    assert error.context["name"] == "flwd-1"


def test_translate_keeps_the_engine_message_when_other_failures() -> None:
    error = translate_api_error(ApiError(500, "manifest unknown"), "pull", image="x")

    assert isinstance(error, OciError)
    assert "manifest unknown" in error.detail


def test_translate_maps_connection_errors_to_unavailable() -> None:
    error = translate_api_error(ConnectionRefusedError("refused"), "start")

    assert isinstance(error, RuntimeUnavailableError)


def test_managed_container_ignores_containers_without_the_run_label() -> None:
    assert managed_container("id", "/other", {"app": "x"}, running=True) is None
    found = managed_container("id", "/flwd-r1", {"flwd.run-id": "r1"}, running=False)
    assert found is not None and (found.name, found.run_id, found.job_id) == ("flwd-r1", "r1", "")


def test_docker_close_never_waits_for_the_client_lock_when_it_runs_from_a_finalizer() -> None:
    """The container's resource generator closes the adapter when it is garbage-collected,
    which can happen while _docker() holds the lock (on this thread or on one waiting for the
    import lock): close() taking that lock deadlocked a test run."""
    import threading

    from flwd.adapters.docker_runtime import DockerRuntime

    runtime = DockerRuntime(base_url="unix:///nonexistent.sock")
    closed = threading.Event()

    with runtime._lock:  # held as while a client is being built
        closer = threading.Thread(target=lambda: (runtime.close(), closed.set()), daemon=True)
        closer.start()
        closer.join(timeout=5)

    assert closed.is_set()
