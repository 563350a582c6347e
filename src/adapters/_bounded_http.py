"""HTTP to registries that a hostile or broken one cannot stretch (SPEC section 10).

requests' ``timeout`` bounds each socket read, not an exchange: a registry that trickles a
byte every few seconds, in its headers or its body, holds a check for ever, and a body read
whole (a ``.sig`` manifest, a token, an error page) can be as large as the registry likes.
A ``bounded_session`` reads every body that is not streamed (and every redirect's) up to a
limit, and within ``deadline(seconds)`` every socket the session opens is shut down when
the time is up, so a blocked read ends at once.
"""

from __future__ import annotations

import socket
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_CHUNK = 64 * 1024


class BodyTooLargeError(requests.RequestException):
    """A registry's answer is over the session's limit."""


class Deadline:
    """One exchange's time limit: ``expired`` once it passed, every tracked socket shut."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def track(self, sock: socket.socket) -> None:
        with self._lock:
            if not self.expired:
                self._sockets.append(sock)
                return
        _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _shut(sock)


_CURRENT: ContextVar[Deadline | None] = ContextVar("flwd_registry_deadline", default=None)


@contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Sockets that bounded sessions open in this block (this thread) are shut down once
    *seconds* have passed; ``Deadline.expired`` then says why a read failed."""
    limit = Deadline(seconds)
    token = _CURRENT.set(limit)
    limit._timer.start()
    try:
        yield limit
    finally:
        limit._timer.cancel()
        _CURRENT.reset(token)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked recv, unlike close()
    except OSError:
        pass


def _tracked(sock: socket.socket) -> socket.socket:
    limit = _CURRENT.get()
    if limit is not None:
        limit.track(sock)
    return sock


class _TrackedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _tracked(super()._new_conn())


class _TrackedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:  # the raw socket, before TLS: a slow handshake too
        return _tracked(super()._new_conn())


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _TrackedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


class _TrackingAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


def bounded_session(max_body: int) -> requests.Session:
    """A session whose bodies (all but streamed ones, which their reader bounds) are read
    here, refusing more than *max_body* bytes with ``BodyTooLargeError``."""
    session = requests.Session()
    adapter = _TrackingAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)

    def read_body(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("stream") and not response.is_redirect:
            return
        body = bytearray()
        for chunk in response.iter_content(_CHUNK):
            body += chunk
            if len(body) > max_body:
                response.close()
                raise BodyTooLargeError(f"the registry's answer is larger than {max_body} bytes")
        response._content = bytes(body)  # what ``response.content`` would read, bounded

    session.hooks["response"].append(read_body)
    return session
