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
A clean end with the exit recorded is confirmed, where the runtime can say so cheaply
(``confirm``: Podman's log since a wall-clock time, one small read), to be followed by nothing
the connection did not deliver; when the log shows more, or cannot tell, it is a break too.
"""

from __future__ import annotations

import collections
import queue
import socket
import threading
import time
from typing import Any, Callable, Generator, Iterable, Iterator, Mapping, Sequence

from flwd.adapters._runtime_common import LineSplitter
from flwd.domain.run.collect import unrecorded
from flwd.ports.runtime import OutputLine

READ_SIZE = 1 << 16
# How long a container may still show running after its output ended, per runtime: Docker
# records the exit before it closes the attach (its inspect waits for that); Podman's service
# records it up to ~0.2 s after (seen here under load). Past it, the end was a break.
EXIT_GRACE_SECONDS = 1.0
EXIT_POLL_SECONDS = 0.05
# The confirming log read starts this long before the last delivered byte arrived. Podman's
# conmon stamps a line in the log about when it sends it (a few ms after, at times, seen here):
# the margin keeps that line in the read, which is what lets the read be lined up with the
# lines delivered (a read that begins too late shows nothing or only new lines).
CONFIRM_MARGIN_SECONDS = 0.1
# Per stream, the delivered lines kept to compare with the confirming read (about this many
# characters); a read longer than what is kept, or with more places it could start than
# CONFIRM_STARTS, is not compared: the log is read in full instead.
CONFIRM_CHARS = 4 << 20
CONFIRM_STARTS = 64
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
                 exit_grace: float = EXIT_GRACE_SECONDS,
                 confirm: Callable[[float], Iterable[OutputLine]] | None = None) -> None:
        self._opened = time.time()
        self._read = read
        self._confirm = confirm
        self._exit_grace = exit_grace
        self._sock = sock
        self._running = running
        self._recover = recover
        self._release = release
        # each chunk with the wall-clock time it arrived at (where a confirming log read starts)
        self._chunks: queue.SimpleQueue[tuple[float, bytes] | BaseException | None] = (
            queue.SimpleQueue())
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
                self._chunks.put((time.time(), data))
            self._chunks.put(None)
        except BaseException as exc:  # noqa: BLE001 - the connection broke: handed to the reader
            self._chunks.put(exc)

    def _all_lines(self) -> Generator[OutputLine, None, None]:
        delivered: dict[str, int] = {}
        ends: dict[str, _Ending] = {}  # the last lines delivered, per stream
        arrived: dict[str, float] = {}  # when each stream's last delivered byte arrived
        splitters: dict[str, LineSplitter] = {}
        reader = FrameReader()
        try:
            while isinstance(item := self._chunks.get(), tuple):
                at, chunk = item
                for stream, payload in reader.feed(chunk):
                    arrived[stream] = at
                    splitter = splitters.setdefault(stream, LineSplitter())
                    end = ends.setdefault(stream, _Ending())
                    for line in splitter.feed(payload):
                        delivered[stream] = delivered.get(stream, 0) + 1
                        end.append(line)
                        yield OutputLine(stream=stream, line=line)
            broken = item is not None or reader.pending > 0 or self._runs_on()
        finally:
            self._shutdown()
        rest = {stream: splitter.flush() for stream, splitter in splitters.items()}
        if broken or not self._confirmed(ends, rest, arrived):
            self.recovered = True
            yield from unrecorded(self._recover(), delivered)
            return
        for stream, lines in rest.items():
            for line in lines:
                yield OutputLine(stream=stream, line=line)

    def _confirmed(self, ends: Mapping[str, _Ending], rest: Mapping[str, list[str]],
                   arrived: Mapping[str, float]) -> bool:
        """Whether the runtime's log holds nothing after what the connection delivered: read
        from just before the last delivered byte arrived (from the attach, if none did)."""
        if self._confirm is None:
            return True
        since = min(arrived.values(), default=self._opened) - CONFIRM_MARGIN_SECONDS
        delivered = {s: [*ends.get(s, _Ending()).lines, *rest.get(s, ())]
                     for s in {*ends, *rest}}
        return nothing_after(delivered, self._confirm(since),
                             open_ended=[stream for stream, lines in rest.items() if lines])

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


class _Ending:
    """The last lines delivered on one stream, about CONFIRM_CHARS characters of them."""

    def __init__(self) -> None:
        self.lines: collections.deque[str] = collections.deque()
        self._chars = 0

    def append(self, line: str) -> None:
        self.lines.append(line)
        self._chars += len(line) + 1
        while self._chars > CONFIRM_CHARS and len(self.lines) > 1:
            self._chars -= len(self.lines.popleft()) + 1


def nothing_after(delivered: Mapping[str, Sequence[str]], log: Iterable[OutputLine],
                  open_ended: Iterable[str] = ()) -> bool:
    """Whether *log* (a read from a point at or before each stream's last delivered byte,
    maybe between the pieces of a line) is, on every stream, exactly the end of *delivered*
    and could be nothing else. Where repeated lines leave it ambiguous, or the read is longer
    than what is kept, it is not. *open_ended*: the streams whose last delivered line had no
    newline yet."""
    read: dict[str, list[str]] = {}
    for line in log:
        lines = read.setdefault(line.stream, [])
        lines.append(line.line)
        if len(lines) > len(delivered.get(line.stream, ())):
            return False
    unended = set(open_ended)
    return all(_only_ending(list(delivered.get(stream, ())), read.get(stream, []),
                            terminated=stream not in unended)
               for stream in {*delivered, *read})


def _only_ending(delivered: list[str], tail: list[str], *, terminated: bool) -> bool:
    """*tail* ends with what was delivered last and could end nowhere else."""
    if not delivered:
        return not tail
    size = len(tail)
    if not size or size > len(delivered):
        return False  # nothing read back (the read began too late), or more than delivered
    if size > 1 and delivered[1 - size:] != tail[1:]:
        return False
    if not delivered[-size].endswith(tail[0]):  # the first line read may be a line's end
        return False
    return not _more_possible(delivered, tail, terminated=terminated)


def _more_possible(delivered: list[str], tail: list[str], *, terminated: bool) -> bool:
    """Whether *tail* could as well hold lines after the delivered ones: its first line
    inside the last delivered one, or its line *p* < the last one being that line."""
    last, first, size = delivered[-1], tail[0], len(tail)
    if terminated and size > 1 and last.endswith(first):
        return True
    if not terminated and any(last.endswith(first[:k]) and (k < len(first) or size > 1)
                              for k in range(1, len(first) + 1)):
        return True
    starts = [p for p in range(1, size - 1)
              if (tail[p] == last if terminated else tail[p].startswith(last))]
    if len(starts) > CONFIRM_STARTS:
        return True
    return any(len(delivered) > p and delivered[-p - 1:-1][1:] == tail[1:p]
               and delivered[-p - 1].endswith(first) for p in starts)
