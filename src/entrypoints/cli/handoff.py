"""``flwd JOB`` handed whole to a resident local flwd (``flwd :serve``): the command line goes
to the server's hand-off socket, beside its API socket in the data directory, and the server
parses, validates, plans and runs it exactly as this process would (``cli.handoff_server``),
sending back what to print and the exit status. This side imports only what it needs of the
standard library (no SDK, no domain model, no HTTP client), so a run costs little more than
the runtime's own CLI.

Ctrl-C (or SIGTERM/SIGHUP) is passed on: once cancels the run gracefully, twice kills it, as
in-process. What the server cannot do on this side's behalf (read a secret from a file,
standard input or a prompt) comes back as a fallback before anything is recorded or printed:
the command then runs the usual way (``None`` here).
"""

from __future__ import annotations

import json
import signal
import socket
import sys
from typing import IO, Any, Sequence

PROTOCOL = 1
_CONNECT_TIMEOUT = 1.0
# the server hung up after taking the run: it was stopped or killed, or it gave up on this side
# for not reading (exit 125, as for any failure of flwd itself); the run is the server's,
# recorded, and ends however that server ends it
_GONE = ("error[server.unreachable]: the resident flwd hung up before the run ended (it "
         "stopped, or this side stopped reading); `flwd :runs` shows how the run ended\n")
_EXIT_FLWD = 125
_EXIT_CANCELED = 130
_STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


class RunHere(Exception):
    """The server answered that this side must run the command (it holds what is needed)."""


def hand_off(path: str, job: str, tokens: Sequence[str]) -> int | None:
    """The exit status of the command ``flwd JOB TOKENS`` as the server listening on *path*
    ran it; None when nothing answers there for this user alone. Raises ``RunHere`` when the
    server answered that this side must run it."""
    sock = _connect(path)
    if sock is None:
        return None
    with sock:
        request = {"v": PROTOCOL, "job": job, "tokens": list(tokens), "tty": _terminals()}
        try:
            sock.sendall(json.dumps(request).encode() + b"\n")
        except OSError:
            return None
        return _Session(sock).follow()


def _connect(path: str) -> socket.socket | None:
    """A connection to *path* if it is a socket of this user's, mode 0600 or stricter."""
    from flwd.entrypoints.resident import owner_only_socket

    if not owner_only_socket(path):
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(_CONNECT_TIMEOUT)
        sock.connect(path)
        sock.settimeout(None)
    except OSError:
        sock.close()
        return None
    return sock


def _terminals() -> dict[str, bool]:
    return {name: _isatty(stream) for name, stream in
            (("stdin", sys.stdin), ("stdout", sys.stdout), ("stderr", sys.stderr))}


def _isatty(stream: IO[str] | None) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (OSError, ValueError):
        return False


class _Session:
    """Prints the server's frames until its exit status; passes stop signals on meanwhile."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._handed = False  # the server took the run: no falling back from here on
        self._signals = 0
        self._closed: list[IO[str]] = []  # streams whose reader went away

    def follow(self) -> int | None:
        previous = {name: self._catch(name) for name in _STOP_SIGNALS if hasattr(signal, name)}
        try:
            return self._frames()
        finally:
            for name, handler in previous.items():
                if handler is not None:
                    signal.signal(getattr(signal, name), handler)

    def _catch(self, name: str) -> Any:
        try:
            return signal.signal(getattr(signal, name), self._stop)
        except (OSError, ValueError):  # not the main thread: no signals to pass on
            return None

    def _stop(self, _signum: int, _frame: object) -> None:
        self._signals += 1
        try:
            self._sock.sendall(b'{"signal": %d}\n' % self._signals)
        except OSError:
            pass  # the server is gone: the read below says so

    def _frames(self) -> int | None:
        try:
            for line in self._sock.makefile("rb"):
                frame = json.loads(line)
                if "exit" in frame:
                    return int(frame["exit"])
                if "fallback" in frame and not self._handed:
                    if self._signals:
                        return _EXIT_CANCELED  # stopped before anything ran
                    raise RunHere(str(frame["fallback"]))
                self._handed = True  # output shown, or the run taken: this side cannot redo it
                if "o" in frame:
                    self._print(sys.stdout, frame["o"])
                elif "e" in frame:
                    self._print(sys.stderr, frame["e"])
        except (OSError, ValueError, TypeError):
            pass  # a connection cut, or a frame that is not one: the server went away
        if not self._handed:
            return _EXIT_CANCELED if self._signals else None
        self._print(sys.stderr, _GONE)
        return _EXIT_FLWD

    def _print(self, stream: IO[str], text: str) -> None:
        """*text* on *stream*, flushed (a frame is what the server side flushed). A stream
        that fails (its reader went away, as with ``| head``) gets nothing more, and the run
        is followed to its end and exit status all the same, as in-process."""
        if stream in self._closed:
            return
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):
            self._closed.append(stream)
