"""The queue probe on kombu (Celery's messaging library): ping the broker of ``queue_url`` and
read queue depths with a passive ``queue_declare``, which never creates a queue."""

from __future__ import annotations

from typing import Any, Iterable

from flwd.domain.errors import QueueUnavailableError
from flwd.ports.workers import QueueStatus


class KombuQueueProbe:
    """``QueueProbe`` for ``redis://`` and ``amqp://`` brokers. Connects on each ``probe``
    (``:doctor`` and ``/metrics`` ask rarely) and gives up after *timeout* seconds."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        self.url = url
        self._timeout = timeout

    def probe(self, queues: Iterable[str]) -> QueueStatus:
        import kombu
        from kombu.exceptions import OperationalError

        connect: Any = getattr(kombu, "Connection")  # kombu exports it lazily, untyped

        conn: Any = connect(self.url, connect_timeout=self._timeout, transport_options={
            "socket_timeout": self._timeout, "socket_connect_timeout": self._timeout,
            "max_retries": 0})
        broker = conn.as_uri()  # the password as **
        try:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0,
                                    timeout=self._timeout)
            depths = {queue: self._depth(conn, queue) for queue in queues}
        # a channel error too: RabbitMQ refusing the login (ACCESS_REFUSED) or the vhost
        except (OperationalError, *conn.connection_errors, *conn.channel_errors, OSError) as exc:
            raise _unavailable(broker, exc) from None
        finally:
            conn.release()
        return QueueStatus(broker=broker, depths=depths)

    def _depth(self, conn: Any, queue: str) -> int | None:
        channel = conn.channel()
        try:
            return int(channel.queue_declare(queue=queue, passive=True).message_count)
        except conn.channel_errors:
            # No such queue. Redis keeps a queue as a list, deleted when it empties: zero
            # messages wait. Another broker's queue may just not be declared yet: unknown.
            return 0 if conn.transport_cls == "redis" else None
        finally:
            _close(channel)


def _close(channel: Any) -> None:
    try:
        channel.close()
    except Exception:  # noqa: BLE001 - a channel the broker already closed (AMQP NOT_FOUND)
        pass


def _unavailable(broker: str, exc: BaseException) -> QueueUnavailableError:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return QueueUnavailableError(f"the queue at {broker} does not answer: {reason}",
                                 queue=broker)
