"""A container's attached output, shared by the Podman and Docker adapters.

Both runtimes answer ``POST .../attach?stream&stdout&stderr`` with a hijacked connection that
carries the container's output as frames behind an 8-byte header (stream byte, 3 zero bytes,
big-endian payload size). ``AttachedStream`` reads that connection in its own thread as fast as
the runtime sends (so a slow consumer never holds the runtime's copy of the output back, which
Docker cuts 2 s after the exit), and hands out the lines in order.

The connection ends when the container's output does. It counts as broken, and the rest is
read from the runtime's log (``recover``), past the lines already handed out, when the read
failed, ended inside a frame, or ended while the runtime still reports the container running
(Podman: after a short grace, as it records the exit a moment after the output closed).
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from typing import Any, Callable, Generator, Iterable, Iterator

from flwd.adapters._runtime_common import LineSplitter
from flwd.domain.run.collect import unrecorded
from flwd.ports.runtime import OutputLine

READ_SIZE = 1 << 16
# How long a container may still show running after its output ended, per runtime: Docker
# records the exit before it closes the attach (its inspect waits for that); Podman's service
# records it up to ~0.2 s after (seen here under load). Past it, the end was a break.
EXIT_GRACE_SECONDS = 1.0
EXIT_POLL_SECONDS = 0.05
_HEADER = 8
_STREAMS = {1: "stdout", 2: "stderr"}


class FrameReader:
    """Demultiplexes the 8-byte-header stream incrementally, whatever the chunking."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame held back (non-zero at the end: the stream broke)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[tuple[str, bytes]]:
        self._buffer += data
        found, start, end = [], 0, len(self._buffer)
        while end - start >= _HEADER:
            size = int.from_bytes(self._buffer[start + 4:start + _HEADER], "big")
            if end - start < _HEADER + size:
                break
            payload = bytes(self._buffer[start + _HEADER:start + _HEADER + size])
            found.append((_STREAMS.get(self._buffer[start], "stdout"), payload))
            start += _HEADER + size
        del self._buffer[:start]
        return found


def frames(chunks: Iterable[bytes]) -> Iterator[tuple[str, bytes]]:
    """``(stream, payload)`` of each complete frame in *chunks*."""
    reader = FrameReader()
    for chunk in chunks:
        yield from reader.feed(chunk)


def response_socket(response: Any) -> tuple[Callable[[int], bytes], socket.socket]:
    """The reader and the socket of a hijacked ``requests`` response (the SDKs' session).

    Reads go through the response's buffered reader (``read1``: what has arrived, at once), so
    bytes it may have taken in with the headers are not lost."""
    buffered = response.raw._fp.fp  # http.client's reader over the socket
    sock: socket.socket = buffered.raw._sock
    sock.settimeout(None)  # a quiet job is no timeout
    return buffered.read1, sock


class AttachedStream:
    """``AttachedOutput`` over a hijacked connection, reading from construction on."""

    def __init__(self, read: Callable[[int], bytes], sock: socket.socket, *,
                 running: Callable[[], bool], recover: Callable[[], Iterable[OutputLine]],
                 release: Callable[[], None] = lambda: None, name: str = "flwd-attach",
                 exit_grace: float = EXIT_GRACE_SECONDS) -> None:
        self._read = read
        self._exit_grace = exit_grace
        self._sock = sock
        self._running = running
        self._recover = recover
        self._release = release
        self._chunks: queue.SimpleQueue[bytes | BaseException | None] = queue.SimpleQueue()
        self.recovered = False  # whether the log had to supply the rest (for tests and benches)
        threading.Thread(target=self._pump, daemon=True, name=name).start()
        self._lines = self._all_lines()

    def __iter__(self) -> Iterator[OutputLine]:
        return self

    def __next__(self) -> OutputLine:
        return next(self._lines)

    def close(self) -> None:
        self._shutdown()
        self._lines.close()

    def _pump(self) -> None:
        try:
            while data := self._read(READ_SIZE):
                self._chunks.put(data)
            self._chunks.put(None)
        except BaseException as exc:  # noqa: BLE001 - the connection broke: handed to the reader
            self._chunks.put(exc)

    def _all_lines(self) -> Generator[OutputLine, None, None]:
        delivered: dict[str, int] = {}
        splitters: dict[str, LineSplitter] = {}
        reader = FrameReader()
        try:
            while isinstance(chunk := self._chunks.get(), bytes):
                for stream, payload in reader.feed(chunk):
                    splitter = splitters.setdefault(stream, LineSplitter())
                    for line in splitter.feed(payload):
                        delivered[stream] = delivered.get(stream, 0) + 1
                        yield OutputLine(stream=stream, line=line)
            broken = chunk is not None or reader.pending > 0 or self._runs_on()
        finally:
            self._shutdown()
        if broken:
            self.recovered = True
            yield from unrecorded(self._recover(), delivered)
            return
        for stream, splitter in splitters.items():
            for line in splitter.flush():
                yield OutputLine(stream=stream, line=line)

    def _runs_on(self) -> bool:
        """Whether the container still runs once its output ended cleanly. Podman closes the
        output a moment before it records the exit (a third of short runs here, up to ~0.2 s),
        so the runtime is asked again until *exit_grace* has passed before the end counts as
        a break (a needless log read costs time, never a line)."""
        deadline = time.monotonic() + self._exit_grace
        while self._running():
            if time.monotonic() >= deadline:
                return True
            time.sleep(EXIT_POLL_SECONDS)
        return False

    def _shutdown(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the pump's read up
        except OSError:
            pass
        self._release()
        self._sock.close()  # docker-py's hijacked socket outlives its SocketIO otherwise
