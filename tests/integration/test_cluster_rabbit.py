"""Cluster mode on RabbitMQ (SPEC section 11: ``queue_url: amqp://...``): a private node
(rabbit_support.py) and PostgreSQL, two real ``flwd :worker`` processes (rootless Podman on
queue ``default``, Docker on queue ``dock``) and two ``flwd :serve`` replicas on loopback. Runs
are streamed, routed, canceled, drained, kept secret, counted by ``/metrics`` and ``:doctor``,
and survive a broker restart; a broker that is away is ``queue.unavailable``."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.integration.api_support import remove_tree, shared_dir, sse, write_job
from tests.integration.cluster_support import (
    ClusterAddresses,
    FlwdProcess,
    run_flwd,
    start_replica,
    start_worker,
    until,
)
from tests.integration.cluster_jobs import HELLO, LINES, SLEEPER, TICKER
from tests.integration.cluster_jobs import ended as _ended
from tests.integration.cluster_jobs import get_run as _run
from tests.integration.cluster_jobs import status_is as _status_is
from tests.integration.cluster_jobs import submit as _submit
from tests.integration.e2e_support import Runtime
from tests.integration.pg_support import PgCluster
from tests.integration.rabbit_support import RabbitNode
from tests.integration.requeue_support import requeue_secret_run

pytestmark = [pytest.mark.podman, pytest.mark.docker]
GRACE = 2.0
SECRET = "rb-5ecret-Qw47-never-stored"
QUEUES = ("default", "dock", "parked", "drain", "metered", "later")


@dataclass
class Cluster:
    base: Path
    addresses: ClusterAddresses
    podman: Runtime
    docker: Runtime
    pg: PgCluster
    rabbit: RabbitNode
    replicas: tuple[FlwdProcess, ...] = ()

    @property
    def env(self) -> dict[str, str]:
        return {**self.addresses.env(), "FLWD_CANCEL_GRACE": f"{GRACE:g}s"}

    @property
    def vhost(self) -> str:
        return self.addresses.queue_url.rsplit("/", 1)[1]

    def worker(self, queue: str, log_name: str, **env: str) -> FlwdProcess:
        """A Podman worker on *queue* (concurrency 1), started and consuming."""
        return start_worker(self.base, {**self.env, **self.podman.env, **env}, queues=[queue],
                            concurrency=1, global_args=["--runtime", "podman"],
                            log_name=log_name)

    def depths(self) -> dict[str, int]:
        return self.rabbit.depths(self.vhost)

    def events(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.pg.sql(f"SELECT type, data FROM events WHERE run_id = '{run_id}' "
                           "ORDER BY seq", self.addresses.store_url.rsplit("/", 1)[1])
        return [{"type": kind, "data": json.loads(data)}
                for kind, data in (line.split("|", 1) for line in rows.splitlines() if line)]


@pytest.fixture(scope="module")
def cluster(pg_cluster: PgCluster, rabbit_node: RabbitNode, podman_socket: str,
            docker_socket: str) -> Iterator[Cluster]:
    store_url = pg_cluster.new_database()
    queue_url = rabbit_node.new_vhost()
    base = shared_dir("rabbit-")
    write_job(base / "jobs", "ticker", TICKER)
    for queue in QUEUES:
        write_job(base / "jobs", f"hello-{queue}", HELLO.format(queue=queue))
        write_job(base / "jobs", f"sleeper-{queue}", SLEEPER.format(queue=queue))
    built = Cluster(base=base, pg=pg_cluster, rabbit=rabbit_node,
                    addresses=ClusterAddresses(store_url=store_url, queue_url=queue_url),
                    podman=Runtime(name="podman", socket=podman_socket),
                    docker=Runtime(name="docker", socket=docker_socket))
    started: list[FlwdProcess] = []
    try:
        started.append(start_worker(base, {**built.env, **built.podman.env},
                                    global_args=["--runtime", "podman"],
                                    log_name="worker-podman.log"))
        started.append(start_worker(base, {**built.env, **built.docker.env}, queues=["dock"],
                                    global_args=["--runtime", "docker"],
                                    log_name="worker-docker.log"))
        built.replicas = tuple(start_replica(base, built.env, log_name=f"replica-{name}.log")
                               for name in "ab")
        started += built.replicas
        yield built
    finally:
        codes = {p.log.name: p.stop() for p in started}
        logs = {p.log.name: p.text()[-3000:] for p in started}
        remove_tree(base)
        rabbit_node.ctl("delete_vhost", built.vhost)
        pg_cluster.sql(f"DROP DATABASE IF EXISTS {store_url.rsplit('/', 1)[1]} WITH (FORCE)")
        assert all(code == 0 for code in codes.values()), (codes, logs)


def test_a_run_submitted_on_one_replica_streams_complete_on_the_other_when_on_rabbitmq(
        cluster: Cluster) -> None:
    replica_a, replica_b = cluster.replicas
    run = _submit(replica_a, "ticker")

    with replica_b.client() as client:
        lines = [m["data"]["data"]["line"] for m in sse(client, run["run_id"])
                 if m["data"]["type"] == "run.output"]

    assert lines == [f"tick {i}" for i in range(1, LINES + 1)]
    assert _run(replica_b, run["run_id"])["status"] == "succeeded"


@pytest.mark.parametrize(("queue", "runtime"), [("default", "podman"), ("dock", "docker")])
def test_the_cli_runs_a_job_on_its_queues_worker_when_the_broker_is_rabbitmq(
        cluster: Cluster, queue: str, runtime: str) -> None:
    done = run_flwd(cluster.base, cluster.env, f"hello-{queue}", "--who", "ada",
                    "--token", SECRET, "--json")

    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 3 and events[-1]["type"] == "run.finished", done.stderr
    assert [e["data"]["line"] for e in events if e["type"] == "run.output"
            and e["data"]["stream"] == "stdout"] == ["hello ada", "***"]
    run = _run(cluster.replicas[0], events[0]["run_id"])
    assert run["runtime"].startswith(runtime) and run["exit_code"] == 3


def test_a_queued_run_canceled_through_the_other_replica_never_starts_when_on_rabbitmq(
        cluster: Cluster) -> None:
    replica_a, replica_b = cluster.replicas
    run = _submit(replica_a, "hello-parked", {"who": "x"})
    waiting = cluster.depths().get("parked")

    with replica_b.client() as client:
        canceled = client.post(f"/runs/{run['run_id']}:cancel")
    late = cluster.worker("parked", "worker-parked.log")
    try:  # taken, then acknowledged (late: after the task returned)
        until("the parked message consumed and acknowledged",
              lambda: cluster.depths().get("parked") == 0, 60, every=1.0)
    finally:
        assert late.stop() == 0, late.text()

    assert waiting == 1
    assert canceled.status_code == 202 and canceled.json()["status"] == "canceled"
    types = [e["type"] for e in cluster.events(run["run_id"])]
    assert "run.started" not in types and types[-1] == "run.finished"
    assert cluster.podman.containers(run["run_id"]) == []


@pytest.mark.parametrize(("queue", "runtime"), [("default", "podman"), ("dock", "docker")])
def test_a_running_run_canceled_through_the_other_replica_is_gone_within_the_grace_on_rabbitmq(
        cluster: Cluster, queue: str, runtime: str) -> None:
    replica_a, replica_b = cluster.replicas
    target = cluster.podman if runtime == "podman" else cluster.docker
    run = _submit(replica_a, f"sleeper-{queue}")
    _status_is(replica_b, run["run_id"], "running")

    asked = time.monotonic()
    with replica_b.client() as client:
        assert client.post(f"/runs/{run['run_id']}:cancel").status_code == 202
    until("container removed", lambda: target.containers(run["run_id"]) == [], GRACE + 10)
    gone_after = time.monotonic() - asked

    assert _ended(replica_a, run["run_id"])["status"] == "canceled"
    assert gone_after <= GRACE + 2.0, gone_after


def test_sigterm_to_a_worker_ends_its_run_canceled_and_it_exits_when_on_rabbitmq(
        cluster: Cluster) -> None:
    worker = cluster.worker("drain", "worker-drain.log")
    try:
        run = _submit(cluster.replicas[0], "sleeper-drain")
        _status_is(cluster.replicas[1], run["run_id"], "running")
        worker.signal(signal.SIGTERM)
        code = worker.process.wait(60)
    finally:
        worker.stop()

    assert code == 0, worker.text()
    assert _run(cluster.replicas[1], run["run_id"])["status"] == "canceled"
    assert cluster.podman.containers(run["run_id"]) == []
    assert cluster.depths().get("drain") == 0  # acknowledged, not handed back


def test_metrics_and_doctor_read_rabbitmqs_queue_depth_when_runs_wait(cluster: Cluster) -> None:
    worker = cluster.worker("metered", "worker-metered.log")
    try:
        busy = _submit(cluster.replicas[0], "sleeper-metered")  # takes the worker's one slot
        _status_is(cluster.replicas[0], busy["run_id"], "running")
        waiting = [_submit(cluster.replicas[0], "hello-metered", {"who": str(n)})
                   for n in range(2)]
        with cluster.replicas[1].client() as client:
            metrics = until("two runs waiting in /metrics", lambda: (
                text := client.get("/metrics").text) and
                'flwd_queue_depth{queue="metered"} 2' in text and text, 30)
        doctor = run_flwd(cluster.base, cluster.env, ":doctor", "--json")
        for run in (busy, *waiting):
            run_flwd(cluster.base, cluster.env, ":cancel", run["run_id"])
    finally:
        assert worker.stop() == 0, worker.text()

    assert "flwd_queue_up 1" in metrics and 'flwd_queue_depth{queue="default"} 0' in metrics
    checks = {c["check"]: (c["ok"], c["detail"]) for c in json.loads(doctor.stdout)["checks"]}
    assert checks["queue"][0] and checks["queue"][1].startswith("amqp://"), checks
    assert cluster.rabbit.password not in doctor.stdout


def test_a_secret_is_in_no_rabbitmq_file_or_store_byte_when_a_run_carries_it(
        cluster: Cluster) -> None:
    parked = _submit(cluster.replicas[0], "hello-parked", {"who": "s", "token": SECRET})
    queued = cluster.rabbit.files_bytes()  # the message confirmed: persistent, on disk
    ran = _submit(cluster.replicas[1], "hello-default", {"who": "s", "token": SECRET})
    ended = _ended(cluster.replicas[0], ran["run_id"])
    run_flwd(cluster.base, cluster.env, ":cancel", parked["run_id"])
    after = cluster.rabbit.files_bytes()
    dumped = subprocess.run([str(cluster.pg.bindir / "pg_dump"), cluster.addresses.store_url],
                            capture_output=True, timeout=60, check=True).stdout

    assert parked["run_id"].encode() in queued  # the message was there to be read
    for found in (queued, after):
        assert SECRET.encode() not in found + _base64_decoded(found)
    assert SECRET.encode() not in dumped and b"hello s" in dumped
    assert ended["exit_code"] == 3


def _base64_decoded(data: bytes) -> bytes:
    """Every base64 run of 16+ characters in *data*, decoded (a message's sealed secrets are
    base64 inside its JSON body)."""
    chunks = []
    for match in re.finditer(rb"[A-Za-z0-9+/=_-]{16,}", data):
        text = match.group()
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                chunks.append(decode(text + b"=" * (-len(text) % 4)))
            except (binascii.Error, ValueError):
                continue
    return b"\n".join(chunks)


def test_a_lost_workers_secret_run_is_requeued_from_its_own_message_when_on_rabbitmq(
        cluster: Cluster) -> None:
    """requeue_support's scenario on RabbitMQ: the broker hands `doomed`'s unacknowledged
    message to `survivor` as soon as the SIGKILL closes its connection, before any sweep;
    survivor keeps it (retried each heartbeat), and once the run is queued again runs it."""
    done = requeue_secret_run(cluster.base, cluster.env, cluster.replicas[1], cluster.docker,
                              SECRET)
    dumped = subprocess.run([str(cluster.pg.bindir / "pg_dump"), cluster.addresses.store_url],
                            capture_output=True, timeout=60, check=True).stdout
    on_disk = cluster.rabbit.files_bytes()

    sha = hashlib.sha256(SECRET.encode()).hexdigest()
    assert done.final["status"] == "succeeded", (done.final, done.types)
    assert done.types.count("run.requeued") == 1 and done.types.count("run.started") == 1
    assert done.types.index("run.requeued") < done.types.index("run.started")
    assert done.outputs == [f"sha={sha}"]
    assert SECRET.encode() not in dumped + on_disk + _base64_decoded(on_disk)


def test_a_queued_run_runs_after_a_broker_restart_when_rabbitmq_kept_it(
        cluster: Cluster) -> None:
    run = _submit(cluster.replicas[0], "hello-later", {"who": "kept"})

    cluster.rabbit.stop()
    cluster.rabbit.start()
    late = cluster.worker("later", "worker-later.log")
    try:
        ended = _ended(cluster.replicas[1], run["run_id"])
    finally:
        assert late.stop() == 0, late.text()

    assert (ended["status"], ended["exit_code"]) == ("failed", 3), ended
    lines = [e["data"]["line"] for e in cluster.events(run["run_id"]) if e["type"] == "run.output"]
    assert lines[0] == "hello kept"


def test_runs_end_queue_unavailable_with_nothing_half_recorded_when_rabbitmq_is_stopped(
        cluster: Cluster) -> None:
    cluster.rabbit.stop()
    try:
        cli = run_flwd(cluster.base, cluster.env, "hello-default", "--who", "nobody", "--json")
        api = _submit(cluster.replicas[0], "hello-default", {"who": "nobody"}, status=503)
        doctor = run_flwd(cluster.base, cluster.env, ":doctor", "--json")
    finally:
        cluster.rabbit.start()
    after = run_flwd(cluster.base, cluster.env, "hello-default", "--who", "back", "--json")

    assert cli.returncode == 125 and "error[queue.unavailable]: the queue at amqp://" in cli.stderr
    assert cluster.rabbit.password not in cli.stderr + json.dumps(api) + doctor.stdout
    events = [json.loads(line) for line in cli.stdout.splitlines()]
    assert (events[-1]["data"]["status"], events[-1]["data"]["code"]) == ("error",
                                                                          "queue.unavailable")
    assert [e["type"] for e in events].count("run.started") == 0
    assert api["code"] == "queue.unavailable"
    checks = {c["check"]: c["ok"] for c in json.loads(doctor.stdout)["checks"]}
    assert doctor.returncode == 125 and checks["queue"] is False
    assert after.returncode == 3, after.stderr  # the workers and replicas reconnected


def test_a_refused_rabbitmq_login_is_queue_unavailable_for_a_worker_a_cli_run_and_doctor(
        cluster: Cluster) -> None:
    wrong = {**cluster.env, "FLWD_QUEUE_URL": cluster.addresses.queue_url.replace(
        cluster.rabbit.password, "hunter2-wrong")}

    worker = run_flwd(cluster.base, {**wrong, **cluster.podman.env}, "--runtime", "podman",
                      ":worker", timeout=60)
    cli = run_flwd(cluster.base, wrong, "hello-default", "--who", "nobody", "--json")
    doctor = run_flwd(cluster.base, wrong, ":doctor")

    for done in (worker, cli, doctor):
        assert done.returncode == 125, done.stderr
        assert "Traceback" not in done.stderr and "hunter2" not in done.stdout + done.stderr
    assert worker.stderr.startswith("error[queue.unavailable]: "), worker.stderr
    assert "ACCESS_REFUSED" in worker.stderr and "error[queue.unavailable]: " in cli.stderr
    events = [json.loads(line) for line in cli.stdout.splitlines()]
    assert (events[-1]["data"]["status"], events[-1]["data"]["code"]) == ("error",
                                                                          "queue.unavailable")
