"""Cluster mode end to end (SPEC section 11): a private PostgreSQL and Redis, two real
``flwd :worker`` processes (rootless Podman on queue ``default``, Docker on queue ``dock``)
and two ``flwd :serve`` replicas, all on loopback; runs submitted through either replica or
the CLI, streamed, routed, canceled and kept secret across them."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.integration.api_support import remove_tree, shared_dir, sse, write_job
from tests.integration.cluster_support import (
    until,
    ClusterAddresses,
    FlwdProcess,
    base_env,
    flwd_argv,
    run_flwd,
    start_replica,
    start_worker,
)
from tests.integration.cluster_jobs import HELLO, LINES, SLEEPER, TICKER
from tests.integration.cluster_jobs import ended as _ended
from tests.integration.cluster_jobs import get_run as _run
from tests.integration.cluster_jobs import status_is as _status_is
from tests.integration.cluster_jobs import submit as _submit
from tests.integration.e2e_support import Runtime
from tests.integration.pg_support import PgCluster
from tests.integration.redis_support import RedisServer
from tests.integration.requeue_support import requeue_secret_run

pytestmark = [pytest.mark.podman, pytest.mark.docker]
GRACE = 2.0
DB = 1  # this module's Redis database
SECRET = "cl-5ecret-Zx81-never-stored"
# ignores SIGTERM: only a kill stops it before its grace is over
STUBBORN = ("executor: container\nimage: alpine:3.20\nqueue: stubborn\n"
            "command: [sh, -c, \"trap '' TERM; sleep 300 & wait\"]\n")


@dataclass
class Cluster:
    base: Path
    addresses: ClusterAddresses
    podman: Runtime
    docker: Runtime
    pg: PgCluster
    redis: RedisServer
    workers: dict[str, FlwdProcess]
    replicas: tuple[FlwdProcess, FlwdProcess]

    @property
    def env(self) -> dict[str, str]:
        return {**self.addresses.env(), "FLWD_CANCEL_GRACE": f"{GRACE:g}s"}

    def worker_env(self, runtime: Runtime) -> dict[str, str]:
        return {**self.env, **runtime.env}

    def sql(self, statement: str) -> str:
        return self.pg.sql(statement, self.addresses.store_url.rsplit("/", 1)[1])


@pytest.fixture(scope="module")
def cluster(pg_cluster: PgCluster, redis_server: RedisServer, podman_socket: str,
            docker_socket: str) -> Iterator[Cluster]:
    store_url = pg_cluster.new_database()
    base = shared_dir("cluster-")
    jobs = base / "jobs"
    write_job(jobs, "ticker", TICKER)
    for queue in ("default", "dock", "parked", "drain"):
        write_job(jobs, f"hello-{queue}", HELLO.format(queue=queue))
        write_job(jobs, f"sleeper-{queue}", SLEEPER.format(queue=queue))
    write_job(jobs, "stubborn", STUBBORN)
    built = Cluster(base=base, pg=pg_cluster, redis=redis_server, workers={}, replicas=(),  # type: ignore[arg-type]
                    addresses=ClusterAddresses(store_url=store_url,
                                               queue_url=redis_server.url_for(DB)),
                    podman=Runtime(name="podman", socket=podman_socket),
                    docker=Runtime(name="docker", socket=docker_socket))
    started: list[FlwdProcess] = []
    try:
        built.workers["podman"] = start_worker(base, built.worker_env(built.podman),
                                               global_args=["--runtime", "podman"],
                                               log_name="worker-podman.log")
        started.append(built.workers["podman"])
        built.workers["docker"] = start_worker(base, built.worker_env(built.docker),
                                               queues=["dock"], global_args=["--runtime", "docker"],
                                               log_name="worker-docker.log")
        started.append(built.workers["docker"])
        replicas = tuple(start_replica(base, built.env, log_name=f"replica-{name}.log")
                         for name in "ab")
        started += replicas
        built.replicas = replicas  # type: ignore[assignment]
        yield built
    finally:
        codes = {p.log.name: p.stop() for p in started}
        logs = {p.log.name: p.text()[-3000:] for p in started}
        remove_tree(base)
        redis_server.cli("-n", str(DB), "FLUSHDB")
        pg_cluster.sql(f"DROP DATABASE IF EXISTS {store_url.rsplit('/', 1)[1]} WITH (FORCE)")
        assert all(code == 0 for code in codes.values()), (codes, logs)


def _events(cluster: Cluster, run_id: str) -> list[dict[str, Any]]:
    rows = cluster.sql(f"SELECT seq, type, data FROM events WHERE run_id = '{run_id}' "
                       "ORDER BY seq")
    return [{"seq": int(seq), "type": kind, "data": json.loads(data)}
            for seq, kind, data in (line.split("|", 2) for line in rows.splitlines() if line)]


def test_a_run_submitted_on_one_replica_streams_complete_on_the_other(cluster: Cluster) -> None:
    replica_a, replica_b = cluster.replicas
    run = _submit(replica_a, "ticker")
    lags: list[float] = []
    lines: list[str] = []

    with replica_b.client() as client:
        for message in sse(client, run["run_id"]):
            event = message["data"]
            if event["type"] == "run.output":
                lines.append(event["data"]["line"])
                recorded = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
                lags.append(time.time() - recorded.timestamp())

    assert lines == [f"tick {i}" for i in range(1, LINES + 1)]
    assert _run(replica_b, run["run_id"])["status"] == "succeeded"
    assert sorted(lags)[len(lags) // 2] < 1.0, lags  # SPEC 11: within 1 s on every replica


@pytest.mark.parametrize(("queue", "runtime"), [("default", "podman"), ("dock", "docker")])
def test_the_cli_runs_a_job_through_the_cluster_on_its_queues_worker_as_locally(
        cluster: Cluster, queue: str, runtime: str) -> None:
    done = run_flwd(cluster.base, cluster.env, f"hello-{queue}", "--who", "ada",
                    "--token", SECRET)
    as_json = run_flwd(cluster.base, cluster.env, f"hello-{queue}", "--who", "bo", "--json")

    assert (done.returncode, done.stdout) == (3, "hello ada\n***\n"), done.stderr
    assert "oops\n" in done.stderr
    events = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert as_json.returncode == 3 and events[-1]["type"] == "run.finished"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    run = _run(cluster.replicas[0], events[0]["run_id"])
    assert run["runtime"].startswith(runtime) and run["exit_code"] == 3


def test_ctrl_c_on_a_cli_run_through_the_cluster_cancels_it_on_its_worker(
        cluster: Cluster) -> None:
    process = subprocess.Popen(flwd_argv((), cluster.base, "sleeper-default", "--json"),
                               env=base_env(cluster.base / "home", cluster.env),
                               cwd=cluster.base, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    assert process.stdout is not None
    run_id = ""
    for line in process.stdout:
        event = json.loads(line)
        run_id = event["run_id"]
        if event["type"] == "run.started":
            break
    process.send_signal(signal.SIGINT)
    rest, err = process.communicate(timeout=GRACE + 30)

    assert process.returncode == 130, err
    assert json.loads(rest.splitlines()[-1])["data"]["status"] == "canceled"
    assert cluster.podman.containers(run_id) == []


def test_a_queued_run_canceled_through_the_other_replica_never_starts(cluster: Cluster) -> None:
    replica_a, replica_b = cluster.replicas
    run = _submit(replica_a, "hello-parked", {"who": "x"})

    with replica_b.client() as client:
        canceled = client.post(f"/runs/{run['run_id']}:cancel")
    late = start_worker(cluster.base, cluster.worker_env(cluster.podman), queues=["parked"],
                        global_args=["--runtime", "podman"], log_name="worker-parked.log")
    try:
        # taken off the list, then acknowledged (late: after the task returned)
        until("the parked message is consumed and acknowledged",
              lambda: cluster.redis.cli("-n", str(DB), "LLEN", "parked").strip() == "0"
              and cluster.redis.cli("-n", str(DB), "HLEN", "unacked").strip() == "0", 60,
              every=0.1)
    finally:
        assert late.stop() == 0, late.text()

    assert canceled.status_code == 202 and canceled.json()["status"] == "canceled"
    types = [e["type"] for e in _events(cluster, run["run_id"])]
    assert "run.started" not in types and types[-1] == "run.finished"
    assert cluster.podman.containers(run["run_id"]) == []


@pytest.mark.parametrize(("queue", "runtime"), [("default", "podman"), ("dock", "docker")])
def test_a_running_run_canceled_through_the_other_replica_is_gone_within_the_grace(
        cluster: Cluster, queue: str, runtime: str) -> None:
    replica_a, replica_b = cluster.replicas
    target = cluster.podman if runtime == "podman" else cluster.docker
    run = _submit(replica_a, f"sleeper-{queue}")
    _status_is(replica_b, run["run_id"], "running")

    asked = time.monotonic()
    with replica_b.client() as client:
        assert client.post(f"/runs/{run['run_id']}:cancel").status_code == 202
    until("container removed", lambda: target.containers(run["run_id"]) == [], GRACE + 10,
          every=0.1)
    gone_after = time.monotonic() - asked

    assert _ended(replica_a, run["run_id"])["status"] == "canceled"
    assert gone_after <= GRACE + 2.0, gone_after


def test_one_idempotency_key_sent_to_both_replicas_at_once_makes_one_run(
        cluster: Cluster) -> None:
    answers: list[dict[str, Any]] = []
    barrier = threading.Barrier(2)

    def post(replica: FlwdProcess) -> None:
        barrier.wait()
        answers.append(_submit(replica, "hello-default", {"who": "once"}, key="same-key-1"))

    threads = [threading.Thread(target=post, args=(r,)) for r in cluster.replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(answers) == 2 and answers[0]["run_id"] == answers[1]["run_id"]
    assert cluster.sql("SELECT count(*) FROM runs WHERE idempotency_key = 'same-key-1'"
                       ).strip() == "1"
    _ended(cluster.replicas[0], answers[0]["run_id"])


def test_a_secret_is_never_in_the_store_the_queue_or_an_api_response(cluster: Cluster) -> None:
    replica_a, replica_b = cluster.replicas
    parked = _submit(replica_a, "hello-parked", {"who": "s", "token": SECRET})
    queued_bytes = (cluster.redis.dump(DB) + "\n".join(cluster.redis.keys(DB)).encode()
                    + cluster.redis.rdb())
    ran = _submit(replica_b, "hello-default", {"who": "s", "token": SECRET})
    ended = _ended(replica_a, ran["run_id"])
    with replica_a.client() as client:
        client.post(f"/runs/{parked['run_id']}:cancel")
        responses = [client.get(path).text for path in
                     ("/runs", f"/runs/{ran['run_id']}", f"/runs/{parked['run_id']}")]
        responses += [json.dumps(m) for m in sse(client, ran["run_id"])]
    dumped = subprocess.run([str(cluster.pg.bindir / "pg_dump"), cluster.addresses.store_url],
                            capture_output=True, timeout=60, check=True).stdout

    assert parked["run_id"].encode() in queued_bytes  # the message was there to be read
    assert SECRET.encode() not in queued_bytes
    assert SECRET.encode() not in dumped and b"hello s" in dumped  # the job's own output is there
    assert ended["exit_code"] == 3 and not any(SECRET in text for text in responses)
    assert any('"line": "***"' in text for text in responses)


def _secret_bytes(cluster: Cluster) -> bytes:
    """What the store and the broker hold: pg_dump, Redis's keys, values and RDB file."""
    dumped = subprocess.run([str(cluster.pg.bindir / "pg_dump"), cluster.addresses.store_url],
                            capture_output=True, timeout=60, check=True).stdout
    return (dumped + cluster.redis.dump(DB) + "\n".join(cluster.redis.keys(DB)).encode()
            + cluster.redis.rdb())


def test_a_lost_workers_secret_run_is_requeued_from_its_own_message_to_another_worker(
        cluster: Cluster) -> None:
    """requeue_support's scenario on Redis: the sweeper puts the message `doomed` never
    acknowledged back from kombu's unacked hash; `survivor` runs the run once with its secret."""
    done = requeue_secret_run(cluster.base, cluster.env, cluster.replicas[0], cluster.docker,
                              SECRET)
    held = _secret_bytes(cluster)

    sha = hashlib.sha256(SECRET.encode()).hexdigest()
    assert done.final["status"] == "succeeded", (done.final, done.types)
    assert done.types.count("run.requeued") == 1 and done.types.count("run.started") == 1
    assert done.types.index("run.requeued") < done.types.index("run.started")
    assert done.outputs == [f"sha={sha}"]
    assert SECRET.encode() not in held and done.run_id.encode() in held


def test_a_postgresql_restart_mid_run_loses_and_repeats_no_event(cluster: Cluster) -> None:
    replica_a = cluster.replicas[0]
    run = _submit(replica_a, "ticker")
    _status_is(replica_a, run["run_id"], "running")

    cluster.pg.stop()
    time.sleep(1.0)
    cluster.pg.start()
    ended = _ended(replica_a, run["run_id"], seconds=120)

    events = _events(cluster, run["run_id"])
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    lines = [e["data"]["line"] for e in events if e["type"] == "run.output"]
    assert len(lines) == len(set(lines)) and events[-1]["type"] == "run.finished"
    assert ended["status"] == "succeeded" or (ended["status"] == "error" and ended["code"])
    if ended["status"] == "succeeded":
        assert lines == [f"tick {i}" for i in range(1, LINES + 1)]


def test_a_worker_refuses_to_start_queue_unavailable_when_the_broker_does_not_answer(
        cluster: Cluster) -> None:
    env = {**cluster.worker_env(cluster.podman), "FLWD_QUEUE_URL": "redis://127.0.0.1:1/0"}

    done = run_flwd(cluster.base, env, ":worker", timeout=60)

    assert done.returncode == 125, done.stderr
    assert done.stderr.startswith("error[queue.unavailable]: the queue at redis://127.0.0.1:1/0")


@pytest.mark.parametrize(("queue", "job", "grace", "sigterms"), [
    ("drain", "sleeper-drain", f"{GRACE:g}s", 1),  # graceful: the job ends on SIGTERM
    ("stubborn", "stubborn", "120s", 2),  # the second signal kills: the grace is not waited
])
def test_sigterm_to_a_worker_ends_its_runs_canceled_and_it_exits(
        cluster: Cluster, queue: str, job: str, grace: str, sigterms: int) -> None:
    env = {**cluster.worker_env(cluster.podman), "FLWD_CANCEL_GRACE": grace}
    worker = start_worker(cluster.base, env, queues=[queue], global_args=["--runtime", "podman"],
                          log_name=f"worker-{queue}.log")
    try:
        run = _submit(cluster.replicas[0], job)
        _status_is(cluster.replicas[1], run["run_id"], "running")
        for _ in range(sigterms):
            worker.signal(signal.SIGTERM)
            time.sleep(1.0)
        code = worker.process.wait(60)
    finally:
        worker.stop()

    assert code == 0, worker.text()
    assert _run(cluster.replicas[1], run["run_id"])["status"] == "canceled"
    assert cluster.podman.containers(run["run_id"]) == []


def test_a_detached_cli_run_is_canceled_by_another_cli_and_followed_to_its_end(
        cluster: Cluster) -> None:
    detached = run_flwd(cluster.base, cluster.env, "sleeper-default", "--detach")
    run_id = detached.stdout.strip()
    _status_is(cluster.replicas[0], run_id, "running")

    canceled = run_flwd(cluster.base, cluster.env, ":cancel", run_id)
    followed = run_flwd(cluster.base, cluster.env, ":logs", run_id, "--follow")

    assert detached.returncode == 0 and len(run_id) == 12, detached.stderr
    assert canceled.returncode == 0, canceled.stderr
    assert followed.returncode == 130, followed.stderr
    assert cluster.podman.containers(run_id) == []


@pytest.mark.parametrize("queue_url", ["redis://127.0.0.1:1/0", "amqp://guest:pw@127.0.0.1:1//"])
def test_a_cli_run_ends_error_queue_unavailable_when_the_broker_does_not_answer(
        cluster: Cluster, queue_url: str) -> None:
    done = run_flwd(cluster.base, {**cluster.env, "FLWD_QUEUE_URL": queue_url}, "hello-default",
                    "--who", "nobody", "--json")

    assert done.returncode == 125, done.stderr
    assert "error[queue.unavailable]: the queue at " in done.stderr and ":pw@" not in done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    finished = events[-1]["data"]
    assert (finished["status"], finished["code"]) == ("error", "queue.unavailable")
    assert _run(cluster.replicas[0], events[-1]["run_id"])["code"] == "queue.unavailable"
