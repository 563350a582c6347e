"""Cluster mode's costs on namespace hosts against single-host mode (SPEC section 11, issue 12).

Builds what the integration tests build (tests/integration/netns_hosts.py, netns_cluster.py):
worker hosts as network namespaces reaching a private PostgreSQL and Redis over their veth, one
``flwd :worker`` per host, a ``flwd :serve`` replica on the machine; and, beside it, a
single-host ``flwd :serve`` (SQLite, runs in-process) on the same runtime. Prints figures,
asserts nothing (targets are printed next to them):

1. queue-to-start latency, run.created -> run.started from the run's events, median and p95
   over N runs submitted one at a time, cluster and single-host alternating (A B A B ...);
2. 80 runs of a job sleeping 2 s: two workers of concurrency 4 against one of concurrency 4;
3. 200 trivial runs, all submitted at once: cluster (two workers x 4) against single-host
   (max_concurrent_runs 8), runs per second;
4. the replica's RSS while it streams 50 runs to 50 SSE followers at once.

Run as root (namespaces): ``.venv/bin/python bench/cluster_hosts_bench.py [--runtime docker]
[--scale 1.0] [--only latency,sleep,trivial,rss]``. ``--scale 0.25`` shrinks every count.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from tests.integration.api_support import (  # noqa: E402
    Server,
    remove_tree,
    shared_dir,
    start_server,
    write_job,
)
from tests.integration.cluster_support import FlwdProcess  # noqa: E402
from tests.integration.netns_cluster import Cluster, events, new_cluster, submit, wait_all  # noqa: E402
from tests.integration.netns_hosts import HostLab, host_network  # noqa: E402
from tests.integration.pg_support import running_cluster  # noqa: E402
from tests.integration.redis_support import running_redis  # noqa: E402
from run_bench import socket_for  # noqa: E402

JOBS = {
    "trivial": 'executor: container\nimage: alpine:3.20\ncommand: ["true"]\n',
    "nap": 'executor: container\nimage: alpine:3.20\ncommand: ["sleep", "2"]\n',
    "ticker": ('executor: container\nimage: alpine:3.20\n'
               'command: ["sh", "-c", "for i in $(seq 1 40); do echo tick $i; sleep 0.5; done"]\n'),
}


def _when(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def queue_to_start(client: httpx.Client, run_id: str) -> float:
    """Seconds from the run's run.created event to its run.started event."""
    trail = events(client, run_id)
    times = {e["type"]: _when(e["time"]) for e in trail if e["type"] in ("run.created",
                                                                         "run.started")}
    return times["run.started"] - times["run.created"]


def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _ms(values: Sequence[float]) -> str:
    return f"median {statistics.median(values) * 1000:7.1f} ms  p95 {_pct(values, 0.95) * 1000:7.1f} ms"


class Single:
    """A single-host ``flwd :serve`` (SQLite, in-process runs) with the bench's jobs."""

    def __init__(self, runtime: str, socket: str, concurrency: int) -> None:
        self.base = shared_dir("bench-single-")
        for name, spec in JOBS.items():
            write_job(self.base / "jobs", name, spec)
        for directory in ("data", "home"):
            (self.base / directory).mkdir(mode=0o755)
        variable = "CONTAINER_HOST" if runtime == "podman" else "DOCKER_HOST"
        env = {variable: socket, "FLWD_MAX_CONCURRENT_RUNS": str(concurrency),
               "FLWD_RESIDENT": "0"}
        self.server: Server = start_server(self.base, ["--dev"], env,
                                           global_args=["--runtime", runtime])

    def close(self) -> None:
        self.server.stop()
        remove_tree(self.base)


def _cluster(stack: ExitStack, lab: HostLab, runtime: str, socket: str,
             workers: int, concurrency: int) -> Cluster:
    redis = stack.enter_context(running_redis(bind=("127.0.0.1", lab.network.gateway)))
    cluster = new_cluster(lab, redis, {runtime: socket})
    stack.callback(lambda: remove_tree(cluster.base))
    stack.callback(cluster.stop)
    for name, spec in JOBS.items():
        cluster.write_job(name, spec)
    for index in range(workers):
        cluster.start_worker(lab.hosts[index], runtime, concurrency=concurrency)
    cluster.start_replica()
    return cluster


def _batch(server: Server | FlwdProcess, job: str, count: int, timeout: float) -> float:
    """Wall seconds from the first submission until all *count* runs of *job* ended."""
    with server.client() as client:
        began = time.monotonic()
        run_ids = [submit(client, job) for _ in range(count)]
        final = wait_all(client, run_ids, timeout=timeout)
        took = time.monotonic() - began
    bad = [s["status"] for s in final.values() if s["status"] != "succeeded"]
    if bad:
        print(f"  warning: {len(bad)} runs did not succeed: {sorted(set(bad))}")
    return took


def bench_latency(lab: HostLab, runtime: str, socket: str, runs: int) -> None:
    print(f"\n1. queue-to-start latency (run.created -> run.started), {runs} runs each, "
          "one at a time, A/B alternating")
    with ExitStack() as stack:
        cluster = _cluster(stack, lab, runtime, socket, workers=1, concurrency=4)
        single = Single(runtime, socket, concurrency=4)
        stack.callback(single.close)
        measured: dict[str, list[float]] = {"cluster": [], "single-host": []}
        servers: dict[str, Server | FlwdProcess] = {"cluster": cluster.replicas[0],
                                                     "single-host": single.server}
        for _ in range(runs):
            for mode, server in servers.items():
                with server.client() as client:
                    run_id = submit(client, "trivial")
                    wait_all(client, [run_id], timeout=120)
                    measured[mode].append(queue_to_start(client, run_id))
    for mode, values in measured.items():
        print(f"  {mode:12} {_ms(values)}")
    added = statistics.median(measured["cluster"]) - statistics.median(measured["single-host"])
    print(f"  added by the queue: {added * 1000:.1f} ms median (target <= 150 ms)")


def bench_sleepers(lab: HostLab, runtime: str, socket: str, runs: int) -> None:
    print(f"\n2. {runs} runs sleeping 2 s: two workers x 4 against one worker x 4")
    took: dict[int, float] = {}
    for workers in (1, 2):
        with ExitStack() as stack:
            cluster = _cluster(stack, lab, runtime, socket, workers=workers, concurrency=4)
            took[workers] = _batch(cluster.replicas[0], "nap", runs, timeout=60 + runs * 3)
        print(f"  {workers} worker(s): {took[workers]:6.1f} s "
              f"(ideal {runs * 2 / (4 * workers):.0f} s)")
    print(f"  two/one: {took[2] / took[1]:.2f}x (target <= 0.55x)")


def bench_trivial(lab: HostLab, runtime: str, socket: str, runs: int) -> None:
    print(f"\n3. {runs} trivial runs at total concurrency 8: cluster (2 workers x 4) "
          "against single-host (max_concurrent_runs 8)")
    rates: dict[str, float] = {}
    with ExitStack() as stack:
        cluster = _cluster(stack, lab, runtime, socket, workers=2, concurrency=4)
        rates["cluster"] = runs / _batch(cluster.replicas[0], "trivial", runs, timeout=runs * 5)
    single = Single(runtime, socket, concurrency=8)
    try:
        rates["single-host"] = runs / _batch(single.server, "trivial", runs, timeout=runs * 5)
    finally:
        single.close()
    for mode, rate in rates.items():
        print(f"  {mode:12} {rate:6.2f} runs/s")
    print(f"  cluster/single-host: {rates['cluster'] / rates['single-host']:.2f}x (target >= 0.8x)")


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _follow(server: FlwdProcess, run_id: str, done: Callable[[], None]) -> None:
    try:
        with server.client() as client:
            events(client, run_id)
    finally:
        done()


def bench_rss(lab: HostLab, runtime: str, socket: str, runs: int) -> None:
    print(f"\n4. replica RSS while {runs} followed runs stream (ticker: 40 lines over 20 s)")
    with ExitStack() as stack:
        cluster = _cluster(stack, lab, runtime, socket, workers=2, concurrency=(runs + 1) // 2)
        replica = cluster.replicas[0]
        idle = _rss_kib(replica.process.pid)
        with replica.client() as client:
            run_ids = [submit(client, "ticker") for _ in range(runs)]
        left = [len(run_ids)]
        lock = threading.Lock()

        def one_done() -> None:
            with lock:
                left[0] -= 1

        for run_id in run_ids:
            threading.Thread(target=_follow, args=(replica, run_id, one_done), daemon=True).start()
        peak, deadline = idle, time.monotonic() + 300
        while left[0] and time.monotonic() < deadline:
            peak = max(peak, _rss_kib(replica.process.pid))
            time.sleep(0.2)
    print(f"  replica RSS: idle {idle / 1024:.0f} MB, peak {peak / 1024:.0f} MB "
          f"(target <= 150 MB); followers unfinished: {left[0]}")


BENCHES = {"latency": (bench_latency, 100), "sleep": (bench_sleepers, 80),
           "trivial": (bench_trivial, 200), "rss": (bench_rss, 50)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", choices=("docker", "podman"), default="docker")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every run count")
    parser.add_argument("--only", default=",".join(BENCHES), help="comma-separated benches")
    options = parser.parse_args()
    socket = socket_for(options.runtime)
    print(f"cluster_hosts_bench: runtime {options.runtime}, scale {options.scale}")
    with host_network(2) as network, \
            running_cluster(listen=network.gateway, allow=network.subnet) as pg:
        lab = HostLab(network=network, pg=pg)
        for name in options.only.split(","):
            bench, count = BENCHES[name.strip()]
            bench(lab, options.runtime, socket, max(2, int(count * options.scale)))


if __name__ == "__main__":
    main()
