"""CeleryRunQueue.redeliver on real brokers: on Redis the message a consumer died holding
(kombu's ``unacked`` hash) goes back to its queue, found by its run id; RabbitMQ does that by
itself, so nothing is moved there."""

from __future__ import annotations

import subprocess
import sys

import pytest

from flwd.adapters.celery_queue import CeleryRunQueue
from flwd.domain.errors import QueueUnavailableError
from tests.integration.pg_support import free_port
from tests.integration.redis_support import RedisServer

# a kombu consumer that takes one message off queue "q" and dies holding it: no ack, and no
# restore at shutdown (as a SIGKILLed worker)
_TAKE_AND_DIE = """
import os, sys, kombu
connection = kombu.Connection(sys.argv[1])
channel = connection.channel()
channel.basic_qos(0, 1, False)
taken = []
channel.basic_consume("q", no_ack=False, callback=taken.append, consumer_tag="t")
while not taken:
    connection.drain_events(timeout=10)
os._exit(0)
"""


def _take_and_die(url: str) -> None:
    subprocess.run([sys.executable, "-c", _TAKE_AND_DIE, url], check=True, timeout=60)


def test_redeliver_puts_back_only_the_runs_held_message_when_its_consumer_died_on_redis(
        redis_server: RedisServer, redis_url: str) -> None:
    queue = CeleryRunQueue(url=redis_url)
    queue.enqueue("q", "r-held", b"sealed")
    queue.enqueue("q", "r-waiting", None)
    _take_and_die(redis_url)  # takes r-held, the first one queued
    held_before = redis_server.cli("HLEN", "unacked").strip()

    missing, found = queue.redeliver("r-other"), queue.redeliver("r-held")

    queue.close()
    assert held_before == "1" and (missing, found) == (False, True)
    assert redis_server.cli("HLEN", "unacked").strip() == "0"
    assert redis_server.cli("LLEN", "q").strip() == "2"
    # back at the end the consumers pop first: it runs before the run that waited
    assert "r-held" in redis_server.cli("LINDEX", "q", "-1")


def test_redeliver_answers_true_and_moves_nothing_when_the_broker_is_rabbitmq(
        rabbit_url: str) -> None:
    queue = CeleryRunQueue(url=rabbit_url)
    queue.enqueue("q", "r-waiting", None)

    answered = queue.redeliver("r-lost")

    queue.close()
    assert answered is True


def test_redeliver_is_queue_unavailable_when_redis_does_not_answer() -> None:
    with pytest.raises(QueueUnavailableError):
        CeleryRunQueue(url=f"redis://127.0.0.1:{free_port()}/0").redeliver("r-1")
