"""A unix-socket proxy in front of a runtime's API socket that a test can cut (listener and
every connection closed, as when the daemon dies) and restore, without touching the shared
daemon itself."""

from __future__ import annotations

import os
import socket
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tests.integration.delay_proxy import shut


class SocketProxy:
    """Forwards each connection on ``path`` to ``target`` (a unix socket path)."""

    def __init__(self, path: Path, target: str) -> None:
        self.path = path
        self.target = target
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def start(self) -> None:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.path))
        os.chmod(self.path, 0o666)
        owner = os.stat(self.target)  # flwd describes a local Podman by its socket's owner
        os.chown(self.path, owner.st_uid, owner.st_gid)
        listener.listen(64)
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True,
                         name="socket-proxy").start()

    def cut(self) -> None:
        """Close the listener and every connection; new connections are refused."""
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._open = self._open, set()
        if listener is not None:
            listener.close()
        for sock in sockets:
            shut(sock)
        self.path.unlink(missing_ok=True)

    def restore(self) -> None:
        self.start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(self.target)
            except OSError:
                shut(client)
                continue
            with self._lock:
                if self._listener is not listener:
                    shut(client)
                    shut(upstream)
                    return
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(source)
            shut(source)


@contextmanager
def proxied(directory: Path, target_url: str) -> Iterator[SocketProxy]:
    """A started proxy at ``directory/rt.sock`` in front of *target_url* (``unix://...``)."""
    proxy = SocketProxy(directory / "rt.sock", target_url.removeprefix("unix://"))
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.cut()
