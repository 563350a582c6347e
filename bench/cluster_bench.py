"""Cluster mode's figures (SPEC section 11), beside single-host mode in the same run. Asserts
nothing. Starts its own PostgreSQL and Redis (tests/integration/*_support.py), real
``flwd :worker`` and ``flwd :serve`` processes, on rootless Podman (FLWD_TEST_PODMAN_SOCKET).

  queue-to-start  run submitted (POST /runs) -> its run.started recorded, median and p95
  sleeping runs   N runs of `sleep 2` on one worker of concurrency 4, then on two
  trivial runs    N runs of `true`, cluster (one worker, concurrency 4) vs single-host
                  (max_concurrent_runs 4): wall time from the first POST to the last end
  replica RSS     peak RSS of a replica while M runs are followed over SSE at once

Usage: .venv/bin/python bench/cluster_bench.py [--latency 100] [--sleeping 80]
       [--trivial 200] [--followed 50]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.api_support import remove_tree, shared_dir, sse, write_job  # noqa: E402
from tests.integration.cluster_support import (  # noqa: E402
    ClusterAddresses,
    FlwdProcess,
    start_replica,
    start_worker,
)
from tests.integration.pg_support import running_cluster  # noqa: E402
from tests.integration.redis_support import running_redis  # noqa: E402

JOBS = {
    "trivial": "executor: container\nimage: alpine:3.20\ncommand: ['true']\n",
    "sleeping": "executor: container\nimage: alpine:3.20\ncommand: [sleep, '2']\n",
    "talker": ("executor: container\nimage: alpine:3.20\ncommand: [sh, -c, 'for i in $(seq 1 50);"
               " do echo line $i; sleep 0.1; done']\n"),
}
FINAL = {"succeeded", "failed", "canceled", "timed_out", "error"}
PODMAN = ["--runtime", "podman"]


def _stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _post(replica: FlwdProcess, job: str) -> tuple[str, float]:
    with replica.client() as client:
        sent = time.time()
        response = client.post("/runs", json={"job": job, "args": {}})
    response.raise_for_status()
    return str(response.json()["run_id"]), sent


def _wait_all(replica: FlwdProcess, run_ids: set[str]) -> None:
    left = set(run_ids)
    with replica.client() as client:
        while left:
            page = client.get("/runs", params={"limit": 500}).json()["runs"]
            left -= {r["run_id"] for r in page if r["status"] in FINAL}
            time.sleep(0.1)


def queue_to_start(replica: FlwdProcess, runs: int) -> tuple[list[float], list[float]]:
    """Seconds from each POST to its run.started, and from its run.created to its first
    image.pull (the hand-over: in cluster mode, the queue and the worker's claim and plan),
    runs one after the other."""
    delays, handovers = [], []
    for _ in range(runs):
        run_id, sent = _post(replica, "trivial")
        _wait_all(replica, {run_id})
        with replica.client() as client:
            text = client.get(f"/runs/{run_id}/events", params={"follow": "false"}).text
        events = [json.loads(line[5:]) for line in text.splitlines() if line.startswith("data:")]
        first: dict[str, float] = {}
        for event in events:
            first.setdefault(event["type"], _stamp(event["time"]))
        if "run.started" in first:
            delays.append(first["run.started"] - sent)
            handovers.append(first["image.pull"] - first["run.created"])
    return delays, handovers


def wall_time(replica: FlwdProcess, job: str, runs: int) -> float:
    started = time.monotonic()
    ids = {_post(replica, job)[0] for _ in range(runs)}
    _wait_all(replica, ids)
    return time.monotonic() - started


def peak_rss_mb(process: FlwdProcess) -> float:
    for line in Path(f"/proc/{process.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def followed_rss(replica: FlwdProcess, runs: int) -> float:
    ids = [_post(replica, "talker")[0] for _ in range(runs)]

    def follow(run_id: str) -> None:
        with replica.client() as client:
            for _ in sse(client, run_id, timeout=600):
                pass

    threads = [threading.Thread(target=follow, args=(run_id,)) for run_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return peak_rss_mb(replica)


def _figures(name: str, values: list[float]) -> str:
    if not values:
        return f"{name}: no figures"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (f"{name}: median {statistics.median(values) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms "
            f"({len(values)} runs)")


def main() -> None:
    parser = argparse.ArgumentParser()
    for option, default in (("--latency", 100), ("--sleeping", 80), ("--trivial", 200),
                            ("--followed", 50)):
        parser.add_argument(option, type=int, default=default)
    counts = parser.parse_args()
    runtime = {"CONTAINER_HOST": os.environ["FLWD_TEST_PODMAN_SOCKET"]}
    print(f"load average at start: {os.getloadavg()}")
    with running_cluster() as pg, running_redis() as redis:
        single_base, base = shared_dir("bench-single-"), shared_dir("bench-cluster-")
        for where in (single_base, base):
            for name, spec in JOBS.items():
                write_job(where / "jobs", name, spec)
        cluster = ClusterAddresses(store_url=pg.new_database(), queue_url=redis.url).env()
        started: list[FlwdProcess] = []
        try:
            single = start_replica(single_base, {**runtime, "FLWD_MAX_CONCURRENT_RUNS": "4"},
                                   global_args=PODMAN)
            replica = start_replica(base, cluster, log_name="replica.log")
            first = start_worker(base, {**cluster, **runtime}, concurrency=4, global_args=PODMAN)
            started += [single, replica, first]
            single_delays, single_handover = queue_to_start(single, counts.latency)
            cluster_delays, cluster_handover = queue_to_start(replica, counts.latency)
            print(_figures("queue-to-start, single-host", single_delays))
            print(_figures("queue-to-start, cluster", cluster_delays))
            print(_figures("  of which run.created -> image.pull, single-host", single_handover))
            print(_figures("  of which run.created -> image.pull, cluster", cluster_handover))
            single_time = wall_time(single, "trivial", counts.trivial)
            cluster_time = wall_time(replica, "trivial", counts.trivial)
            print(f"{counts.trivial} trivial runs: single-host {single_time:.1f} s, cluster "
                  f"{cluster_time:.1f} s, throughput ratio {single_time / cluster_time:.2f}")
            one = wall_time(replica, "sleeping", counts.sleeping)
            second = start_worker(base, {**cluster, **runtime}, concurrency=4,
                                  global_args=PODMAN, log_name="worker-2.log")
            started.append(second)
            two = wall_time(replica, "sleeping", counts.sleeping)
            print(f"{counts.sleeping} sleeping runs: one worker {one:.1f} s, two workers "
                  f"{two:.1f} s, ratio {two / one:.2f}")
            print(f"replica peak RSS with {counts.followed} followed runs: "
                  f"{followed_rss(replica, counts.followed):.0f} MB")
        finally:
            for process in started:
                process.stop()
            remove_tree(single_base)
            remove_tree(base)
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
