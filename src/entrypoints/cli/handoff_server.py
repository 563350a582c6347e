"""The server's side of ``flwd JOB`` handed off whole (``cli.handoff``): a second 0600 unix
socket beside the resident API socket. Each connection is one command line, run here as the
CLI runs it in-process (the same parser, secrets rules, printer, errors and exit statuses)
but through this server's use cases, so the run is the server's like any API run: its slots,
its drain on SIGTERM, its SSE clients.

Frames are JSON lines: ``{"o": text}`` / ``{"e": text}`` for stdout/stderr, ``{"handed":
true}`` once the run is submitted, ``{"exit": status}`` last, or ``{"fallback": why}`` (and
nothing else) when the client itself must run the command: a secret to read from a file,
standard input or a prompt, another protocol version, a command line too long, a server
stopping. The client sends ``{"signal": n}`` for its n-th stop signal: the first cancels
the run, the second kills it. A client that goes away before the hand-over gets no run; one
that goes away after it leaves the run running, recorded, as a detached one. Anything else
on the socket (no request within ``request_seconds``, not JSON, not a request) is hung up
on; the connection's bounds are ``handoff_wire.WireLimits``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Iterator, Sequence, TextIO, cast

from flwd.entrypoints.cli.handoff import PROTOCOL
from flwd.entrypoints.cli.handoff_backend import ClientSecrets, Fallback, HandOffBackend
from flwd.entrypoints.cli.handoff_wire import (
    Frames,
    Signals,
    Stream,
    WireLimits,
    parse_json,
    peer_closed,
)
from flwd.entrypoints.cli.render import Io
from flwd.entrypoints.resident import (
    PeerCheckedSocket,
    handoff_path,
    listen_resident,
    remove_resident,
)

if TYPE_CHECKING:
    from flwd.entrypoints.container import Container
    from flwd.ports.events import EventListener

_MAX_REQUEST_BYTES = 1 << 20
_ACCEPT_RETRY_SECONDS = 0.1
# a stopping server waits this long beyond the cancel grace for its runs' last frames
_STOP_EXTRA_SECONDS = 5.0

__all__ = ["Fallback", "handoff_listener"]


@contextlib.contextmanager
def handoff_listener(container: Container, api_path: str, listeners: Sequence[EventListener],
                     on_denied: Callable[[str], None],
                     limits: WireLimits = WireLimits()) -> Iterator[str | None]:
    """Take command lines beside the API socket *api_path* while the block runs; yields the
    path, or None when it cannot be had (``flwd JOB`` then uses the API socket). Leaving the
    block takes no more: a run not yet handed over goes back to its client (fallback), the
    runs handed over are canceled, and their clients get their last frames (waiting at most
    the cancel grace and a few seconds)."""
    path = handoff_path(api_path)
    try:
        sock = listen_resident(path)
    except OSError:
        yield None
        return
    runner = _Runner(container, listeners, on_denied, limits)
    accepting = threading.Thread(target=_accept, args=(sock, runner), daemon=True,
                                 name="flwd-handoff")
    accepting.start()
    try:
        yield path
    finally:
        runner.stopped = True
        remove_resident(path, sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        accepting.join(timeout=5)
        runner.stop(float(container.config.cancel_grace()) + _STOP_EXTRA_SECONDS)


def _accept(sock: PeerCheckedSocket, runner: _Runner) -> None:
    while not runner.stopped:
        try:
            conn, _ = sock.accept()  # another user's connection is dropped in accept
        except OSError:  # closed (the server is stopping), or out of descriptors for now
            time.sleep(0 if runner.stopped else _ACCEPT_RETRY_SECONDS)
            continue
        runner.take(conn)


class _Runner:
    """The connections of one listener: how many are yet to send their request, which
    ones hold a run, and the stop."""

    def __init__(self, container: Container, listeners: Sequence[EventListener],
                 on_denied: Callable[[str], None], limits: WireLimits) -> None:
        self.container = container
        self.listeners: Sequence[EventListener] = tuple(listeners)
        self.on_denied = on_denied
        self.limits = limits
        self.stopped = False
        self._lock = threading.Lock()
        self._sessions: set[_Session] = set()
        self._waiting: set[_Session] = set()

    def take(self, conn: socket.socket) -> None:
        session = _Session(self, conn)
        with self._lock:
            admitted = not self.stopped and len(self._waiting) < self.limits.max_waiting
            if admitted:
                self._sessions.add(session)
                self._waiting.add(session)
        try:
            if admitted:
                threading.Thread(target=session.serve, daemon=True,
                                 name="flwd-handoff-run").start()
                return
        except RuntimeError:  # no thread to be had: hung up on, as when too many wait
            self.ended(session)
        conn.close()

    def requested(self, session: _Session) -> None:
        with self._lock:
            self._waiting.discard(session)

    def hand_over(self, session: _Session) -> bool:
        """Whether *session* may submit its run (not once the listener stops)."""
        with self._lock:
            session.handed = not self.stopped
            return session.handed

    def ended(self, session: _Session) -> None:
        with self._lock:
            self._sessions.discard(session)
            self._waiting.discard(session)

    def stop(self, wait_seconds: float) -> None:
        """No more runs; their runs canceled (each session's wait sees ``stopped``), wait
        up to *wait_seconds* for every session's end, then hang up on what is left."""
        with self._lock:
            self.stopped = True
            sessions = list(self._sessions)
        for session in sessions:
            if not session.handed:  # no request yet: EOF now; validating: fallback anyway
                session.stop_reading()
        deadline = time.monotonic() + wait_seconds
        for session in sessions:
            session.done.wait(max(0.0, deadline - time.monotonic()))
        for session in sessions:
            session.frames.hang_up()  # a stalled client no longer holds its run


class _Session:
    """One connection: its request read (within ``request_seconds``), then one command."""

    def __init__(self, runner: _Runner, conn: socket.socket) -> None:
        self.runner, self.conn = runner, conn
        self.frames = Frames(conn, runner.limits)
        self.handed = False
        self.done = threading.Event()

    def serve(self) -> None:
        try:
            with self.conn, self.conn.makefile("rb") as reader:
                try:
                    request = self._request(reader)
                    if isinstance(request, str):
                        self.frames.fall_back(request)
                        self.frames.finish()
                    elif request is not None:
                        self._answer(reader, request)
                finally:
                    self.frames.hang_up()  # ends the writer; wakes the signal reader: EOF
        except OSError:
            pass  # the client went away: its run, if any, goes on
        finally:
            self.runner.ended(self)
            self.done.set()

    def _request(self, reader: BinaryIO) -> dict[str, Any] | str | None:
        """The request; a reason to answer fallback; None: hang up. The line must be whole
        within ``request_seconds`` (a client sending it a byte at a time included)."""
        late = threading.Timer(self.runner.limits.request_seconds, self.stop_reading)
        late.daemon = True
        late.start()
        try:
            line = reader.readline(_MAX_REQUEST_BYTES)
        finally:
            late.cancel()
            self.runner.requested(self)
        request = parse_json(line)
        if (not isinstance(request, dict) or not isinstance(request.get("job"), str)
                or not isinstance(request.get("tokens"), list)
                or not all(isinstance(token, str) for token in request["tokens"])):
            return None
        if request.get("v") != PROTOCOL:
            return f"this resident flwd speaks hand-off protocol {PROTOCOL}"
        if len(request["tokens"]) > self.runner.limits.max_tokens:
            return "the command line is too long to hand off"
        return request

    def stop_reading(self) -> None:
        with contextlib.suppress(OSError):  # the request's read ends, short: hung up on
            self.conn.shutdown(socket.SHUT_RD)

    def _answer(self, reader: BinaryIO, request: dict[str, Any]) -> None:
        from flwd.entrypoints.cli.commands import run_job
        from flwd.entrypoints.cli.main import reporting_errors

        signals = Signals(reader)
        tty = request["tty"] if isinstance(request.get("tty"), dict) else {}
        console = Io(out=cast(TextIO, Stream(self.frames, "o", bool(tty.get("stdout")))),
                     err=cast(TextIO, Stream(self.frames, "e", bool(tty.get("stderr")))),
                     secrets=ClientSecrets(bool(tty.get("stdin"))))
        backend = HandOffBackend(self.runner, console, signals, self._hand_over)
        job, tokens = request["job"], list(request["tokens"])
        try:
            code = reporting_errors(console, lambda: run_job(backend, job, tokens, console),
                                    passing=(Fallback,))
        except Fallback as why:
            self.frames.fall_back(str(why))
        else:
            self.frames.end(code)
        self.frames.finish()

    def _hand_over(self) -> None:
        """Just before the run is submitted: raises ``Fallback`` when the client is gone (it
        gets no run) or the server stops taking runs (the client runs it)."""
        if not self.runner.hand_over(self):
            raise Fallback("the resident flwd is stopping")
        if peer_closed(self.conn):
            raise Fallback("the client hung up before its run was handed over")
        self.frames.hand()
