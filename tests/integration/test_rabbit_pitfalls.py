"""RabbitMQ's own limits met by cluster mode's queue, on a private node configured to reach them
quickly: a message above ``max_message_size`` (refused: publisher confirms make that
``queue.unavailable`` instead of a silent loss) and ``consumer_timeout`` (a run held unacked
longer than it is neither lost nor run twice; its worker exits and a new one goes on)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest

from flwd.adapters.celery_queue import CeleryRunQueue
from flwd.domain.errors import QueueUnavailableError
from tests.integration.api_support import write_job
from tests.integration.cluster_support import ClusterAddresses, run_flwd, start_worker, until
from tests.integration.e2e_support import IMAGE
from tests.integration.pg_support import PgCluster
from tests.integration.rabbit_support import RabbitNode, running_rabbit

CONSUMER_TIMEOUT_MS = 2000
# RabbitMQ checks the consumer timeout on each channel tick (60 s by default)
STRICT = {"consumer_timeout": str(CONSUMER_TIMEOUT_MS), "max_message_size": "8192"}
TICK = {"channel_tick_interval": "500"}
QUICK = f"executor: container\nimage: {IMAGE}\ncommand: [echo, quick]\n"
SLOW = f"""\
executor: container
image: {IMAGE}
command: ["sh", "-c", "echo begin; sleep 8; echo end"]
"""


@pytest.fixture(scope="module")
def strict_node() -> Iterator[RabbitNode]:
    with running_rabbit(settings=STRICT, advanced=TICK) as node:
        yield node


def test_enqueue_is_queue_unavailable_when_rabbitmq_refuses_the_message(
        strict_node: RabbitNode) -> None:
    url = strict_node.new_vhost()
    queue = CeleryRunQueue(url=url)
    try:
        with pytest.raises(QueueUnavailableError) as err:
            queue.enqueue("big", "run-too-big", b"x" * 20000)
        queue.enqueue("big", "run-small", None)  # the queue recovers for the next message
    finally:
        queue.close()

    assert err.value.code == "queue.unavailable" and strict_node.password not in err.value.detail
    assert strict_node.depths(url.rsplit("/", 1)[1]) == {"big": 1}


@pytest.mark.docker
def test_a_run_longer_than_the_consumer_timeout_runs_once_and_a_new_worker_takes_the_next(
        strict_node: RabbitNode, pg_cluster: PgCluster, pg_url: str, docker_socket: str,
        shared_tmp: Path) -> None:
    """RabbitMQ closes the channel holding the unacknowledged message: Celery's consumer ends,
    the worker finishes its run and exits non-zero (for its service manager to restart it);
    the message, delivered again, finds its run ended and is acknowledged without running."""
    write_job(shared_tmp / "jobs", "slow", SLOW)
    write_job(shared_tmp / "jobs", "quick", QUICK)
    vhost_url = strict_node.new_vhost()
    env = {**ClusterAddresses(store_url=pg_url, queue_url=vhost_url).env(),
           "DOCKER_HOST": docker_socket}
    first = start_worker(shared_tmp, env, global_args=["--runtime", "docker"],
                         log_name="first.log")
    try:
        slow = run_flwd(shared_tmp, env, "slow", "--json", timeout=120)
        code = until("the first worker exits", first.process.poll, 60)
    finally:
        first.stop()
    second = start_worker(shared_tmp, env, global_args=["--runtime", "docker"],
                          log_name="second.log")
    try:
        quick = run_flwd(shared_tmp, env, "quick", "--json", timeout=120)
        until("the slow run's message acknowledged", lambda: strict_node.depths(
            vhost_url.rsplit("/", 1)[1]).get("default") == 0, 60, every=1.0)
    finally:
        assert second.stop() == 0, second.text()[-3000:]

    assert code != 0 and "PRECONDITION_FAILED" in first.text()
    for done, lines in ((slow, ["begin", "end"]), (quick, ["quick"])):
        events = [json.loads(line) for line in done.stdout.splitlines()]
        assert done.returncode == 0, done.stderr
        assert [e["data"]["line"] for e in events if e["type"] == "run.output"] == lines
    run_id = json.loads(slow.stdout.splitlines()[0])["run_id"]
    types = pg_cluster.sql(f"SELECT type FROM events WHERE run_id = '{run_id}'",
                           pg_url.rsplit("/", 1)[1]).split()
    assert types.count("run.started") == 1 and types.count("run.finished") == 1, types
