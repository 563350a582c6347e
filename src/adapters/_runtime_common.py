"""Helpers shared by the Docker and Podman adapters: labels, reachability, log lines, errors.

What is here, for adapter authors:

- ``DEFAULT_DOCKER_SOCKET``: where Docker answers when ``DOCKER_HOST`` names nothing.
- ``PULL_POLICIES`` and ``NEVER_PULL_MESSAGE``: the pull-policy vocabulary and the one message
  for "missing and policy is never".
- ``check_reachable(url, runtime_name)``: connect to a ``unix://`` or ``tcp://`` endpoint within
  ~2 s or raise ``RuntimeUnavailableError`` naming the socket (call it before the SDK client is
  built, so an absent engine fails fast instead of after the SDK's long timeouts).
- ``LineSplitter`` / ``split_lines(chunks)``: turn ``(stream, bytes)`` chunks into ``OutputLine``
  values, one per line, buffering partial lines per stream, utf-8 with ``errors="replace"``.
- ``translate_api_error(exc, action, **context)``: SDK exception -> coded ``FlwdError``
  (409 on create -> ``ContainerNameConflictError``, connection failures ->
  ``RuntimeUnavailableError``, anything else -> ``OciError`` with the engine's own message).
- ``managed_container(...)``: build a ``ManagedContainer`` from labels, or None if not flwd's.
"""

from __future__ import annotations

import codecs
import socket
from typing import Iterable, Iterator, Mapping
from urllib.parse import urlparse

from flwd.domain.errors import (
    ContainerNameConflictError,
    FlwdError,
    OciError,
    RuntimeUnavailableError,
)
from flwd.ports.runtime import LABEL_JOB_ID, LABEL_RUN_ID, ManagedContainer, OutputLine

DEFAULT_DOCKER_SOCKET = "unix:///var/run/docker.sock"
PULL_POLICIES = ("if-not-present", "always", "never")
NEVER_PULL_MESSAGE = "image not present and pull_policy is never"


def never_pull_error(image: str) -> OciError:
    """``E_OCI`` for an image that is missing while its pull policy is ``never``, naming it."""
    return OciError(f"{NEVER_PULL_MESSAGE}: {image}", action="pull", image=image)
CONNECT_TIMEOUT = 2.0


def check_reachable(url: str, runtime_name: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Raise ``RuntimeUnavailableError`` unless something accepts connections at *url*.

    Only ``unix://`` and ``tcp://``/``http://`` endpoints are checked; others (ssh, npipe) pass.
    """
    parsed = urlparse(url)
    try:
        if parsed.scheme in ("unix", "http+unix", ""):
            path = parsed.path or url
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                sock.connect(path)
        elif parsed.scheme in ("tcp", "http", "https"):
            default_port = 2376 if parsed.scheme == "https" else 2375
            address = (parsed.hostname or "localhost", parsed.port or default_port)
            socket.create_connection(address, timeout=timeout).close()
    except OSError as exc:
        raise RuntimeUnavailableError(
            f"{runtime_name} is not reachable at {url}: {exc.strerror or exc}",
            runtime=runtime_name, socket=url,
        ) from exc


class LineSplitter:
    """Decodes one byte stream incrementally and hands back complete lines (without newline)."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""

    def feed(self, data: bytes) -> list[str]:
        text = self._pending + self._decoder.decode(data)
        *lines, self._pending = text.split("\n")
        return [line.removesuffix("\r") for line in lines]

    def flush(self) -> list[str]:
        """The last, unterminated line (if any), once the stream has ended."""
        rest = self._pending + self._decoder.decode(b"", final=True)
        self._pending = ""
        return [rest.removesuffix("\r")] if rest else []


def split_lines(chunks: Iterable[tuple[str, bytes]]) -> Iterator[OutputLine]:
    """``(stream, bytes)`` chunks -> one ``OutputLine`` per line, per stream, in arrival order."""
    splitters: dict[str, LineSplitter] = {}
    for stream, data in chunks:
        splitter = splitters.setdefault(stream, LineSplitter())
        for line in splitter.feed(data):
            yield OutputLine(stream=stream, line=line)
    for stream, splitter in splitters.items():
        for line in splitter.flush():
            yield OutputLine(stream=stream, line=line)


def _is_connection_failure(exc: BaseException) -> bool:
    """The engine could not be reached, or its connection broke mid-response (the daemon
    died: "Response ended prematurely"), as opposed to an answer that reports a failure."""
    try:
        import requests  # both SDKs ride on requests
        import urllib3
    except ImportError:  # pragma: no cover
        return isinstance(exc, ConnectionError)
    broken = (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError,
              urllib3.exceptions.ProtocolError, ConnectionError)
    return isinstance(exc, broken) or isinstance(exc.__cause__, broken)


def translate_api_error(exc: BaseException, action: str, **context: object) -> FlwdError:
    """Map an SDK exception raised while doing *action* ("create", "pull"...) to a coded error.

    Works on docker-py and podman-py errors alike (both expose ``status_code``/``explanation``).
    Use as ``raise translate_api_error(exc, "create", name=spec.name) from exc``.
    """
    if isinstance(exc, FlwdError):
        return exc
    if _is_connection_failure(exc):
        return RuntimeUnavailableError(f"lost the container runtime during {action}: {exc}",
                                       action=action, **context)
    status = getattr(exc, "status_code", None)
    message = str(getattr(exc, "explanation", None) or exc)
    if action == "create" and status == 409:
        return ContainerNameConflictError(f"container name is already in use: {message}",
                                          action=action, **context)
    return OciError(f"{action} failed: {message}", action=action, status=status, **context)


def managed_container(
    container_id: str, name: str, labels: Mapping[str, str] | None, running: bool
) -> ManagedContainer | None:
    """A ``ManagedContainer`` when *labels* carry flwd's run label, else None."""
    labels = labels or {}
    if LABEL_RUN_ID not in labels:
        return None
    return ManagedContainer(
        id=container_id, name=name.lstrip("/"), run_id=labels[LABEL_RUN_ID],
        job_id=labels.get(LABEL_JOB_ID, ""), running=running,
    )
