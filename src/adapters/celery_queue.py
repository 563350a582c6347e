"""Cluster mode's queue on Celery (SPEC section 11): Redis by default, RabbitMQ through the
same ``queue_url``. flwd implements no queue of its own: this module only configures Celery.

A message is the task ``flwd.run`` with two JSON arguments, the run id and its sealed secrets
(base64, or null). Late acknowledgement: a worker that dies before it finishes a run leaves
the message to be delivered again (the store's claim keeps a run from running twice), and a
sweeper that finds the worker lost hands that message back (``redeliver``).
"""

from __future__ import annotations

import base64
import itertools
import logging
import os
from typing import TYPE_CHECKING, Any, Callable, Sequence

from flwd.adapters.queue_url import redact
from flwd.domain.errors import QueueUnavailableError

if TYPE_CHECKING:
    from celery import Celery

TASK_NAME = "flwd.run"
DEFAULT_QUEUE = "default"
_CONNECT_SECONDS = 3.0
# Unacknowledged messages come back to the queue after this long (Redis); runs longer than it
# are delivered again while they run, which the claim turns into a no-op.
_VISIBILITY_SECONDS = 3600
# RabbitMQ: how long a publish waits for the broker's confirm (a broker blocking publishers on
# a memory or disk alarm never confirms) before it is queue.unavailable.
_CONFIRM_SECONDS = 5.0
_PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0.0, "interval_step": 0.5,
                  "interval_max": 1.0}

Handler = Callable[[str, "bytes | None"], None]


def make_app(queue_url: str) -> Celery:
    """A Celery app for *queue_url*: JSON only, late acknowledgement, one message prefetched
    per slot, no result backend (runs report through the store)."""
    from celery import Celery

    app = Celery("flwd", broker=queue_url, set_as_current=False)
    app.conf.update(
        task_serializer="json", accept_content=["json"], result_serializer="json",
        result_backend=None, task_ignore_result=True, task_store_errors_even_if_ignored=False,
        task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
        task_default_queue=DEFAULT_QUEUE, task_create_missing_queues=True,
        broker_connection_timeout=_CONNECT_SECONDS, broker_connection_retry_on_startup=True,
        broker_transport_options=_transport_options(queue_url),
        worker_hijack_root_logger=False, worker_redirect_stdouts=False,
        worker_send_task_events=False, task_send_sent_event=False, enable_utc=True,
    )
    return app


def _transport_options(queue_url: str) -> dict[str, Any]:
    """Broker-specific transport options: Redis's visibility timeout; RabbitMQ's publisher
    confirms, so a message the broker did not take raises instead of being lost."""
    options: dict[str, Any] = {"socket_connect_timeout": _CONNECT_SECONDS}
    if _is_amqp(queue_url):
        options["confirm_publish"] = True
    else:
        options["visibility_timeout"] = _VISIBILITY_SECONDS
    return options


def _publisher_app(queue_url: str) -> Celery:
    """``make_app`` for publishing: on RabbitMQ a publish the broker blocks (``connection.
    blocked``: a memory or disk alarm) fails at once rather than waiting for confirms that
    cannot come, each retry sending another copy. Workers keep the plain app: an alarm only
    pauses their consumers."""
    app = make_app(queue_url)
    if _is_amqp(queue_url):
        # every wait bounded too: closing a channel the blocked broker no longer reads
        app.conf.broker_transport_options = {**app.conf.broker_transport_options,
                                             "on_blocked": _refuse_blocked,
                                             "read_timeout": _CONFIRM_SECONDS}
    return app


class _Blocked(Exception):
    """RabbitMQ blocks this connection's publishes (a resource alarm)."""


def _refuse_blocked(reason: str) -> None:
    raise _Blocked(f"RabbitMQ blocks publishing ({reason}: a memory or disk alarm)")


def _is_amqp(queue_url: str) -> bool:
    return queue_url.lower().startswith(("amqp://", "amqps://"))


class CeleryRunQueue:
    """``RunQueue`` on Celery; the app (and Celery's import) is made on the first enqueue."""

    def __init__(self, *, url: str) -> None:
        self.url = url
        self._app: Celery | None = None

    def __repr__(self) -> str:
        return f"CeleryRunQueue(url={redact(self.url)!r})"

    def _publisher(self) -> Celery:
        """The app this queue publishes (and hands messages back) with, made once."""
        if self._app is None:
            self._app = _publisher_app(self.url)
        return self._app

    def enqueue(self, queue: str, run_id: str, sealed: bytes | None) -> None:
        app = self._publisher()
        message = [run_id, base64.b64encode(sealed).decode() if sealed is not None else None]
        try:
            app.send_task(TASK_NAME, args=message, queue=queue, retry=True,
                          retry_policy=_PUBLISH_RETRY, confirm_timeout=_CONFIRM_SECONDS)
        except _Blocked as exc:
            self._app = None  # its connection waits on a broker that reads nothing: dropped
            raise _unavailable(self.url, exc) from None
        except _broker_errors() as exc:
            self.close()  # its pooled connection or channel may be the broken one
            raise _unavailable(self.url, exc) from None

    def redeliver(self, run_id: str) -> bool:
        from flwd.adapters.kombu_redeliver import redeliver

        with self._publisher().connection_for_write() as connection:
            errors = (*_broker_errors(), *connection.connection_errors,
                      *connection.channel_errors)
            try:
                connection.ensure_connection(max_retries=1, timeout=_CONNECT_SECONDS)
                return redeliver(connection, TASK_NAME, run_id)
            except errors as exc:
                raise _unavailable(self.url, exc) from None

    def close(self) -> None:
        if self._app is not None:
            self._app.close()
            self._app = None


def run_worker(queue_url: str, *, handle: Handler, queues: Sequence[str], concurrency: int,
               on_ready: Callable[[], None], on_shutdown: Callable[[bool], None]) -> int:
    """Consume *queues* until a signal, each message handed to *handle* (run id, sealed
    secrets) on one of *concurrency* threads; returns the worker's exit code.

    *on_ready* is called once Celery consumes; *on_shutdown(kill)* on each stop signal
    (``kill`` from the second one on, or for a cold shutdown). Celery waits for the running tasks on a warm
    shutdown; *on_shutdown* makes them end (cancel), as ``flwd :serve`` does with its runs.
    """
    import warnings

    from celery import signals
    from celery.exceptions import Reject, SecurityWarning

    # Celery warns a root worker about pickle, which lets a message run code; flwd accepts
    # JSON only, and a worker drives rootless runtimes as whoever may reach their sockets.
    warnings.filterwarnings("ignore", category=SecurityWarning)
    app = make_app(queue_url)
    _check_broker(app, queue_url)

    # max_retries=None: a message handed back for later (RetryLater with a countdown) is
    # bounded by its run's state, not by a count (see domain.run.take.MessageStillNeeded).
    @app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True,  # type: ignore[untyped-decorator]
              max_retries=None)
    def run(task: Any, run_id: str, sealed: str | None) -> None:
        try:
            handle(run_id, base64.b64decode(sealed) if sealed else None)
        except RetryLater as exc:
            if exc.countdown is None:
                raise Reject(str(exc), requeue=True) from None
            # a copy of the message (same id and arguments) waits on the same queue, and
            # this one is acknowledged: no slot waits, no message loops
            raise task.retry(countdown=exc.countdown) from None

    # Celery starts a warm shutdown on every SIGTERM (it waits for the tasks); the second
    # signal of any kind, or a cold shutdown, kills the runs instead, as `flwd :serve` does.
    heard = itertools.count(1)
    signals.worker_ready.connect(lambda **_: on_ready(), weak=False)
    signals.worker_shutting_down.connect(
        lambda how="", **_: on_shutdown(next(heard) > 1 or str(how).lower() == "cold"),
        weak=False)
    logging.getLogger("celery").setLevel(logging.WARNING)
    ended = _ConsumerEnded.attach()
    worker = app.Worker(
        hostname=f"flwd-{os.getpid()}@{os.uname().nodename}", queues=list(queues),
        concurrency=concurrency, pool="threads", loglevel="WARNING", quiet=True,
        without_mingle=True, without_gossip=True, without_heartbeat=True, optimization="fair",
    )
    worker.start()
    ended.raise_if_any(queue_url)
    return int(worker.exitcode or 0)


_WORKER_LOGGER = "celery.worker"  # where Celery's WorkController logs an unrecoverable error


class _ConsumerEnded(logging.Filter):
    """Keeps the error that ended Celery's consumer for good (RabbitMQ closing the worker's
    channel over its ``consumer_timeout``, say), which Celery logs with a traceback before
    it stops (its runs finish first): the worker then exits ``queue.unavailable`` instead."""

    def __init__(self) -> None:
        super().__init__()
        self.error: BaseException | None = None

    @classmethod
    def attach(cls) -> _ConsumerEnded:
        kept = cls()
        logging.getLogger(_WORKER_LOGGER).addFilter(kept)
        return kept

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.CRITICAL and record.exc_info and record.exc_info[1]:
            self.error = record.exc_info[1]
            return False
        return True

    def raise_if_any(self, queue_url: str) -> None:
        logging.getLogger(_WORKER_LOGGER).removeFilter(self)
        if self.error is None:
            return
        reason = str(self.error).strip().splitlines()[0] or type(self.error).__name__
        hint = (" (RabbitMQ's consumer_timeout is shorter than a run: raise it, see the README's"
                " \"Several hosts\")" if "acknowledgement" in reason else "")
        raise QueueUnavailableError(f"the queue at {redact(queue_url)} ended this worker's "
                                    f"consumer: {reason}{hint}", queue=redact(queue_url))


def _broker_errors() -> tuple[type[BaseException], ...]:
    """What a connect or publish raises when the broker is unreachable (kombu, sockets, a
    confirm not received in time) or refuses (RabbitMQ: an AMQP channel or connection error
    such as ACCESS_REFUSED, or a nack; it closes the channel over ``max_message_size``)."""
    from amqp.exceptions import AMQPError, MessageNacked
    from kombu.exceptions import KombuError, OperationalError

    return (OperationalError, KombuError, OSError, AMQPError, MessageNacked)


def _check_broker(app: Celery, queue_url: str) -> None:
    """A broker that does not answer at start is ``queue.unavailable`` (the worker refuses to
    start, as ``:serve`` does without its store); once started, Celery reconnects by itself."""
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=_CONNECT_SECONDS)
    except _broker_errors() as exc:  # RabbitMQ's ACCESS_REFUSED is an AMQP channel error
        raise _unavailable(queue_url, exc) from None


def _unavailable(queue_url: str, exc: BaseException) -> QueueUnavailableError:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return QueueUnavailableError(f"the queue at {redact(queue_url)} does not answer: {reason}",
                                 queue=redact(queue_url))


class RetryLater(Exception):
    """Raised by a handler whose message must not be acknowledged yet. Without *countdown*
    (it could not look at the message: the store is away) the message goes back to the queue
    at once; with one, a copy of it comes back after that many seconds (Celery's retry)."""

    def __init__(self, detail: str, *, countdown: float | None = None) -> None:
        super().__init__(detail)
        self.countdown = countdown


__all__: list[Any] = ["CeleryRunQueue", "RetryLater", "make_app", "run_worker"]
