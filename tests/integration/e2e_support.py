"""End-to-end support: run the real `flwd` CLI against real Podman/Docker in throwaway sandboxes."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import textwrap
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import pytest

from flwd.adapters.fs_secrets import default_base_dir
from tests.integration import secure_facts

REPO = Path(__file__).resolve().parents[2]
FLWD = str(REPO / ".venv" / "bin" / "flwd")
EXAMPLES = REPO / "examples" / "jobs"
IT_ROOT = Path("/var/tmp/flwd-it")
IMAGE = "alpine:3.20"  # the offline busybox test image, tagged so on both runtimes
LABEL_RUN_ID = "flwd.run-id"
RUNTIMES = [pytest.param("podman", marks=pytest.mark.podman, id="podman"),
            pytest.param("docker", marks=pytest.mark.docker, id="docker")]


@dataclass(frozen=True, slots=True, kw_only=True)
class Runtime:
    """A runtime under test: how flwd finds it and how the test talks to it directly."""

    name: str  # podman | docker
    socket: str

    @property
    def env(self) -> dict[str, str]:
        return {"CONTAINER_HOST" if self.name == "podman" else "DOCKER_HOST": self.socket}

    def cli(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """The runtime's own CLI pointed at the same socket as flwd."""
        base = ["podman", "--url", self.socket] if self.name == "podman" else ["docker", "-H", self.socket]
        return subprocess.run([*base, *args], capture_output=True, text=True, timeout=timeout)

    def containers(self, run_id: str | None = None) -> list[str]:
        """Names of flwd-labelled containers (all, or of one run), running or not."""
        label = LABEL_RUN_ID if run_id is None else f"{LABEL_RUN_ID}={run_id}"
        done = self.cli("ps", "-a", "--filter", f"label={label}", "--format", "{{.Names}}")
        assert done.returncode == 0, done.stderr
        return [n for n in done.stdout.split() if n.startswith("flwd-")]

    def created_since(self, run_id: str, since: float) -> list[str]:
        """Container events the runtime logged for *run_id* since *since* (epoch seconds)."""
        done = self.cli("events", "--since", str(int(since) - 1), "--until", str(int(time.time()) + 1),
                        "--filter", f"label={LABEL_RUN_ID}={run_id}", "--format", "{{json .}}")
        assert done.returncode == 0, done.stderr
        return [line for line in done.stdout.splitlines() if line.strip()]

    def logged_created(self, run_id: str, since: float, timeout: float = 10.0) -> list[str]:
        """``created_since`` once it names a container, waiting up to *timeout* seconds: under
        load the runtime's event log can trail the run that caused it."""
        deadline = time.monotonic() + timeout
        while not (found := self.created_since(run_id, since)) and time.monotonic() < deadline:
            time.sleep(0.5)
        return found


@dataclass(frozen=True, slots=True)
class Result:
    """One finished `flwd` invocation."""

    code: int
    out: str
    err: str
    seconds: float

    def events(self) -> list[dict[str, Any]]:
        """The NDJSON events of a `--json` run (every stdout line must be one)."""
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]

    def describe(self) -> str:
        return f"exit={self.code} after {self.seconds:.1f}s\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


@dataclass(slots=True)
class Sandbox:
    """A jobs root and a data dir under /var/tmp/flwd-it (0755: reachable by the rootless
    Podman user), plus the environment every flwd subprocess gets: nothing of ours leaks in."""

    base: Path
    runtime: Runtime
    jobs: Path = field(init=False)
    data: Path = field(init=False)
    home: Path = field(init=False)
    run_ids: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.jobs, self.data, self.home = self.base / "jobs", self.base / "data", self.base / "home"
        for path in (self.jobs, self.data, self.home):
            path.mkdir(mode=0o755, exist_ok=True)

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home),
               "LANG": "C.UTF-8", **self.runtime.env}
        env.update(extra or {})
        return env

    def write_job(self, name: str, spec: str, scripts: Mapping[str, str] | None = None) -> str:
        """Write ``<jobs>/<name>/job.yaml`` plus scripts; returns the job id (its name)."""
        job = self.jobs / name
        job.mkdir(mode=0o755, parents=True, exist_ok=True)
        (job / "job.yaml").write_text(textwrap.dedent(spec))
        for file, text in (scripts or {}).items():
            (job / file).write_text(textwrap.dedent(text))
            (job / file).chmod(0o755)
        return name

    def argv(self, args: Sequence[str], jobs_dir: Path | None = None) -> list[str]:
        return [FLWD, "--runtime", self.runtime.name, "--jobs-dir", str(jobs_dir or self.jobs),
                "--data-dir", str(self.data), *args]

    def flwd(self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 60,
             jobs_dir: Path | None = None, raw_env: Mapping[str, str] | None = None) -> Result:
        """Run `flwd ARGS` to the end. *raw_env* replaces the whole environment."""
        started = time.monotonic()
        done = subprocess.run(self.argv(args, jobs_dir), capture_output=True, text=True,
                              timeout=timeout, cwd=self.base,
                              env=dict(raw_env) if raw_env is not None else self.env(env))
        result = Result(done.returncode, done.stdout, done.stderr, time.monotonic() - started)
        self._remember(result.out)
        return result

    def start(self, *args: str, env: Mapping[str, str] | None = None) -> "Running":
        """Start `flwd ARGS` in the background (stdout is read line by line)."""
        process = subprocess.Popen(self.argv(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, cwd=self.base, env=self.env(env))
        return Running(process=process, sandbox=self, started=time.monotonic())

    def _remember(self, out: str) -> None:
        for line in out.splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("run_id"):
                self.run_ids.add(str(event["run_id"]))

    def db_bytes(self) -> bytes:
        """The SQLite database and its journal files, as stored on disk."""
        return b"".join(p.read_bytes() for p in sorted(self.data.glob("flwd.db*")) if p.is_file())

    def runs(self) -> list[dict[str, Any]]:
        result = self.flwd(":runs", "--json")
        assert result.code == 0, result.describe()
        runs: list[dict[str, Any]] = json.loads(result.out)
        self.run_ids.update(r["run_id"] for r in runs)
        return runs

    def only_run(self, job_id: str) -> dict[str, Any]:
        """The newest run of *job_id*."""
        runs = [r for r in self.runs() if r["job_id"] == job_id]
        assert runs, f"no run of {job_id} recorded"
        return runs[0]


@dataclass(slots=True)
class Running:
    """A background `flwd` process whose stdout (NDJSON with --json) is read as it comes.

    Threads drain stdout (line by line, into a queue) and stderr: waiting on the pipe and then
    calling readline() would strand lines that arrived in the same chunk in the reader's
    buffer, and stall until the process wrote again."""

    process: subprocess.Popen[str]
    sandbox: Sandbox
    started: float
    lines: list[str] = field(default_factory=list)
    _queue: queue.Queue[str | None] = field(default_factory=queue.Queue, repr=False)
    _err: list[str] = field(default_factory=list, repr=False)
    _pumps: list[threading.Thread] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        out, err = self.process.stdout, self.process.stderr
        assert out is not None and err is not None

        def pump_out() -> None:
            for line in out:
                self._queue.put(line)
            self._queue.put(None)

        self._pumps = [threading.Thread(target=pump_out, daemon=True),
                       threading.Thread(target=lambda: self._err.append(err.read()), daemon=True)]
        for pump in self._pumps:
            pump.start()

    def read_until(self, event_type: str, timeout: float = 30) -> dict[str, Any]:
        """Read NDJSON lines until an event of *event_type*; returns it."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:  # end of output: leave the mark for finish()
                self._queue.put(None)
                break
            self.lines.append(line)
            event = json.loads(line)
            self.sandbox.run_ids.add(str(event.get("run_id", "")))
            if event.get("type") == event_type:
                return dict(event)
        raise AssertionError(f"no {event_type} event within {timeout}s; got {self.lines}")

    def signal(self, sig: int = signal.SIGINT) -> float:
        self.process.send_signal(sig)
        return time.monotonic()

    def finish(self, timeout: float = 60) -> Result:
        self.process.wait(timeout=timeout)
        self._join_pumps()
        unread: list[str] = []
        while not self._queue.empty():
            line = self._queue.get_nowait()
            if line is not None:
                unread.append(line)
        result = Result(self.process.returncode, "".join(self.lines + unread), "".join(self._err),
                        time.monotonic() - self.started)
        self.sandbox._remember(result.out)
        return result

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self._join_pumps()

    def _join_pumps(self) -> None:
        for pump in self._pumps:
            pump.join(timeout=10)


def cancel_running(sandbox: Sandbox, running: Running, run_id: str, how: str,
                   timeout: float) -> tuple[Result, float]:
    """Cancel *running* by Ctrl-C (``how="sigint"``) or by ``flwd :cancel`` from another
    process (``how="cancel"``); its result and the seconds from asking to its end."""
    asked = time.monotonic()
    if how == "sigint":
        running.signal(signal.SIGINT)
    else:
        cancel = sandbox.flwd(":cancel", run_id)
        assert cancel.code == 0, cancel.describe()
    result = running.finish(timeout=timeout)
    return result, time.monotonic() - asked


def secrets_dir(run_id: str) -> Path:
    """Where FilesystemSecretWriter keeps a run's secrets for a flwd started with
    ``Sandbox.env`` (no XDG_RUNTIME_DIR): ``/dev/shm/flwd-secrets-<uid>/<run_id>``."""
    return default_base_dir({}) / run_id


def runtime_for(name: str, request: pytest.FixtureRequest) -> Runtime:
    socket = request.getfixturevalue(f"{name}_socket")
    return Runtime(name=name, socket=str(socket))


@pytest.fixture(scope="module", params=RUNTIMES)
def rt(request: pytest.FixtureRequest) -> Runtime:
    """Each test module runs once per runtime: rootless Podman, then Docker."""
    return runtime_for(request.param, request)


@pytest.fixture(scope="module")
def sandbox(rt: Runtime) -> Iterator[Sandbox]:
    """One sandbox per module and runtime; removed afterwards, with any container it left."""
    IT_ROOT.mkdir(mode=0o755, exist_ok=True)
    IT_ROOT.chmod(0o755)
    base = Path(tempfile.mkdtemp(prefix=f"e2e-{rt.name}-", dir=IT_ROOT))
    base.chmod(0o755)
    box = Sandbox(base=base, runtime=rt)
    yield box
    leftovers = [name for run_id in sorted(box.run_ids) for name in rt.containers(run_id)]
    for name in leftovers:
        rt.cli("rm", "-f", name)
    secrets_left = [rid for rid in box.run_ids if rid and secrets_dir(rid).exists()]
    for run_id in secrets_left:
        shutil.rmtree(secrets_dir(run_id), ignore_errors=True)
    shutil.rmtree(base, ignore_errors=True)
    try:
        IT_ROOT.rmdir()
    except OSError:
        pass  # another sandbox still lives there
    assert not leftovers, f"containers left behind: {leftovers}"
    assert not secrets_left, f"secrets directories left behind: {secrets_left}"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def parse_facts(out: str) -> dict[str, list[str]]:
    """``key=value`` lines printed by a probe script, grouped by key."""
    return secure_facts.parse_facts(out.splitlines())
