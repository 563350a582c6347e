"""One hand-off connection's wire (``cli.handoff_server``): frames out to the client through a
bounded buffer that a writer thread drains, so a run never waits long on a client that does
not read, and the client's stop signals in, read line by bounded line.

A run's events reach the client's printer from the run's own thread: when the client lags
by more than ``max_pending`` bytes, that thread waits for it, as an in-process run waits on
its terminal; when the client then takes nothing for ``stall_seconds`` (it stopped reading,
or its terminal is suspended), the server hangs up on it and the run goes on, recorded, as a
detached one. The client, reading again, finds the connection cut before the exit status:
``error[server.unreachable]``, exit 125, never a success.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, BinaryIO

_CHUNK_BYTES = 64 << 10
_MAX_SIGNAL_LINE = 256  # {"signal": n} and some room


@dataclass(frozen=True, slots=True, kw_only=True)
class WireLimits:
    """Bounds of one hand-off connection (tests shorten the times)."""

    request_seconds: float = 10.0  # to send the request line once connected
    max_waiting: int = 32  # connections yet to send their request; more are hung up on
    max_tokens: int = 1024  # a longer command line runs on the client's side (fallback)
    max_pending: int = 1 << 20  # frame bytes the client may lag behind before the run waits
    stall_seconds: float = 60.0  # taking nothing that long, the client is hung up on


class Frames:
    """JSON lines to the client, held back until the run is handed over or the command ends
    (so that a fallback sends nothing else); what its streams hold unflushed goes out first
    then. A client gone away, or hung up on, is not written to again."""

    def __init__(self, conn: socket.socket, limits: WireLimits) -> None:
        self._conn, self._limits = conn, limits
        self._ready = threading.Condition()
        self._queue: deque[bytes] = deque()
        self._pending = 0  # bytes queued or being sent
        self._progress_at = time.monotonic()
        self._held, self._closing, self.gone = True, False, False
        self._writer: threading.Thread | None = None
        self.streams: list[Stream] = []

    def send(self, frame: dict[str, Any]) -> None:
        data = (json.dumps(frame, ensure_ascii=False) + "\n").encode()
        with self._ready:
            if self.gone or self._closing:
                return
            self._queue.append(data)
            self._pending += len(data)
            self._ready.notify_all()
            while not self._held and not self.gone and self._pending > self._limits.max_pending:
                self._wait_for_client()

    def hand(self) -> None:
        """The run is about to be submitted: from now on everything goes out as it comes."""
        self._flush_streams()
        self.send({"handed": True})
        self._release()

    def end(self, code: int) -> None:
        self._flush_streams()
        self.send({"exit": code})
        self._release(closing=True)

    def fall_back(self, why: str) -> None:
        with self._ready:
            self._queue.clear()
            self._pending = 0
        self.send({"fallback": why})
        self._release(closing=True)

    def finish(self) -> None:
        """Wait until the client has taken every frame (or is hung up on for stalling)."""
        with self._ready:
            while self._writer is not None and self._pending and not self.gone:
                self._wait_for_client()
        if self._writer is not None:
            self._writer.join()

    def hang_up(self) -> None:
        """Write nothing more: the client is gone, stalled, or the server is stopping."""
        with self._ready:
            self.gone = True
            self._queue.clear()
            self._pending = 0
            self._ready.notify_all()
        with contextlib.suppress(OSError):  # also wakes a writer blocked in sendall
            self._conn.shutdown(socket.SHUT_RDWR)

    def _wait_for_client(self) -> None:
        """One wait for the writer's progress (the condition held); a client that took
        nothing for ``stall_seconds`` is hung up on."""
        left = self._progress_at + self._limits.stall_seconds - time.monotonic()
        if left > 0:
            self._ready.wait(left)
            return
        self._ready.release()
        try:
            self.hang_up()
        finally:
            self._ready.acquire()

    def _flush_streams(self) -> None:
        for stream in self.streams:
            stream.flush()

    def _release(self, closing: bool = False) -> None:
        with self._ready:
            self._held = False
            self._closing = self._closing or closing
            if self._writer is None:
                self._progress_at = time.monotonic()
                self._writer = threading.Thread(target=self._write, daemon=True,
                                                name="flwd-handoff-frames")
                self._writer.start()
            self._ready.notify_all()

    def _write(self) -> None:
        while (data := self._next_chunk()) is not None:
            try:
                self._conn.sendall(data)
            except OSError:
                self.hang_up()
                return
            with self._ready:
                self._pending -= len(data)
                self._progress_at = time.monotonic()
                self._ready.notify_all()

    def _next_chunk(self) -> bytes | None:
        with self._ready:
            while not self._queue and not self._closing and not self.gone:
                self._ready.wait()
            if self.gone or not self._queue:
                return None  # hung up, or everything sent after the last frame
            chunk = [self._queue.popleft()]
            size = len(chunk[0])
            while self._queue and size + len(self._queue[0]) <= _CHUNK_BYTES:
                size += len(self._queue[0])
                chunk.append(self._queue.popleft())
            self._progress_at = time.monotonic()
            return b"".join(chunk)


class Stream(io.TextIOBase):
    """stdout or stderr of the client, as a text stream of frames: what is written goes out
    when it is flushed (the client flushes each frame), as a process's own streams do."""

    def __init__(self, frames: Frames, key: str, tty: bool) -> None:
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


class Signals:
    """Counts the stop signals the client passes on (a thread reads its side of the socket,
    a line of at most a few hundred bytes at a time). A frame that is no signal is ignored;
    a line that is not JSON, or too long, ends the listening: the client does not speak the
    protocol (its run goes on)."""

    def __init__(self, reader: BinaryIO) -> None:
        self.count = 0
        self._reader = reader
        threading.Thread(target=self._read, daemon=True, name="flwd-handoff-signals").start()

    def _read(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            while (line := self._reader.readline(_MAX_SIGNAL_LINE)).endswith(b"\n"):
                frame = parse_json(line)
                if frame is None:
                    return
                if isinstance(frame, dict) and is_signal(frame.get("signal")):
                    self.count += 1


def is_signal(number: object) -> bool:
    """The n-th stop signal of a client: a positive integer (anything else is no signal)."""
    return isinstance(number, int) and not isinstance(number, bool) and number > 0


def parse_json(line: bytes) -> object | None:
    """*line* parsed; None when it is not JSON, or nests deeper than the parser goes."""
    try:
        parsed: object = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return parsed


def peer_closed(conn: socket.socket) -> bool:
    """The client closed its end (killed, or gone): there is nothing more to read, ever."""
    try:
        return conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
