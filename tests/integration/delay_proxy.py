"""A unix-socket proxy in front of a container runtime's API socket that answers output late, or
cuts an attached output short.

Each connection is relayed byte for byte to the real socket; the body of the response to every
request whose path contains one of *match* (log reads and attaches) is held back *delay* seconds
before its first byte is passed on (a slow or loaded runtime). With *cut_after*, an attach
connection is cut once that many bytes of its body were passed on (the runtime's service went
away while the job runs on). The API clients of both SDKs never pipeline, so on one connection a
response always belongs to the oldest request not yet answered.
"""

from __future__ import annotations

import collections
import os
import re
import socket
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

_REQUEST_LINE = re.compile(rb"(?:GET|POST|PUT|DELETE|HEAD) (\S+) HTTP/1\.[01]\r\n")
_CHUNK = 65536


class DelayingProxy:
    """Listens on a fresh socket owned like *upstream* (flwd tells rootless Podman by the
    socket's owner); ``url`` is what to give flwd as ``CONTAINER_HOST``/``DOCKER_HOST``."""

    def __init__(self, upstream_url: str, delay: float, *,
                 match: tuple[bytes, ...] = (b"/logs", b"/attach"),
                 cut_after: int | None = None, base_dir: str = "/var/tmp") -> None:
        self._upstream = urlparse(upstream_url).path
        self._delay = delay
        self._match = match
        self._cut_after = cut_after
        self.cut = 0  # attach connections cut so far
        self._dir = Path(tempfile.mkdtemp(prefix="px-", dir=base_dir))
        self.path = str(self._dir / "api.sock")
        self.delayed = 0  # responses held back so far
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.path)
        owner = os.stat(self._upstream)
        os.chown(self.path, owner.st_uid, owner.st_gid)
        self._listener.listen(64)
        self._closed = threading.Event()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True, name="delay-proxy").start()

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        try:
            os.unlink(self.path)
            self._dir.rmdir()
        except OSError:
            pass

    def _accept(self) -> None:
        try:
            while not self._closed.is_set():
                self._relay(self._listener.accept()[0])
        except OSError:
            return  # closed

    def _relay(self, client: socket.socket) -> None:
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(self._upstream)
        except OSError:
            client.close()
            return
        pending: collections.deque[bytes | None] = collections.deque()
        threading.Thread(target=self._requests, args=(client, upstream, pending),
                         daemon=True).start()
        threading.Thread(target=self._responses, args=(upstream, client, pending),
                         daemon=True).start()

    def _requests(self, client: socket.socket, upstream: socket.socket,
                  pending: collections.deque[bytes | None]) -> None:
        """Client to runtime: note, per request, whether its answer is to be held back."""
        try:
            while data := client.recv(_CHUNK):
                for match in _REQUEST_LINE.finditer(data):
                    path = match.group(1)
                    pending.append(path if any(m in path for m in self._match) else None)
                upstream.sendall(data)
        except OSError:
            pass
        finally:
            try:
                upstream.shutdown(socket.SHUT_WR)  # the answer in flight still comes back
            except OSError:
                pass

    def _responses(self, upstream: socket.socket, client: socket.socket,
                   pending: collections.deque[bytes | None]) -> None:
        """Runtime to client: the body of an answer to a held-back request waits (an attach's
        first output, past its upgrade's headers), and an attach may be cut short."""
        phase: str | None = None  # "head"/"body" of a held-back answer not yet delayed
        attach = False
        sent: int | None = None  # body bytes of an attach passed on so far
        try:
            while data := upstream.recv(_CHUNK):
                if pending:
                    path = pending.popleft()
                    if path is not None:
                        phase, attach, sent = "head", b"/attach" in path, None
                if phase == "head":
                    head, sep, data = data.partition(b"\r\n\r\n")
                    client.sendall(head + sep)
                    if not sep:
                        continue
                    phase = "body"
                    if not data:
                        continue
                if phase == "body":
                    with self._lock:
                        self.delayed += 1
                    time.sleep(self._delay)
                    phase, sent = None, 0
                if attach and sent is not None and self._cut_after is not None:
                    if sent + len(data) >= self._cut_after:
                        client.sendall(data[:self._cut_after - sent])
                        with self._lock:
                            self.cut += 1
                        break
                    sent += len(data)
                client.sendall(data)
        except OSError:
            pass
        finally:
            shut(client)
            shut(upstream)


def shut(sock: socket.socket) -> None:
    """Close *sock* both ways, whatever state it is in."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
