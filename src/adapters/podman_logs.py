"""Podman's log stream, byte for byte: its frames, the read cursor, catatonit's exec failure.

Runs are followed through attach (``_attach``); the log is read for a container started by
another process and when an attach broke. Podman 4.x's ``follow`` stream drops chunks of a
k8s-file log (podman issue 21914), so the adapter reads the log with plain reads from the second
of the last frame seen; what is here turns those reads into each frame once, in log order,
without any I/O of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Iterator

from flwd.adapters._attach import frames

# Podman's --init (catatonit) exits 1 when it cannot exec the job's command; Docker's (tini)
# exits as a shell does, 127 for a command not found and 126 for one that cannot run. The same
# job gives the same exit code on both: catatonit's last stderr line says which it was.
_CATATONIT_EXEC_FAILED = re.compile(rb"ERROR \(catatonit:\d+\): failed to exec pid1: (.+)")
_NOT_FOUND = b"No such file or directory"
INIT_ERROR_MAX_BYTES = 1024  # catatonit's line is ~70 bytes: more stderr is the job's own


def stamped(chunks: Iterable[bytes]) -> Iterator[tuple[str, str, bytes]]:
    """``(second, stream, payload)`` of each frame of a read made with ``timestamps``."""
    for stream, framed in frames(chunks):
        stamp, _, payload = framed.partition(b" ")
        yield stamp.decode("ascii", "replace"), stream, payload


@dataclass(slots=True)
class SinceCursor:
    """Where the next plain read starts, and which of its frames were already passed on.

    ``since`` has one-second resolution: a read from ``second`` repeats the frames of that
    second already delivered, which are skipped.
    """

    second: str | None = None
    delivered: int = 0  # frames of *second* already yielded

    def new_frames(self, read: Iterable[tuple[str, str, bytes]]) -> Iterator[tuple[str, bytes]]:
        """The ``(stream, payload)`` frames of one read not passed on by an earlier read."""
        seen_in_second = 0
        for stamp, stream, payload in read:
            if stamp == self.second:
                seen_in_second += 1
                if seen_in_second <= self.delivered:
                    continue
                self.delivered += 1
            else:
                self.second, self.delivered, seen_in_second = stamp, 1, 1
            yield stream, payload


def init_exec_failure(payloads: Iterable[bytes]) -> int | None:
    """127 or 126 when a container's stderr ends with catatonit's exec failure, else None."""
    # catatonit writes its line in pieces, which the log keeps as separate frames
    lines = b"".join(payloads).strip().splitlines()
    failed = _CATATONIT_EXEC_FAILED.fullmatch(lines[-1].strip()) if lines else None
    if failed is None:
        return None
    return 127 if failed.group(1) == _NOT_FOUND else 126
