"""The CLI's remote mode against a real (in-thread) server with the fake runtime: same output
and exit codes as the local mode."""

from __future__ import annotations

import asyncio
import io as stdio
import itertools
import json
import re
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator, TextIO

import httpx
import pytest
from litestar import Litestar

from flwd.adapters.fake_runtime import FakeRuntime
from flwd.entrypoints.cli.main import main
from flwd.entrypoints.cli.render import Io
from flwd.entrypoints.container import Container
from tests.conftest import TEST_IMAGE
from tests.unit.http_support import (
    ADMIN,
    auth,
    close,
    fake_runtime,
    make_app,
    make_container,
    served,
    slow_server,  # noqa: F401 - a fixture
)

HELLO = {"job": "hello", "args": {"name": "Alice"}}


def _remote(base: str, *argv: str, io: Io | None = None) -> tuple[int, str, str]:
    io = io or Io(out=stdio.StringIO(), err=stdio.StringIO())
    code = main(["--server", base, "--token", ADMIN, *argv], io, {"HOME": "/nonexistent"})
    return code, _text(io.out), _text(io.err)


def _text(stream: TextIO) -> str:
    assert isinstance(stream, stdio.StringIO)
    return stream.getvalue()


def _wait_running(base: str, run_id: str) -> None:
    deadline = time.monotonic() + 10
    while httpx.get(f"{base}/runs/{run_id}", headers=auth()).json()["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_logs_without_follow_prints_output_so_far_and_returns_when_run_is_active(
        slow_server: str) -> None:
    run_id = httpx.post(f"{slow_server}/runs", json=HELLO, headers=auth()).json()["run_id"]
    _wait_running(slow_server, run_id)
    started = time.monotonic()

    code, out, _ = _remote(slow_server, ":logs", run_id)

    assert code == 0 and out == "hello Alice\n"
    assert time.monotonic() - started < 5


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Container]]:
    container = make_container(tmp_path, fake_runtime())
    with served(make_app(container)) as base:
        yield base, container
    close(container)


def _local(container: Container, *argv: str, io: Io | None = None) -> tuple[int, str, str]:
    io = io or Io(out=stdio.StringIO(), err=stdio.StringIO())
    code = main(list(argv), io, {"HOME": "/nonexistent"}, container=container)
    return code, _text(io.out), _text(io.err)


def _types(ndjson: str) -> list[str]:
    return [json.loads(line)["type"] for line in ndjson.splitlines()]


def test_json_run_denied_by_policy_prints_its_events_as_locally(
        server: tuple[str, Container]) -> None:
    base, container = server

    local = _local(container, "netty", "--json")
    remote = _remote(base, "netty", "--json")

    assert remote[0] == local[0] == 125 and remote[2] == local[2]
    assert _types(remote[1]) == _types(local[1]) and _types(local[1])[-1] == "run.finished"


def test_remote_plan_prints_the_spec_warnings_as_locally(slow_server: str, tmp_path: Path) -> None:
    typo = tmp_path / "jobs" / "typo"
    typo.mkdir()
    (typo / "job.yaml").write_text("executor: container\nimage: alpine:3.20\ntimout: 10m\n")

    code, out, err = _remote(slow_server, ":plan", "typo", "--json")

    assert code == 0 and json.loads(out)["job_id"] == "typo"
    assert ("warning[spec.key.unknown]: job typo: unknown key 'timout' ignored; "
            "did you mean 'timeout'?") in err.splitlines()


# --- every end state: the same stderr, stdout and exit code as locally ------------------

RUN_ID = re.compile(r"\b[0-9a-f]{12}\b")
# a second Ctrl-C cannot kill a remote run (there is no kill endpoint): the remote mode says
# what it does instead, where the local mode says "kill"
COUNTERPARTS = {
    "flwd: canceling on the server (Ctrl-C again to stop waiting)":
        "flwd: canceling (Ctrl-C again to kill)",
    "flwd: stopped waiting; run RUN may still be ending on the server": "flwd: killing",
}
RUN_FINISHED = '"type": "run.finished"'
QUICK = "executor: container\nimage: alpine:3.20\ntimeout: 0.3s\n"


class _SigtermIgnoringRuntime:
    """The fake runtime whose containers, while ``stubborn``, ignore SIGTERM: a graceful stop
    waits (as a real runtime waits out the grace period) and only a kill ends them early."""

    STOP_SECONDS = 3.0

    def __init__(self, inner: FakeRuntime) -> None:
        self.inner = inner
        self.stubborn = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def stop(self, container_id: str, grace_seconds: float) -> None:
        container = self.inner.containers.get(container_id)
        if self.stubborn and container is not None:
            container.ended.wait(self.STOP_SECONDS)
        self.inner.stop(container_id, grace_seconds)


@dataclass(frozen=True)
class _Side:
    """One place to run jobs: ``flwd`` against this machine, or ``flwd --server``."""

    runtime: _SigtermIgnoringRuntime
    run: Callable[..., int]
    running_run: Callable[[], str]
    cancel: Callable[[str], None]


def _job_side(root: Path) -> tuple[_SigtermIgnoringRuntime, Container]:
    runtime = _SigtermIgnoringRuntime(fake_runtime())
    runtime.inner.images.add(TEST_IMAGE)
    container = make_container(root, runtime)  # type: ignore[arg-type]
    (root / "jobs" / "quick").mkdir()
    (root / "jobs" / "quick" / "job.yaml").write_text(QUICK)
    return runtime, container


@pytest.fixture
def local_side(tmp_path: Path) -> Iterator[_Side]:
    runtime, container = _job_side(tmp_path / "local")
    other = make_container(tmp_path / "local", runtime)  # type: ignore[arg-type]  # another
    # terminal: another flwd on the same data dir

    def running_run() -> str:
        return other.query_runs().page(status="running", limit=1).runs[0].run_id

    def cancel(run_id: str) -> None:
        _local(other, ":cancel", run_id)

    yield _Side(runtime, lambda *argv, io: _local(container, *argv, io=io)[0], running_run, cancel)
    close(container)
    other.store().close()


@pytest.fixture
def remote_side(tmp_path: Path) -> Iterator[_Side]:
    runtime, container = _job_side(tmp_path / "remote")
    with served(make_app(container)) as base:
        def running_run() -> str:
            runs = httpx.get(f"{base}/runs?status=running", headers=auth()).json()["runs"]
            return str(runs[0]["run_id"])

        def cancel(run_id: str) -> None:
            _remote(base, ":cancel", run_id)

        yield _Side(runtime, lambda *argv, io: _remote(base, *argv, io=io)[0], running_run,
                    cancel)
        for container_id in list(runtime.inner.containers):  # the runs nobody waited for
            runtime.inner.kill(container_id)
    close(container)


def _interrupt_main_thread() -> None:
    signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)


def _when(condition: Callable[[], bool], action: Callable[[], None], done: threading.Event,
          ) -> threading.Thread:
    """*action* in a thread once *condition* holds, unless the command has returned (a Ctrl-C
    after that would interrupt the test itself)."""
    def wait_then_act() -> None:
        deadline = time.monotonic() + 10
        while not condition() and time.monotonic() < deadline and not done.is_set():
            time.sleep(0.01)
        if condition() and not done.is_set():
            action()

    thread = threading.Thread(target=wait_then_act, daemon=True)
    thread.start()
    return thread


@dataclass(frozen=True)
class _EndState:
    """How to make a run end one way: the job, the runtime's knobs, what the user does."""

    name: str
    exit_code: int
    job: tuple[str, ...] = ("hello", "--name", "A")
    knobs: tuple[tuple[str, Any], ...] = ()
    interrupts: int = 0  # Ctrl-Cs: once the job printed, a second once the run is stopping
    cancel: bool = False  # `flwd :cancel` from another terminal once the job printed


END_STATES = (
    _EndState("succeeded", 0, knobs=(("run_seconds", 0),)),
    _EndState("failed", 3, knobs=(("exit_code", 3), ("run_seconds", 0))),
    _EndState("timed_out", 124, job=("quick",)),
    _EndState("error", 125, knobs=(("pull_fails", True), ("images", set()))),
    _EndState("canceled by Ctrl-C", 130, interrupts=1),
    _EndState("canceled by :cancel", 130, cancel=True),
    _EndState("canceled by two Ctrl-Cs", 130, interrupts=2),
)
DEFAULT_KNOBS = (("exit_code", 0), ("run_seconds", 30.0), ("pull_fails", False))


def _end_in(side: _Side, state: _EndState, json_mode: bool) -> tuple[int, list[str], list[Any]]:
    """Run a job that ends *state*: its exit code, stderr lines and stdout (normalized)."""
    out, err, done = stdio.StringIO(), stdio.StringIO(), threading.Event()
    for knob, value in DEFAULT_KNOBS + (("images", {TEST_IMAGE}),) + state.knobs:
        setattr(side.runtime.inner, knob, value)
    side.runtime.stubborn = state.interrupts == 2
    senders = _user_actions(side, state, out, err, done)
    try:
        code = side.run(*state.job, *(["--json"] if json_mode else []), io=Io(out=out, err=err))
    finally:
        done.set()
    for sender in senders:
        sender.join()
    stdout = out.getvalue()
    if state.interrupts == 2:  # the remote mode stops waiting before the end
        stdout = "\n".join(line for line in stdout.splitlines() if RUN_FINISHED not in line)
    return code, _lines(err.getvalue()), _events(stdout) if json_mode else _lines(stdout)


def _user_actions(side: _Side, state: _EndState, out: stdio.StringIO, err: stdio.StringIO,
                  done: threading.Event) -> list[threading.Thread]:
    def printed() -> bool:
        return "hello Alice" in out.getvalue()

    def stopping() -> bool:
        return ("canceled, stopping the container" in err.getvalue()
                or '"type": "run.canceled"' in out.getvalue())

    if state.cancel:
        return [_when(printed, lambda: side.cancel(side.running_run()), done)]
    return [_when(condition, _interrupt_main_thread, done)
            for condition in (printed, stopping)[:state.interrupts]]


def _lines(text: str) -> list[str]:
    lines = [RUN_ID.sub("RUN", line) for line in text.splitlines()]
    return [COUNTERPARTS.get(line, line) for line in lines]


def _events(ndjson: str) -> list[tuple[str, dict[str, Any]]]:
    """Each event's type and data, without what differs from run to run."""
    events = [json.loads(line) for line in ndjson.splitlines()]
    varying = ("container", "duration_ms")
    return [(e["type"], {k: v for k, v in e["data"].items() if k not in varying}) for e in events]


def test_a_remote_run_prints_and_exits_as_a_local_run_in_every_end_state(
        local_side: _Side, remote_side: _Side) -> None:
    local = {(state.name, json_mode): _end_in(local_side, state, json_mode)
             for state in END_STATES for json_mode in (False, True)}
    remote = {(state.name, json_mode): _end_in(remote_side, state, json_mode)
              for state in END_STATES for json_mode in (False, True)}

    assert remote == local
    assert {key: result[0] for key, result in remote.items()} == {
        (state.name, json_mode): state.exit_code
        for state in END_STATES for json_mode in (False, True)}


# --- a Ctrl-C while POST /runs is unanswered ----------------------------------------------

CANCELING = "flwd: canceling on the server (Ctrl-C again to stop waiting)"


def _interrupt_the_first_submit(app: Litestar) -> None:
    """Ctrl-C the client while the server holds back its answer to the first POST /runs (the
    run is recorded and handed to a worker by then)."""
    held: list[bool] = []

    async def hold_back(message: dict[str, Any], scope: dict[str, Any]) -> None:
        if (message["type"] == "http.response.start" and scope["method"] == "POST"
                and scope["path"] == "/runs" and not held):
            held.append(True)
            _interrupt_main_thread()
            await asyncio.sleep(0.3)

    app.before_send.append(hold_back)


def test_a_ctrl_c_while_post_runs_is_unanswered_cancels_the_run_it_started(
        tmp_path: Path) -> None:
    container = make_container(tmp_path, fake_runtime(run_seconds=30))
    app = make_app(container)
    _interrupt_the_first_submit(app)
    with served(app) as base:
        code, _, err = _remote(base, "hello", "--name", "A")
        runs = httpx.get(f"{base}/runs", headers=auth()).json()["runs"]
    close(container)

    assert code == 130, err
    assert [run["status"] for run in runs] == ["canceled"]  # the same run, asked for twice
    assert CANCELING in err.splitlines() and "error[" not in err


@contextmanager
def _unanswering_server(job_view: bytes, *, interrupts: int, goes_away: bool) -> Iterator[str]:
    """A server that serves *job_view* for any GET and answers no POST: each of the first
    *interrupts* POSTs Ctrl-Cs the client (a user tired of waiting); *goes_away*: the first
    POST also closes the listening socket, so that nothing can reach the server after it."""
    posts = itertools.count(1)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(job_view)))
            self.end_headers()
            self.wfile.write(job_view)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            number = next(posts)
            if goes_away and number == 1:
                self.server.socket.close()
            if number <= interrupts:
                _interrupt_main_thread()
                time.sleep(0.3)
            self.close_connection = True  # no answer at all

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_ctrl_c_while_post_runs_is_unanswered_says_so_when_the_server_is_gone(
        slow_server: str) -> None:
    job_view = httpx.get(f"{slow_server}/jobs/hello", headers=auth()).content
    with _unanswering_server(job_view, interrupts=1, goes_away=True) as base:
        code, _, err = _remote(base, "hello", "--name", "A")

    errors = [line for line in err.splitlines() if line.startswith("error[")]
    assert code == 125, err
    assert len(errors) == 1 and errors[0].startswith(
        "error[server.unreachable]: interrupted before the server answered, and then cannot "
        f"reach flwd server at {base}")
    assert "a run it may have started is not canceled" in errors[0]


def test_a_second_ctrl_c_before_post_runs_is_answered_stops_waiting(slow_server: str) -> None:
    job_view = httpx.get(f"{slow_server}/jobs/hello", headers=auth()).content
    with _unanswering_server(job_view, interrupts=2, goes_away=False) as base:
        code, _, err = _remote(base, "hello", "--name", "A")

    assert code == 130, err
    assert err.splitlines()[-1] == ("flwd: stopped waiting; a run the server may have started "
                                    "is not canceled (flwd :runs lists it)")
    assert "error[" not in err
