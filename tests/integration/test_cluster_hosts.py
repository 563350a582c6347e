"""Cluster mode across worker *hosts* (SPEC section 11): two network-namespace hosts reaching
PostgreSQL and Redis only over their veth, one ``flwd :worker`` on rootless Podman, one on
Docker, and two ``flwd :serve`` replicas on the machine."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import time
import uuid
from contextlib import suppress
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.integration.api_support import remove_tree
from tests.integration.cluster_support import until
from tests.integration.conftest import DOCKER_TEST_IMAGE
from tests.integration.delay_proxy import DelayingProxy
from tests.integration.netns_cluster import (
    FINAL,
    Cluster,
    containers,
    events,
    new_cluster,
    submit,
    wait_all,
    wait_status,
)
from tests.integration.netns_hosts import HostLab
from tests.integration.redis_support import running_redis

pytestmark = [pytest.mark.podman, pytest.mark.docker]
LINES = 15
HEARTBEAT, WORKER_TIMEOUT, GRACE = 1, 10, 3
SETTINGS = {"FLWD_HEARTBEAT_INTERVAL": str(HEARTBEAT), "FLWD_WORKER_TIMEOUT": str(WORKER_TIMEOUT),
            "FLWD_CANCEL_GRACE": str(GRACE)}
RUNTIMES = ("podman", "docker")
STALLED_IMAGE = DOCKER_TEST_IMAGE.encode()  # the image check a proxy never answers


def _job(command: str, queue: str | None = None) -> str:
    routed = f"queue: {queue}\n" if queue else ""
    return f"executor: container\nimage: alpine:3.20\n{routed}command: {command}\n"


COUNT = f'["sh", "-c", "for i in $(seq 1 {LINES}); do echo line $i; done"]'
SLEEP = '["sleep", "120"]'
STUBBORN = '["sh", "-c", "trap \'\' TERM; while true; do sleep 1; done"]'  # only a kill ends it
TICK = '["sh", "-c", "for i in $(seq 1 240); do echo tick $i; sleep 0.5; done"]'
SECRET_SPEC = (
    "executor: container\nimage: alpine:3.20\nqueue: {queue}\nscript: main.sh\n"
    "args:\n  - {{name: api_token, type: string, format: secret, required: true}}\n")
SECRET_SCRIPT = 'echo "sha=$(sha256sum < /run/secrets/api_token | cut -d" " -f1)"\n' \
    'echo "echoed=$(cat /run/secrets/api_token)"\n'


def _write_jobs(cluster: Cluster) -> None:
    cluster.write_job("count", _job(COUNT))
    for runtime in RUNTIMES:
        queue = f"only-{runtime}"
        cluster.write_job(f"count-{runtime}", _job(COUNT, queue))
        cluster.write_job(f"sleep-{runtime}", _job(SLEEP, queue))
        cluster.write_job(f"stubborn-{runtime}", _job(STUBBORN, queue))
        cluster.write_job(f"tick-{runtime}", _job(TICK, queue))
        cluster.write_job(f"secret-{runtime}", SECRET_SPEC.format(queue=queue),
                          {"main.sh": SECRET_SCRIPT})
    cluster.write_job("secret-parked", SECRET_SPEC.format(queue="nobody"),
                      {"main.sh": SECRET_SCRIPT})
    cluster.write_job("sleep-lossy", _job(SLEEP, "lossy"))
    cluster.write_job("count-lossy", _job(COUNT, "lossy").replace(
        "alpine:3.20", STALLED_IMAGE.decode()))
    cluster.write_job("secret-lossy", SECRET_SPEC.format(queue="lossy").replace(
        "alpine:3.20", STALLED_IMAGE.decode()), {"main.sh": SECRET_SCRIPT})


@pytest.fixture(scope="module")
def cluster(host_lab: HostLab, podman_socket: str, docker_socket: str) -> Iterator[Cluster]:
    """Worker h1 on rootless Podman, worker h2 on Docker, replicas A and B."""
    sockets = {"podman": podman_socket, "docker": docker_socket}
    with running_redis(bind=("127.0.0.1", host_lab.network.gateway)) as redis:
        built = new_cluster(host_lab, redis, sockets, SETTINGS)
        try:
            _write_jobs(built)
            for host, runtime in zip(host_lab.hosts, RUNTIMES):
                built.start_worker(host, runtime, queues=("default", f"only-{runtime}"))
            built.start_replica()
            built.start_replica()
            yield built
        finally:
            built.stop()
            remove_tree(built.base)


def _runtime(state: dict[str, Any]) -> str:
    """Which runtime (so which worker) ran it: ``podman 4.3.1`` -> ``podman``."""
    return str(state["runtime"]).split(" ", 1)[0]


def _outputs(recorded: list[dict[str, Any]]) -> list[str]:
    return [str(e["data"]["line"]) for e in recorded if e["type"] == "run.output"]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_every_run_finishes_with_each_line_once_when_40_runs_spread_over_both_workers(
        cluster: Cluster) -> None:
    a, b = cluster.replicas
    with a.client() as on_a, b.client() as on_b:
        run_ids = [submit(on_a if i % 2 else on_b, "count") for i in range(40)]
        final = wait_all(on_a, run_ids, timeout=720)
        recorded = {run_id: events(on_b, run_id) for run_id in run_ids}

    assert {s["status"] for s in final.values()} == {"succeeded"}, \
        {r: s["status"] for r, s in final.items() if s["status"] != "succeeded"}
    expected = [f"line {i}" for i in range(1, LINES + 1)]
    for run_id, trail in recorded.items():
        assert _outputs(trail) == expected, run_id
        assert [e["seq"] for e in trail] == list(range(1, len(trail) + 1)), run_id  # none twice
        assert [e["type"] for e in trail].count("run.finished") == 1, run_id
    by_runtime = {_runtime(s) for s in final.values()}
    assert by_runtime == set(RUNTIMES), by_runtime  # both workers took runs


def test_routed_runs_go_only_to_their_queue_worker_when_jobs_name_a_queue(
        cluster: Cluster) -> None:
    a, _ = cluster.replicas
    with a.client() as on_a:
        run_ids = {submit(on_a, f"count-{rt}"): rt for rt in RUNTIMES for _ in range(3)}
        final = wait_all(on_a, list(run_ids), timeout=240)

    for run_id, runtime in run_ids.items():
        assert final[run_id]["status"] == "succeeded", final[run_id]
        assert _runtime(final[run_id]) == runtime, (run_id, final[run_id])


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_cancel_through_the_other_replica_removes_the_container_within_grace_when_a_worker_runs_it(
        cluster: Cluster, runtime: str) -> None:
    a, b = cluster.replicas
    socket = cluster.sockets[runtime]
    with a.client() as on_a, b.client() as on_b:
        run_id = submit(on_a, f"stubborn-{runtime}")  # the whole way: stop, grace, kill
        wait_status(on_b, run_id, {"running"}, timeout=120)
        assert containers(runtime, socket, run_id), "no container while running"
        asked = time.monotonic()
        response = on_b.post(f"/runs/{run_id}:cancel")
        while containers(runtime, socket, run_id) and time.monotonic() - asked < GRACE + 10:
            time.sleep(0.1)
        gone_after = time.monotonic() - asked
        final = wait_status(on_a, run_id, FINAL, timeout=60)

    print(f"{runtime}: container gone {gone_after:.2f} s after the cancel through replica B")
    assert response.status_code == 202, response.text
    assert final["status"] == "canceled"
    assert gone_after <= GRACE + 2


@pytest.mark.slow
def test_killed_worker_run_ends_worker_lost_and_its_unstarted_run_is_requeued_when_sigkilled(
        cluster: Cluster, docker_socket: str) -> None:
    """Worker `doomed` runs one container and holds two runs in their image check (its
    runtime answers that check never), one of them with a secret; SIGKILL: the first ends
    worker.lost, the other two are queued again, once, and finished by `survivor`, started
    afterwards so that it cannot have taken them first (the secret run from the message
    `doomed` never acknowledged, the only copy of its secret); a worker returning on the dead
    one's host removes the orphaned container."""
    network = cluster.lab.network
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    stall = DelayingProxy(docker_socket, delay=3600, match=(STALLED_IMAGE,))
    try:
        doomed = cluster.start_worker(network.idle_host(), "docker", queues=("lossy",),
                                      concurrency=3, name="doomed", socket=stall.url)
        a, b = cluster.replicas
        with a.client() as on_a, b.client() as on_b:
            running = submit(on_a, "sleep-lossy")
            wait_status(on_b, running, {"running"}, timeout=120)
            held = submit(on_a, "count-lossy")
            held_secret = submit(on_b, "secret-lossy", {"api_token": secret})
            until("the held runs never reached their pull check", lambda: stall.delayed > 1, 60)
            until("doomed never heartbeat its three runs",
                  lambda: {running, held, held_secret} <= _active_runs(on_a, doomed.flwd.name),
                  30)
            doomed.kill()  # before the held runs' client gives up on its runtime (30 s)
            killed_at = time.monotonic()
            lost = wait_status(on_b, running, FINAL, timeout=WORKER_TIMEOUT + 60)
            lost_after = time.monotonic() - killed_at
            survivor = cluster.start_worker(network.idle_host(), "docker", queues=("lossy",),
                                            name="survivor")
            moved = wait_all(on_a, [held, held_secret], timeout=180)
            trail, secret_trail = events(on_b, held), events(on_a, held_secret)
            returned = cluster.start_worker(doomed.host, "docker", queues=("elsewhere",),
                                            name="returned")
            until("the returning worker left the lost run's container",
                  lambda: not containers("docker", docker_socket, running), 60)
        for worker in (survivor, returned):
            worker.flwd.stop()
    finally:
        stall.close()
        for name in ("running", "held", "held_secret"):  # those a failure left behind
            _remove_containers(docker_socket, locals().get(name, ""))

    print(f"worker.lost {lost_after:.1f} s after SIGKILL (worker_timeout {WORKER_TIMEOUT} s)")
    assert lost["status"] == "error" and lost["code"] == "worker.lost", lost
    assert lost_after <= WORKER_TIMEOUT + 5
    for recorded in (trail, secret_trail):
        requeued = [e for e in recorded if e["type"] == "run.requeued"]
        assert len(requeued) == 1 and requeued[0]["data"]["worker"] == doomed.flwd.name, \
            [(e["type"], e["data"]) for e in recorded if e["type"] != "policy.decision"]
        assert [e["type"] for e in recorded].count("run.started") == 1
    assert {moved[held]["status"], moved[held_secret]["status"]} == {"succeeded"}, moved
    assert _outputs(trail) == [f"line {i}" for i in range(1, LINES + 1)]
    sha = hashlib.sha256(secret.encode()).hexdigest()
    assert _outputs(secret_trail) == [f"sha={sha}", "echoed=***"], secret_trail
    _assert_secret_nowhere(cluster, secret.encode())


def _active_runs(client: httpx.Client, worker_id: str) -> set[str]:
    """The runs *worker_id* heartbeats as its own (``GET /workers``)."""
    listed = client.get("/workers").json()["workers"]
    return {run for w in listed if w["worker_id"] == worker_id for run in w["active_runs"]}


@pytest.mark.slow
def test_run_ends_worker_lost_when_its_worker_dies_before_heartbeating_it(
        cluster: Cluster) -> None:
    slow_beats = {"FLWD_HEARTBEAT_INTERVAL": str(WORKER_TIMEOUT - 1)}  # one beat, at the start
    doomed = cluster.start_worker(cluster.lab.network.idle_host(), "docker", queues=("lossy",),
                                  name="unbeaten", extra_env=slow_beats)
    a, b = cluster.replicas
    with a.client() as on_a, b.client() as on_b:
        run_id = submit(on_a, "sleep-lossy")
        wait_status(on_b, run_id, {"running"}, timeout=WORKER_TIMEOUT - 2)
        doomed.kill()
        try:
            lost = wait_status(on_b, run_id, FINAL, timeout=WORKER_TIMEOUT + 20)
        finally:
            _remove_containers(cluster.sockets["docker"], run_id)
    assert lost["status"] == "error" and lost["code"] == "worker.lost", lost


def _remove_containers(socket: str, run_id: str) -> None:
    """The test's own leftovers: a container `doomed` created for *run_id* before it died."""
    if run_id:
        for name in containers("docker", socket, run_id):
            subprocess.run(["docker", "-H", socket, "rm", "-f", name], capture_output=True,
                           timeout=60, check=False)


@pytest.mark.slow
def test_cut_off_worker_loses_its_run_and_serves_again_when_its_veth_comes_back(
        cluster: Cluster) -> None:
    docker_worker = next(w for w in cluster.workers if w.runtime == "docker")
    a, b = cluster.replicas
    with a.client() as on_a, b.client() as on_b:
        run_id = submit(on_a, "tick-docker")
        wait_status(on_b, run_id, {"running"}, timeout=120)
        until("the worker never heartbeat its run",  # the cut, not an early death
              lambda: run_id in _active_runs(on_a, docker_worker.flwd.name), 30)
        docker_worker.host.cut()
        try:
            lost = wait_status(on_b, run_id, FINAL, timeout=WORKER_TIMEOUT + 60)
        finally:
            docker_worker.host.restore()
        # the returning worker removes what it no longer owns
        until("the returned worker kept the lost run's container",
              lambda: not containers("docker", cluster.sockets["docker"], run_id), 90)
        after = wait_status(on_a, submit(on_b, "count-docker"), FINAL, timeout=180)
        ticks = _outputs(events(on_a, run_id))

    assert lost["status"] == "error" and lost["code"] == "worker.lost", lost
    assert after["status"] == "succeeded"
    assert ticks == [f"tick {i}" for i in range(1, len(ticks) + 1)]  # none lost between, none twice
    assert docker_worker.process.poll() is None  # the worker rode the outage out


def _files_containing(root: Path, needle: bytes) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink() and needle in path.read_bytes():
                hits.append(str(path))
        except OSError:
            continue
    return hits


def _kombu_bodies(dump: bytes) -> list[bytes]:
    """The base64-decoded bodies of the kombu messages among Redis's values (one a line)."""
    bodies = []
    for item in dump.split(b"\n"):
        for message in _json_objects(item):
            body = message.get("body")
            if isinstance(body, str):
                with suppress(ValueError):
                    bodies.append(base64.b64decode(body, validate=True))
    return bodies


def _json_objects(item: bytes) -> list[dict[str, Any]]:
    """The kombu message(s) in one Redis value: a message, or [message, exchange, key]."""
    try:
        value = json.loads(item)
    except ValueError:
        return []
    candidates = value if isinstance(value, list) else [value]
    return [c for c in candidates if isinstance(c, dict)]


def test_secret_is_in_no_store_byte_queue_key_file_or_response_when_runs_carry_it(
        cluster: Cluster) -> None:
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    a, b = cluster.replicas
    bodies: list[bytes] = []
    with a.client() as on_a, b.client() as on_b:
        done = [submit(on_a, f"secret-{rt}", {"api_token": secret}) for rt in RUNTIMES]
        parked = submit(on_b, "secret-parked", {"api_token": secret})  # stays in Redis
        final = wait_all(on_a, done, timeout=240)
        for run_id in [*done, parked]:
            for client in (on_a, on_b):
                bodies += [client.get(f"/runs/{run_id}").content,
                           client.get(f"/runs/{run_id}/events",
                                      headers={"Accept": "text/event-stream"}).content
                           if run_id != parked else b""]
        bodies.append(on_a.get("/runs").content)
        trails = [events(on_a, run_id) for run_id in done]
        on_a.post(f"/runs/{parked}:cancel")

    sha = hashlib.sha256(secret.encode()).hexdigest()
    for run_id in done:
        assert final[run_id]["status"] == "succeeded", final[run_id]
    for trail in trails:  # the secret reached each job, and its echo was redacted
        assert f"sha={sha}" in _outputs(trail) and "echoed=***" in _outputs(trail), trail
    needle = secret.encode()
    bodies_seen = _kombu_bodies(cluster.redis.dump())
    assert any(parked.encode() in body for body in bodies_seen), \
        "the parked run's queue message was not found: this check would see nothing"
    _assert_secret_nowhere(cluster, needle)
    assert parked.encode() in cluster.redis.rdb()
    assert all(needle not in body for body in bodies)


def _assert_secret_nowhere(cluster: Cluster, needle: bytes) -> None:
    """*needle* is in no file of PostgreSQL's, no Redis key, value (kombu bodies decoded
    too) or RDB snapshot, and no file under the cluster's hosts' directory."""
    cluster.lab.pg.sql("CHECKPOINT")
    assert _files_containing(cluster.lab.pg.data_dir, needle) == []
    keys, dump = cluster.redis.keys(), cluster.redis.dump()
    assert needle not in dump and not [k for k in keys if needle.decode() in k]
    assert not [body for body in _kombu_bodies(dump) if needle in body]
    cluster.redis.cli("CONFIG", "SET", "rdbcompression", "no")  # LZF would hide plain text
    assert needle not in cluster.redis.rdb()
    assert _files_containing(cluster.base, needle) == []
