"""RabbitMQ's own limits met by cluster mode's queue, on a private node configured to reach them
quickly: a message above ``max_message_size`` (refused: publisher confirms make that
``queue.unavailable`` instead of a silent loss) and ``consumer_timeout`` (a run held unacked
longer than it is neither lost nor run twice; its worker exits and a new one goes on)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from flwd.adapters.celery_queue import CeleryRunQueue
from flwd.domain.errors import QueueUnavailableError
from tests.integration.api_support import write_job
from tests.integration.cluster_support import (
    ClusterAddresses,
    run_flwd,
    start_replica,
    start_worker,
    until,
)
from tests.integration.e2e_support import IMAGE
from tests.integration.pg_support import PgCluster
from tests.integration.rabbit_support import RabbitNode, running_rabbit

CONSUMER_TIMEOUT_MS = 2000
# RabbitMQ checks the consumer timeout on each channel tick (60 s by default)
STRICT = {"consumer_timeout": str(CONSUMER_TIMEOUT_MS), "max_message_size": "8192"}
TICK = {"channel_tick_interval": "500"}
NAP = f"executor: container\nimage: {IMAGE}\ncommand: [sleep, '4']\n"
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
    the worker finishes its run and exits queue.unavailable (125, no traceback; for its service
    manager to restart it);
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

    said = first.text()
    assert code == 125 and "Traceback" not in said, said
    assert "error[queue.unavailable]: " in said and "consumer_timeout" in said, said
    for done, lines in ((slow, ["begin", "end"]), (quick, ["quick"])):
        events = [json.loads(line) for line in done.stdout.splitlines()]
        assert done.returncode == 0, done.stderr
        assert [e["data"]["line"] for e in events if e["type"] == "run.output"] == lines
    run_id = json.loads(slow.stdout.splitlines()[0])["run_id"]
    types = pg_cluster.sql(f"SELECT type FROM events WHERE run_id = '{run_id}'",
                           pg_url.rsplit("/", 1)[1]).split()
    assert types.count("run.started") == 1 and types.count("run.finished") == 1, types


@pytest.fixture(scope="module")
def beating_node() -> Iterator[RabbitNode]:
    """A node that proposes 1 s AMQP heartbeats: a client that does not send them is cut off
    after about 2 s of silence."""
    with running_rabbit(settings={"heartbeat": "1"}) as node:
        yield node


@pytest.mark.docker
def test_runs_go_through_when_processes_stay_silent_longer_than_the_heartbeat(
        beating_node: RabbitNode, pg_url: str, docker_socket: str, shared_tmp: Path) -> None:
    """The worker's connections take the broker's 1 s heartbeat and live through runs and idle
    time on Celery's threads pool (its event loop sends the heartbeats); a replica publishes
    on connections without heartbeats (Celery's producer pool), which idle time does not cut."""
    write_job(shared_tmp / "jobs", "nap", NAP)
    vhost_url = beating_node.new_vhost()
    env = {**ClusterAddresses(store_url=pg_url, queue_url=vhost_url).env(),
           "DOCKER_HOST": docker_socket}
    worker = start_worker(shared_tmp, env, global_args=["--runtime", "docker"])
    replica = start_replica(shared_tmp, env)
    try:
        beats = beating_node.ctl("list_connections", "-p", vhost_url.rsplit("/", 1)[1],
                                 "--no-table-headers", "timeout").split()
        ended = []
        for _ in range(2):
            with replica.client() as client:
                run_id = client.post("/runs", json={"job": "nap"}).json()["run_id"]
                ended.append(until("the run ends", lambda: (r := client.get(
                    f"/runs/{run_id}").json())["finished_at"] and r, 60))
            time.sleep(5)  # idle: no traffic on either connection but heartbeats
    finally:
        stopped = (worker.stop(), replica.stop())

    assert beats and set(beats) == {"1"}, beats  # the worker's: negotiated down to the node's
    assert [r["status"] for r in ended] == ["succeeded", "succeeded"], ended
    assert "Connection to broker lost" not in worker.text(), worker.text()[-3000:]
    assert stopped == (0, 0), (worker.text()[-2000:], replica.text()[-2000:])


def test_enqueue_is_queue_unavailable_when_rabbitmq_blocks_publishers_on_an_alarm(
        strict_node: RabbitNode) -> None:
    """A disk alarm (free-space limit above the disk's size) blocks publishers: RabbitMQ says
    so (connection.blocked) and the enqueue gives up at once (queue.unavailable) instead of
    waiting for a confirm that cannot come or claiming success; publishing works once the
    alarm clears."""
    url = strict_node.new_vhost()
    queue = CeleryRunQueue(url=url)
    outcome: list[BaseException | None] = []
    try:
        queue.enqueue("alarmed", "run-before", None)
        strict_node.ctl("set_disk_free_limit", "100000GB")
        sender = threading.Thread(target=lambda: outcome.append(_enqueue(queue, "run-blocked")))
        began = time.monotonic()
        sender.start()
        sender.join(60)
        took, blocked = time.monotonic() - began, sender.is_alive()
    finally:
        strict_node.ctl("set_disk_free_limit", "50MB")
        queue.close()
    after = CeleryRunQueue(url=url)
    try:
        until("publishing works again", lambda: _enqueue(after, "run-after") is None, 60)
    finally:
        after.close()

    print(f"enqueue under a disk alarm gave up after {took:.1f} s")
    assert not blocked, "the enqueue still waited a minute into the alarm"
    assert len(outcome) == 1 and isinstance(outcome[0], QueueUnavailableError), outcome
    assert "alarm" in outcome[0].detail, outcome[0].detail


def _enqueue(queue: CeleryRunQueue, run_id: str) -> BaseException | None:
    try:
        queue.enqueue("alarmed", run_id, None)
    except QueueUnavailableError as exc:
        return exc
    return None
