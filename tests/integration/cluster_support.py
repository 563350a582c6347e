"""Cluster mode's processes for tests: start a real ``flwd :worker`` or ``flwd :serve`` replica
as a subprocess and wait until it is ready; stop it by its pid.

Every helper takes the command *prefix* that runs flwd (default: nothing, this host), so a
test may start a process inside a network namespace (``["nsenter", "--net=/run/netns/h1"]``),
and takes every address (store, queue, bind) as a parameter.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import httpx

from tests.integration.api_support import FLWD

SECRET_KEY = "k" * 8 + "-test-cluster-key-0123456789abcdef"  # 32+ characters
READY = re.compile(r"flwd: worker (\S+) ready on queues")
SERVING = re.compile(r"flwd: serving on (http://\S+)")
START_SECONDS = 90.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterAddresses:
    """Where the cluster's shared services are, as its processes must reach them."""

    store_url: str
    queue_url: str
    secret_key: str = SECRET_KEY

    def env(self) -> dict[str, str]:
        return {"FLWD_STORE_URL": self.store_url, "FLWD_QUEUE_URL": self.queue_url,
                "FLWD_SECRET_KEY": self.secret_key}


@dataclass
class FlwdProcess:
    """A started flwd process; its stdout and stderr go to *log*."""

    process: subprocess.Popen[bytes]
    log: Path
    name: str = ""  # a worker's owner tag, a replica's URL
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.name

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def client(self, token: str = "dev-token") -> httpx.Client:
        return httpx.Client(base_url=self.name, headers={"Authorization": f"Bearer {token}"},
                            timeout=30)

    def signal(self, sig: int) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, then wait (SIGKILL after *timeout*); the exit code."""
        self.signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(10)


def base_env(home: Path, env: Mapping[str, str]) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
            "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", **env}


def flwd_argv(prefix: Sequence[str], base: Path, *args: str,
              global_args: Sequence[str] = ()) -> list[str]:
    """``PREFIX flwd GLOBAL --jobs-dir BASE/jobs --data-dir BASE/data ARGS``."""
    return [*prefix, FLWD, *global_args, "--jobs-dir", str(base / "jobs"),
            "--data-dir", str(base / "data"), *args]


def start_worker(base: Path, env: Mapping[str, str], *, prefix: Sequence[str] = (),
                 queues: Sequence[str] = (), concurrency: int | None = None,
                 global_args: Sequence[str] = (), log_name: str = "worker.log") -> FlwdProcess:
    """``flwd :worker`` started and consuming (its ready line seen); *env* holds the cluster's
    addresses (``ClusterAddresses.env()``) and the runtime's (``CONTAINER_HOST``...)."""
    args = [":worker", *(a for q in queues for a in ("--queue", q))]
    if concurrency is not None:
        args += ["--concurrency", str(concurrency)]
    started = _start(flwd_argv(prefix, base, *args, global_args=global_args), base, env, log_name)
    found = _wait_for(started, READY, ":worker")
    started.name = found.group(1)
    return started


def start_replica(base: Path, env: Mapping[str, str], *, prefix: Sequence[str] = (),
                  bind: str = "127.0.0.1:0", serve_args: Sequence[str] = ("--dev",),
                  global_args: Sequence[str] = (), log_name: str = "replica.log") -> FlwdProcess:
    """``flwd :serve --bind BIND`` started and listening; ``url`` is where it serves."""
    argv = flwd_argv(prefix, base, ":serve", "--bind", bind, *serve_args, global_args=global_args)
    started = _start(argv, base, env, log_name)
    started.name = _wait_for(started, SERVING, ":serve").group(1)
    return started


def run_flwd(base: Path, env: Mapping[str, str], *args: str, prefix: Sequence[str] = (),
             timeout: float = 120.0, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """One flwd command (a CLI run through the cluster...) to its end."""
    return subprocess.run(flwd_argv(prefix, base, *args), env=base_env(base / "home", env),
                          cwd=base, capture_output=True, text=True, timeout=timeout,
                          input=stdin)


def until(what: str, check: Callable[[], Any], timeout: float, every: float = 0.2) -> Any:
    """*check*'s first truthy answer, asked every *every* seconds; AssertionError naming *what*
    after *timeout* seconds (waits in cluster tests stay bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:g} s")


def _start(argv: list[str], base: Path, env: Mapping[str, str], log_name: str) -> FlwdProcess:
    log = base / log_name
    for directory in ("data", "home", "jobs"):
        (base / directory).mkdir(mode=0o755, exist_ok=True)
    with open(log, "wb") as sink:
        process = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT, cwd=base,
                                   env=base_env(base / "home", env), start_new_session=True)
    return FlwdProcess(process=process, log=log)


def _wait_for(started: FlwdProcess, pattern: re.Pattern[str], what: str) -> re.Match[str]:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        found = pattern.search(started.text())
        if found:
            return found
        if started.process.poll() is not None:
            break
        time.sleep(0.05)
    started.process.kill()
    started.process.wait(10)
    raise AssertionError(f"flwd {what} did not start:\n{started.text()}")
