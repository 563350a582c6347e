"""The CLI's resident backend: the remote backend's HTTP client over the resident local
server's unix socket (stdlib only), so a run costs what a request costs."""

from __future__ import annotations

import http.client
import socket

from flwd.entrypoints.cli.remote import RemoteBackend
from flwd.entrypoints.cli.render import Io


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP/1.1 to a unix socket; the Host header names the socket file."""

    def __init__(self, path: str, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def resident_backend(path: str, io: Io) -> RemoteBackend:
    """Every command as ``--server`` would run it, against the server listening on *path*
    (no token: the socket's owner is the credential)."""
    return RemoteBackend(f"unix:{path}", None, io,
                         connect=lambda timeout: UnixHTTPConnection(path, timeout))
