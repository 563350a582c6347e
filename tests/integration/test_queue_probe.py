"""KombuQueueProbe against a real Redis and a real RabbitMQ (private, redis_support.py and
rabbit_support.py): depths as the broker tells them, queues never created by asking,
queue.unavailable (password hidden) when it is away or refuses the login."""

from __future__ import annotations

import kombu
import pytest

from flwd.adapters.kombu_probe import KombuQueueProbe
from flwd.domain.errors import QueueUnavailableError
from tests.integration.pg_support import free_port
from tests.integration.rabbit_support import RabbitNode
from tests.integration.redis_support import RedisServer, redis_server, redis_url  # noqa: F401


def test_probe_reads_queue_depths_without_creating_queues_when_redis_answers(
        redis_server: RedisServer, redis_url: str) -> None:  # noqa: F811
    redis_server.cli("RPUSH", "default", "m1", "m2", "m3")

    status = KombuQueueProbe(redis_url, timeout=5).probe(["default", "gpu"])

    assert status.depths == {"default": 3, "gpu": 0}
    assert status.broker.startswith("redis://") and str(redis_server.port) in status.broker
    assert redis_server.keys() == ["default"]  # "gpu" was not created by asking


def test_probe_is_queue_unavailable_without_the_password_when_nothing_listens() -> None:
    url = f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"

    with pytest.raises(QueueUnavailableError) as err:
        KombuQueueProbe(url, timeout=2).probe(["default"])

    assert err.value.code == "queue.unavailable"
    assert "hunter2" not in err.value.detail and "does not answer" in err.value.detail


def test_probe_reads_queue_depths_without_creating_queues_when_rabbitmq_answers(
        rabbit_node: RabbitNode, rabbit_url: str) -> None:
    with kombu.Connection(rabbit_url) as connection:
        waiting = connection.SimpleQueue("default")
        for n in range(3):
            waiting.put({"n": n})
        waiting.close()

    status = KombuQueueProbe(rabbit_url, timeout=5).probe(["default", "gpu"])

    assert status.depths == {"default": 3, "gpu": None}  # RabbitMQ has no "gpu" queue to tell
    assert status.broker.startswith("amqp://") and rabbit_node.password not in status.broker
    assert rabbit_node.depths(rabbit_url.rsplit("/", 1)[1]) == {"default": 3}


def test_probe_is_queue_unavailable_without_the_password_when_rabbitmq_refuses_the_login(
        rabbit_node: RabbitNode) -> None:
    url = rabbit_node.url.replace(rabbit_node.password, "hunter2-wrong")

    with pytest.raises(QueueUnavailableError) as err:
        KombuQueueProbe(url, timeout=5).probe(["default"])

    assert err.value.code == "queue.unavailable" and "hunter2" not in err.value.detail
