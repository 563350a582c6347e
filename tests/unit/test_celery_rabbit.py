"""The Celery queue's RabbitMQ-specific settings and its end-of-consumer error, without a
broker (test_rabbit_pitfalls.py meets them on a real RabbitMQ)."""

from __future__ import annotations

import logging

import pytest
from amqp.exceptions import PreconditionFailed

from flwd.adapters.celery_queue import _Blocked, _ConsumerEnded, _publisher_app, make_app
from flwd.domain.errors import QueueUnavailableError

CLOSED = PreconditionFailed("PRECONDITION_FAILED - delivery acknowledgement on channel 1 "
                            "timed out. Timeout value used: 1800000 ms.")


def test_publishes_wait_for_rabbitmqs_confirm_when_the_queue_url_is_amqp() -> None:
    amqp = make_app("amqp://u:p@127.0.0.1:1//").conf.broker_transport_options
    redis = make_app("redis://127.0.0.1:1/0").conf.broker_transport_options

    assert amqp["confirm_publish"] is True and "visibility_timeout" not in amqp
    assert "confirm_publish" not in redis and redis["visibility_timeout"] == 3600


def test_worker_ends_queue_unavailable_without_a_traceback_when_celerys_consumer_died() -> None:
    ended = _ConsumerEnded.attach()
    try:
        raise CLOSED
    except PreconditionFailed:
        logging.getLogger("celery.worker").critical("Unrecoverable error", exc_info=True)

    with pytest.raises(QueueUnavailableError) as err:
        ended.raise_if_any("amqp://flwd:hunter2@127.0.0.1:5673//")

    assert "consumer_timeout" in err.value.detail and "hunter2" not in err.value.detail
    assert ended not in logging.getLogger("celery.worker").filters


def test_worker_ends_as_celery_said_when_its_consumer_never_died() -> None:
    ended = _ConsumerEnded.attach()
    logging.getLogger("celery.worker").warning("a warning, not the end")

    ended.raise_if_any("amqp://flwd:hunter2@127.0.0.1:5673//")

    assert ended.error is None


def test_only_publishers_fail_on_a_blocked_rabbitmq_when_the_queue_url_is_amqp() -> None:
    publisher = _publisher_app("amqp://u:p@127.0.0.1:1//").conf.broker_transport_options
    worker = make_app("amqp://u:p@127.0.0.1:1//").conf.broker_transport_options

    with pytest.raises(_Blocked):
        publisher["on_blocked"]("connection blocked")
    assert publisher["read_timeout"] > 0 and publisher["confirm_publish"] is True
    assert "on_blocked" not in worker and "read_timeout" not in worker
