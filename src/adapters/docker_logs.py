"""Docker's log, read for a container flwd did not attach to or whose attach broke.

Two followed streams (``merged``), completed after the exit from the log itself
(``with_lost_tails``): Docker 20.10 may end ``logs --follow`` before its last lines.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator

import docker
import docker.errors

from flwd.adapters._runtime_common import translate_api_error


def with_lost_tails(
    api: docker.APIClient, container_id: str, chunks: Iterator[tuple[str, bytes]]
) -> Iterator[tuple[str, bytes]]:
    """Pass *chunks* on, then add whatever the follow streams dropped.

    Docker 20.10 may end ``logs --follow`` at exit before it has sent the last lines (an
    unterminated one always, complete ones sometimes, seen under load). The follow
    stream is a prefix of each stream's log, so once the container has stopped a plain
    read of the log past the bytes already passed on is exactly what is missing.
    """
    received = {"stdout": 0, "stderr": 0}
    for stream, data in chunks:
        received[stream] += len(data)
        yield stream, data
    try:
        api.wait(container_id, timeout=None)
        for stream, count in received.items():
            full = api.logs(container_id, stdout=stream == "stdout",
                            stderr=stream == "stderr", stream=False, follow=False)
            if len(full) > count:
                yield stream, full[count:]
    except docker.errors.NotFound:
        return  # removed meanwhile: nothing more to read
    except Exception as exc:  # the daemon went away: the tails cannot be read
        raise translate_api_error(exc, "logs", container=container_id) from exc


def merged(streams: dict[str, Iterable[bytes]]) -> Iterator[tuple[str, bytes]]:
    """Read each log stream in its own thread; yield (stream, chunk) as they arrive."""
    chunks: queue.Queue[tuple[str, bytes | BaseException | None]] = queue.Queue()

    def pump(name: str, stream: Iterable[bytes]) -> None:
        try:
            for chunk in stream:
                chunks.put((name, chunk))
        except BaseException as exc:  # handed to the reader, which decides
            chunks.put((name, exc))
        chunks.put((name, None))

    for name, stream in streams.items():
        threading.Thread(target=pump, args=(name, stream), daemon=True,
                         name=f"flwd-docker-{name}").start()
    open_streams = len(streams)
    while open_streams:
        name, item = chunks.get()
        if item is None:
            open_streams -= 1
        elif isinstance(item, BaseException):
            raise translate_api_error(item, "logs")
        else:
            yield name, item
