"""A real ``flwd :serve`` subprocess for API tests: started on a free port, always stopped."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import httpx

REPO = Path(__file__).resolve().parents[2]
FLWD = str(REPO / ".venv" / "bin" / "flwd")
IT_ROOT = Path("/var/tmp/flwd-it")
DEV = {"Authorization": "Bearer dev-token"}
SLEEP_JOB = """\
executor: container
image: alpine:3.20
command: ["sleep", "60"]
"""
_URL = re.compile(r"flwd: serving on (http://\S+)")


def shared_dir(prefix: str) -> Path:
    """A 0755 directory under /var/tmp/flwd-it, traversable by the rootless Podman user."""
    IT_ROOT.mkdir(mode=0o755, parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=IT_ROOT))
    path.chmod(0o755)
    return path


def write_job(jobs: Path, name: str, spec: str, scripts: Mapping[str, str] | None = None) -> None:
    job = jobs / name
    job.mkdir(mode=0o755, parents=True, exist_ok=True)
    (job / "job.yaml").write_text(spec)
    for file, text in (scripts or {}).items():
        (job / file).write_text(text)
        (job / file).chmod(0o755)


@dataclass(slots=True)
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def client(self, headers: Mapping[str, str] | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=dict(headers or DEV), timeout=30)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait(timeout=10)


def start_server(base: Path, serve_args: Sequence[str], env: Mapping[str, str],
                 global_args: Sequence[str] = ()) -> Server:
    """``flwd :serve --bind 127.0.0.1:0 ...``; waits for its startup line (the real port)."""
    log = base / "server.log"
    argv = [FLWD, *global_args, "--jobs-dir", str(base / "jobs"), "--data-dir", str(base / "data"),
            ":serve", "--bind", "127.0.0.1:0", *serve_args]
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(base / "home"),
                "LANG": "C.UTF-8", **env}
    with open(log, "wb") as sink:
        process = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT, env=full_env,
                                   cwd=base)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = _URL.search(log.read_text(errors="replace"))
        if found:
            return Server(process=process, url=found.group(1), log=log)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    process.wait(10)
    raise AssertionError(f"flwd :serve did not start:\n{log.read_text(errors='replace')}")


@contextmanager
def serving(base: Path, serve_args: Sequence[str], env: Mapping[str, str],
            global_args: Sequence[str] = ()) -> Iterator[Server]:
    """``start_server`` over *base*, stopped (exit 0 asserted) and *base* removed afterwards."""
    server = start_server(base, serve_args, env, global_args)
    try:
        yield server
    finally:
        code = server.stop()
        remove_tree(base)
        assert code == 0, server.log.read_text(errors="replace") if server.log.exists() else code


@contextmanager
def dev_server_on_podman(podman_socket: str, prefix: str, tokens: str,
                         jobs: Mapping[str, str] | None = None) -> Iterator[Server]:
    """``flwd :serve --dev`` on rootless Podman over the examples, a ``sleep`` job and *jobs*
    (name -> spec), with ``FLWD_TOKENS`` *tokens*; stopped (exit 0) and removed afterwards."""
    base = shared_dir(prefix)
    shutil.copytree(REPO / "examples" / "jobs", base / "jobs")
    for name, spec in {"sleep": SLEEP_JOB, **(jobs or {})}.items():
        write_job(base / "jobs", name, spec)
    for name in ("data", "home"):
        (base / name).mkdir(mode=0o755)
    env = {"CONTAINER_HOST": podman_socket, "FLWD_TOKENS": tokens}
    with serving(base, ["--dev"], env, ["--runtime", "podman"]) as server:
        yield server


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def sse(client: httpx.Client, run_id: str, headers: Mapping[str, str] | None = None,
        timeout: float = 120) -> Iterator[dict[str, Any]]:
    """The run's SSE messages as ``{id, event, data}`` (comments skipped) until the server closes."""
    with client.stream("GET", f"/runs/{run_id}/events", headers=dict(headers or {}),
                       timeout=timeout) as response:
        assert response.status_code == 200, response.read()
        message: dict[str, str] = {}
        for line in response.iter_lines():
            if line == "":
                if "data" in message:
                    yield {"id": int(message["id"]), "event": message["event"],
                           "data": json.loads(message["data"])}
                message = {}
                continue
            field, _, value = line.partition(":")
            if field:
                message[field] = value[1:] if value.startswith(" ") else value


def podman_containers(socket: str, run_id: str) -> list[str]:
    done = subprocess.run(["podman", "--url", socket, "ps", "-a", "--filter",
                           f"label=flwd.run-id={run_id}", "--format", "{{.Names}}"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()
