"""The server's side of ``flwd JOB`` handed off whole (``cli.handoff``): a second 0600 unix
socket beside the resident API socket. Each connection is one command line, run here as the
CLI runs it in-process (the same parser, secrets rules, printer, errors and exit statuses)
but through this server's use cases, so the run is the server's like any API run: its slots,
its drain on SIGTERM, its SSE clients.

Frames are JSON lines: ``{"o": text}`` / ``{"e": text}`` for stdout/stderr, ``{"handed":
true}`` once the run is submitted, ``{"exit": status}`` last, or ``{"fallback": why}`` (and
nothing else) when the client itself must run the command: a secret to read from a file,
standard input or a prompt. The client sends ``{"signal": n}`` for its n-th stop signal:
the first cancels the run, the second kills it. A client that goes away leaves the run
running, recorded, as a detached one.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import threading
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Iterator, Sequence, TextIO, cast

from flwd.domain.errors import PolicyDeniedError
from flwd.domain.model import JobSpec
from flwd.domain.plan.use_cases import RunRequest
from flwd.entrypoints.cli.render import EventPrinter, Io
from flwd.entrypoints.resident import (
    PeerCheckedSocket,
    handoff_path,
    listen_resident,
    remove_resident,
)

if TYPE_CHECKING:
    from flwd.domain.run.start import StartedRun
    from flwd.entrypoints.container import Container
    from flwd.ports.events import EventListener
    from flwd.ports.store import RunRecord

_MAX_REQUEST_BYTES = 1 << 20
_SIGNAL_POLL_SECONDS = 0.2


class Fallback(Exception):
    """The command needs what only the client has (its files, its standard input, its
    terminal): the client runs it itself."""


@contextlib.contextmanager
def handoff_listener(container: Container, api_path: str, listeners: Sequence[EventListener],
                     on_denied: Callable[[str], None]) -> Iterator[str | None]:
    """Take command lines beside the API socket *api_path* while the block runs; yields the
    path, or None when it cannot be had (``flwd JOB`` then uses the API socket)."""
    path = handoff_path(api_path)
    try:
        sock = listen_resident(path)
    except OSError:
        yield None
        return
    runner = _Runner(container, listeners, on_denied)
    accepting = threading.Thread(target=_accept, args=(sock, runner), daemon=True,
                                 name="flwd-handoff")
    accepting.start()
    try:
        yield path
    finally:
        remove_resident(path, sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        accepting.join(timeout=5)


def _accept(sock: PeerCheckedSocket, runner: _Runner) -> None:
    while True:
        try:
            conn, _ = sock.accept()  # another user's connection is dropped in accept
        except OSError:
            return  # closed: the server is stopping
        threading.Thread(target=runner.serve, args=(conn,), daemon=True,
                         name="flwd-handoff-run").start()


class _Runner:
    def __init__(self, container: Container, listeners: Sequence[EventListener],
                 on_denied: Callable[[str], None]) -> None:
        self.container = container
        self.listeners = tuple(listeners)
        self.on_denied = on_denied

    def serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as reader:
            try:
                request = _request(reader)
                if request is not None:
                    self._run(conn, reader, request)
            finally:
                with contextlib.suppress(OSError):  # wakes the signal reader: EOF
                    conn.shutdown(socket.SHUT_RDWR)

    def _run(self, conn: socket.socket, reader: BinaryIO, request: dict[str, Any]) -> None:
        from flwd.entrypoints.cli.commands import run_job
        from flwd.entrypoints.cli.main import reporting_errors

        frames = _Frames(conn)
        signals = _Signals(reader)
        tty = request["tty"] if isinstance(request.get("tty"), dict) else {}
        console = Io(out=cast(TextIO, _Stream(frames, "o", bool(tty.get("stdout")))),
                     err=cast(TextIO, _Stream(frames, "e", bool(tty.get("stderr")))),
                     secrets=_ClientSecrets(bool(tty.get("stdin"))))
        backend = _Backend(self, console, frames, signals)
        job, tokens = request["job"], [str(token) for token in request["tokens"]]
        try:
            code = reporting_errors(console, lambda: run_job(backend, job, tokens, console),
                                    passing=(Fallback,))
        except Fallback as why:
            frames.fall_back(str(why))
            return
        frames.end(code)


def _request(reader: BinaryIO) -> dict[str, Any] | None:
    line = reader.readline(_MAX_REQUEST_BYTES)
    try:
        request = json.loads(line)
    except ValueError:
        return None
    if (not isinstance(request, dict) or not isinstance(request.get("job"), str)
            or not isinstance(request.get("tokens"), list)):
        return None
    return request


class _Backend:
    """What ``commands.run_job`` needs, on this server's use cases."""

    def __init__(self, runner: _Runner, console: Io, frames: _Frames,
                 signals: _Signals) -> None:
        self._runner, self._io, self._frames, self._signals = runner, console, frames, signals

    def get_job(self, job_id: str) -> JobSpec:
        return self._runner.container.list_jobs().find(job_id)

    def run(self, job: JobSpec, args: dict[str, object], profile: str | None, *,
            printer: EventPrinter, detach: bool) -> RunRecord:
        container = self._runner.container
        request = RunRequest(job=job.id, args=args, from_text=True, requested_profile=profile)
        start = container.start_run()
        self._frames.hand()
        try:
            started = start(request, listeners=[printer, *self._runner.listeners],
                            stop_requested=lambda: self._signals.count > 0)
        except PolicyDeniedError as exc:
            self._runner.on_denied(exc.code)
            run_id = str(exc.context.get("run_id", ""))
            for event in container.query_runs().events(run_id) if run_id else ():
                printer(event)  # as in-process: the denied run's recorded events first
            raise
        return started.record if detach else self._wait(started)

    def _wait(self, started: StartedRun) -> RunRecord:
        """The run's end; the client's first stop signal cancels it, the second kills it."""
        from flwd.entrypoints.cli.local import stop_run

        acted = 0
        while True:
            for _ in range(acted, self._signals.count):
                acted += 1
                stop_run(started, acted, self._io.err)
            try:
                return started.result(timeout=_SIGNAL_POLL_SECONDS)
            except TimeoutError:
                continue


class _Frames:
    """JSON lines to the client, held back until the run is handed over or the command ends
    (so that a fallback sends nothing else); what its streams hold unflushed goes out first
    then. A client gone away is not written to again."""

    def __init__(self, conn: socket.socket) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self._held: list[bytes] | None = []
        self._gone = False
        self.streams: list[_Stream] = []

    def send(self, frame: dict[str, Any]) -> None:
        data = (json.dumps(frame, ensure_ascii=False) + "\n").encode()
        with self._lock:
            if self._held is not None:
                self._held.append(data)
            else:
                self._write(data)

    def hand(self) -> None:
        """The run is about to be submitted: from now on everything goes out at once."""
        self._flush_streams()
        self.send({"handed": True})
        self._release()

    def end(self, code: int) -> None:
        self._flush_streams()
        self.send({"exit": code})
        self._release()

    def _flush_streams(self) -> None:
        for stream in self.streams:
            stream.flush()

    def fall_back(self, why: str) -> None:
        with self._lock:
            self._held = None
            self._write((json.dumps({"fallback": why}) + "\n").encode())

    def _release(self) -> None:
        with self._lock:
            held, self._held = self._held or [], None
            self._write(b"".join(held))

    def _write(self, data: bytes) -> None:
        if self._gone or not data:
            return
        try:
            self._conn.sendall(data)
        except OSError:
            self._gone = True  # the run goes on, recorded; nobody prints it any more


class _Stream(io.TextIOBase):
    """stdout or stderr of the client, as a text stream of frames: what is written goes out
    when it is flushed (the client flushes each frame), as a process's own streams do."""

    def __init__(self, frames: _Frames, key: str, tty: bool) -> None:
        super().__init__()
        self._frames, self._key, self._tty = frames, key, tty
        self._pending: list[str] = []
        self._lock = threading.Lock()
        frames.streams.append(self)

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            self._pending.append(text)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            text, self._pending = "".join(self._pending), []
        if text:
            self._frames.send({self._key: text})

    def isatty(self) -> bool:
        return self._tty


class _Signals:
    """Counts the stop signals the client passes on (a thread reads its side of the socket)."""

    def __init__(self, reader: BinaryIO) -> None:
        self.count = 0
        self._reader = reader
        threading.Thread(target=self._read, daemon=True, name="flwd-handoff-signals").start()

    def _read(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            for line in self._reader:
                frame = json.loads(line)
                if isinstance(frame, dict) and "signal" in frame:
                    self.count += 1


class _ClientSecrets:
    """``SecretInput`` of a client that is elsewhere: anything to read is the client's."""

    def __init__(self, interactive: bool) -> None:
        self._interactive = interactive

    def read_file(self, path: str, limit: int) -> bytes:
        raise Fallback("a secret is read from a file")

    def read_stdin(self, limit: int) -> bytes:
        raise Fallback("a secret is read from standard input")

    def interactive(self) -> bool:
        return self._interactive

    def prompt(self, text: str) -> str:
        raise Fallback("a secret is prompted for")
