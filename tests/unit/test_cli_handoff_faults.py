"""The hand-off under faults (cli.handoff, cli.handoff_server, cli.handoff_wire): clients
that vanish, stop reading or send what is not a request, and a server that stops; each ends
bounded, with a coded answer or a hang-up, the run recorded, the server still serving."""

from __future__ import annotations

import contextlib
import errno
import json
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from flwd.adapters.fake_runtime import FakeRuntime
from flwd.entrypoints.cli.handoff import hand_off
from flwd.entrypoints.cli.handoff_server import _accept, handoff_listener
from flwd.entrypoints.cli.handoff_wire import WireLimits
from flwd.entrypoints.container import Container
from tests.unit.http_support import close, fake_runtime, make_container

HELLO = {"v": 1, "job": "hello", "tokens": ["--name", "Ann"]}


@contextlib.contextmanager
def _container(tmp_path: Path, runtime: FakeRuntime) -> Iterator[Container]:
    container = make_container(tmp_path, runtime)
    try:
        yield container
    finally:
        close(container)


@contextlib.contextmanager
def _listening(container: Container, limits: WireLimits = WireLimits()) -> Iterator[str]:
    short = tempfile.mkdtemp(prefix="fh", dir="/tmp")  # a unix socket path is short
    try:
        with handoff_listener(container, f"{short}/resident-x.sock", [], lambda _: None,
                              limits) as path:
            assert path is not None
            yield path
    finally:
        shutil.rmtree(short, ignore_errors=True)


@pytest.fixture
def thread_errors(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What escaped a thread (a traceback on the server's stderr otherwise)."""
    errors: list[str] = []
    monkeypatch.setattr(threading, "excepthook",
                        lambda hook: errors.append(f"{hook.exc_type.__name__}: {hook.exc_value}"))
    return errors


def _connect(path: str, timeout: float = 10.0) -> socket.socket:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(timeout)
    client.connect(path)
    return client


def _line(frame: object) -> bytes:
    return json.dumps(frame).encode() + b"\n"


def _answer(client: socket.socket) -> bytes:
    """Everything the server sends until it hangs up."""
    data = b""
    while chunk := client.recv(65536):
        data += chunk
    return data


def _frames(client: socket.socket) -> list[dict[str, Any]]:
    return [json.loads(line) for line in _answer(client).splitlines()]


def _statuses(container: Container, job: str = "hello") -> list[str]:
    return [run.status for run in
            container.query_runs().page(job_id=job, status=None, limit=10).runs]


def _until(check: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_server_hangs_up_and_serves_on_when_a_request_nests_deeper_than_json_parses(
        tmp_path: Path, thread_errors: list[str]) -> None:
    with _container(tmp_path, fake_runtime()) as container, _listening(container) as path:
        with _connect(path) as client:
            client.sendall(b"[" * 100_000 + b"\n")
            answer = _answer(client)
        code = hand_off(path, "hello", ["--name", "Ann"])

    assert answer == b""
    assert code == 0
    assert thread_errors == []


def test_server_answers_fallback_without_running_when_the_protocol_version_differs(
        tmp_path: Path) -> None:
    with _container(tmp_path, fake_runtime()) as container, _listening(container) as path:
        with _connect(path) as client:
            client.sendall(_line({**HELLO, "v": 99}))
            frames = _frames(client)

    assert [list(frame) for frame in frames] == [["fallback"]]
    assert _statuses(container) == []


def test_server_hangs_up_without_running_when_tokens_are_not_strings(tmp_path: Path) -> None:
    with _container(tmp_path, fake_runtime()) as container, _listening(container) as path:
        with _connect(path) as client:
            client.sendall(_line({**HELLO, "tokens": ["--name", {"a": 1}]}))
            answer = _answer(client)

    assert answer == b""
    assert _statuses(container) == []


def test_server_answers_fallback_at_once_when_the_command_line_has_too_many_tokens(
        tmp_path: Path) -> None:
    """The job parser's time grows faster than the number of tokens: a huge command line
    runs on the client's own time, not the server's."""
    limits = WireLimits(max_tokens=10)
    with _container(tmp_path, fake_runtime()) as container, _listening(container, limits) as path:
        with _connect(path) as client:
            client.sendall(_line({**HELLO, "tokens": ["--name", "Ann"] * 6}))
            frames = _frames(client)

    assert [list(frame) for frame in frames] == [["fallback"]]
    assert _statuses(container) == []


def test_server_hangs_up_when_no_request_comes_in_time(tmp_path: Path) -> None:
    limits = WireLimits(request_seconds=0.2)
    with _container(tmp_path, fake_runtime()) as container, _listening(container, limits) as path:
        with _connect(path) as client:
            answer = _answer(client)  # a timeout (OSError) here: the server waits forever

    assert answer == b""


def test_connections_beyond_the_waiting_bound_are_hung_up_on_and_later_ones_served(
        tmp_path: Path) -> None:
    limits = WireLimits(max_waiting=2, request_seconds=30)
    with _container(tmp_path, fake_runtime()) as container, _listening(container, limits) as path:
        idle = [_connect(path), _connect(path)]
        with _connect(path) as third:
            refused = _answer(third)
        for client in idle:
            client.close()
        served = _until(lambda: hand_off(path, "hello", ["--name", "Ann"]) == 0)

    assert refused == b""
    assert served


def test_signal_reader_stops_reading_when_a_line_never_ends(tmp_path: Path) -> None:
    """A line without end after the request is not buffered whole (memory): the server
    stops reading it, and the sender blocks on a full socket."""
    attempted, sent = 32 << 20, 0
    with _container(tmp_path, fake_runtime(run_seconds=30)) as container, \
            _listening(container) as path:
        with _connect(path, timeout=2.0) as client:
            client.sendall(_line({**HELLO, "tokens": ["--name", "Ann", "--json"]}))
            with contextlib.suppress(OSError):  # the timeout of a blocked send
                while sent < attempted:
                    client.sendall(b"x" * 65536)
                    sent += 65536

    assert sent < attempted // 4


def test_run_ends_recorded_when_the_client_stops_reading(tmp_path: Path) -> None:
    runtime = fake_runtime(lines=tuple(f"line {n} " + "x" * 100 for n in range(20_000)))
    limits = WireLimits(max_pending=64 << 10, stall_seconds=0.5)
    with _container(tmp_path, runtime) as container, _listening(container, limits) as path:
        with _connect(path, timeout=60) as client:
            client.sendall(_line(HELLO))  # and reads nothing
            ended = _until(lambda: _statuses(container) == ["succeeded"], timeout=60)
            frames = _frames(client)

    assert ended
    assert "exit" not in frames[-1]  # hung up on: the client cannot report a success


def test_client_gets_no_run_when_it_hangs_up_before_the_hand_over(tmp_path: Path) -> None:
    with _container(tmp_path, fake_runtime()) as container:
        with _listening(container) as path:
            client = _connect(path)
            client.sendall(_line(HELLO))
            client.close()
            recorded = _until(lambda: bool(_statuses(container)), timeout=2)
        # leaving the listener waited for that connection's end

        assert not recorded
        assert _statuses(container) == []


def test_run_goes_on_to_its_end_when_the_client_vanishes_after_the_hand_over(
        tmp_path: Path, thread_errors: list[str]) -> None:
    with _container(tmp_path, fake_runtime(run_seconds=0.5)) as container, \
            _listening(container) as path:
        with _connect(path) as client:
            client.sendall(_line(HELLO))
            assert client.recv(100).startswith(b'{"handed": true}')
        ended = _until(lambda: _statuses(container) == ["succeeded"])

    assert ended
    assert thread_errors == []


def test_client_exits_with_the_runs_status_when_its_stdout_is_a_closed_pipe(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As in-process (``flwd JOB | head -0``): the run is followed to its end."""
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    with _container(tmp_path, fake_runtime()) as container, _listening(container) as path:
        code = hand_off(path, "hello", ["--name", "Ann"])

        assert code == 0
        assert _statuses(container) == ["succeeded"]


class _ClosedPipe:
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    def isatty(self) -> bool:
        return False


def test_client_gets_its_run_canceled_when_the_server_stops_mid_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    codes: list[int | None] = []
    with _container(tmp_path, fake_runtime(run_seconds=30)) as container:
        with _listening(container) as path:
            client = threading.Thread(
                target=lambda: codes.append(hand_off(path, "hello", ["--name", "Ann"])))
            client.start()
            assert _until(lambda: _statuses(container) == ["running"])
        client.join(timeout=10)

        assert codes == [130]
        assert _statuses(container) == ["canceled"]
    assert "canceled" in capsys.readouterr().err


@pytest.mark.parametrize("signal", [b'{"signal": "x"}', b'{"signal": -3}', b'{"signal": true}',
                                    b"[1]", b'{"other": 1}'])
def test_frames_that_are_no_signal_cancel_nothing(tmp_path: Path, signal: bytes) -> None:
    with _container(tmp_path, fake_runtime()) as container, _listening(container) as path:
        with _connect(path) as client:
            client.sendall(_line(HELLO) + signal + b"\n")
            frames = _frames(client)

    assert frames[-1] == {"exit": 0}
    assert _statuses(container) == ["succeeded"]


def test_signal_before_the_hand_over_cancels_the_run_before_it_starts(tmp_path: Path) -> None:
    runtime = fake_runtime()
    with _container(tmp_path, runtime) as container, _listening(container) as path:
        with _connect(path) as client:
            client.sendall(_line(HELLO) + b'{"signal": 1}\n')
            frames = _frames(client)

    assert frames[-1] == {"exit": 130}
    assert _statuses(container) == ["canceled"]
    assert runtime.started == []


def test_stopping_listener_hangs_up_at_once_on_connections_yet_to_send_a_request(
        tmp_path: Path) -> None:
    limits = WireLimits(request_seconds=60)
    with _container(tmp_path, fake_runtime()) as container:
        with _listening(container, limits) as path:
            idle = _connect(path)
            assert _until(lambda: hand_off(path, "hello", ["--name", "Ann"]) == 0)
        with idle:
            answer = _answer(idle)  # a timeout (OSError) here: held until its request comes

    assert answer == b""


class _Listener:
    """A listening socket whose accept fails as when the process is out of descriptors,
    then hands over *conns*, then is closed."""

    def __init__(self, conns: list[object], taken: list[object]) -> None:
        self.results: list[object] = [OSError(errno.EMFILE, "Too many open files"), *conns]
        self.taken = taken
        self.stopped = False

    def accept(self) -> tuple[object, None]:
        if not self.results:
            self.stopped = True
            raise OSError(errno.EBADF, "Bad file descriptor")
        result = self.results.pop(0)
        if isinstance(result, OSError):
            raise result
        return result, None

    def take(self, conn: object) -> None:
        self.taken.append(conn)


def test_listener_takes_connections_again_when_an_accept_fails_for_want_of_descriptors() -> None:
    taken: list[object] = []
    listener = _Listener(["conn"], taken)

    _accept(listener, listener)  # type: ignore[arg-type]

    assert taken == ["conn"]


def test_a_clients_signals_stop_its_own_run_only_also_after_it_ended(tmp_path: Path) -> None:
    codes: list[int | None] = []
    with _container(tmp_path, fake_runtime(run_seconds=1.0)) as container, \
            _listening(container) as path:
        other = threading.Thread(
            target=lambda: codes.append(hand_off(path, "hello", ["--name", "Bo"])))
        other.start()
        assert _until(lambda: "running" in _statuses(container))
        with _connect(path) as client:
            client.sendall(_line(HELLO) + b'{"signal": 1}\n')
            frames = _frames(client)
            with contextlib.suppress(OSError):  # after its end: to a closed connection
                client.sendall(b'{"signal": 2}\n')
        other.join(timeout=20)

    assert frames[-1] == {"exit": 130}
    assert codes == [0]
    assert sorted(_statuses(container)) == ["canceled", "succeeded"]


def test_server_hangs_up_when_the_request_trickles_in_beyond_its_time(tmp_path: Path) -> None:
    limits = WireLimits(request_seconds=0.5)
    started = time.monotonic()
    with _container(tmp_path, fake_runtime()) as container, _listening(container, limits) as path:
        with _connect(path) as client:
            with contextlib.suppress(OSError):  # hung up on: the send fails
                while time.monotonic() - started < 30:
                    client.sendall(b" ")
                    time.sleep(0.1)
            trickled = time.monotonic() - started

    assert trickled < 15
