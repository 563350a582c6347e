"""A unix-socket proxy in front of a container runtime's API socket that answers log reads late.

Each connection is relayed byte for byte to the real socket; the response to every request whose
path contains ``/logs`` is held back *delay* seconds before its first byte is passed on (a slow or
loaded runtime). The API clients of both SDKs never pipeline, so on one connection a response
always belongs to the oldest request not yet answered.
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

    def __init__(self, upstream_url: str, delay: float, *, match: bytes = b"/logs",
                 base_dir: str = "/var/tmp") -> None:
        self._upstream = urlparse(upstream_url).path
        self._delay = delay
        self._match = match
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
        pending: collections.deque[bool] = collections.deque()
        threading.Thread(target=self._requests, args=(client, upstream, pending),
                         daemon=True).start()
        threading.Thread(target=self._responses, args=(upstream, client, pending),
                         daemon=True).start()

    def _requests(self, client: socket.socket, upstream: socket.socket,
                  pending: collections.deque[bool]) -> None:
        """Client to runtime: note, per request, whether its answer is to be held back."""
        try:
            while data := client.recv(_CHUNK):
                for match in _REQUEST_LINE.finditer(data):
                    pending.append(self._match in match.group(1))
                upstream.sendall(data)
        except OSError:
            pass
        finally:
            try:
                upstream.shutdown(socket.SHUT_WR)  # the answer in flight still comes back
            except OSError:
                pass

    def _responses(self, upstream: socket.socket, client: socket.socket,
                   pending: collections.deque[bool]) -> None:
        """Runtime to client: the first bytes of an answer to a held-back request wait."""
        try:
            while data := upstream.recv(_CHUNK):
                if pending and pending.popleft():
                    with self._lock:
                        self.delayed += 1
                    time.sleep(self._delay)
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
