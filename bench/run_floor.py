"""The lowest wall time any in-process `flwd JOB` could reach with the user's dependencies, from
its measured parts, against `bench/bare_run.sh` (the same hardened container through the runtime
CLI): what issue 11's in-process targets (<= 1.5x Docker and rootful Podman) run into.

A `flwd JOB` with no resident server is one Python process that must, at the least:
- start the interpreter and import what composes and parses it: dependency-injector, Cyclopts,
  PyYAML (the "import floor" of `bench/cli_bench.py`), measured as `python -c "import ..."`;
- import the runtime's SDK (docker-py, podman-py), measured the same way, minus the floor;
- make the runtime API calls of an attached `run --rm`: create, attach, start, wait, remove.
  Timed here in this process through a bare standard-library client with no SDK and no flwd
  code around it, on the same socket, with the hardened body flwd sends (Podman: flwd's own
  SpecGenerator; Docker: the Engine API fields of the same flags).
Their sum is a floor: flwd also records the run, writes its run directory and prints (a real
`flwd JOB` in-process is timed alongside). Rootful Podman needs a service for the API: this
script starts one and does not count its start-up (flwd's own private service is started per
process; its start-up is printed alongside).

Prints figures, asserts nothing:
`.venv/bin/python bench/run_floor.py [--runs N] [--runtime docker|podman-rootful|podman]`.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_bench import IMAGES, PYTHON, TARGETS, Bench, run_all  # noqa: E402  (the same jobs and wrapper)

from flwd.adapters.podman_runtime import WAIT_POLL_INTERVAL  # noqa: E402
from flwd.adapters.podman_specgen import build_specgen  # noqa: E402
from flwd.ports.runtime import ContainerSpec, Mount  # noqa: E402

FIXED = "import dependency_injector.containers, cyclopts, yaml"
SDKS = {"docker": "import docker", "podman": "import podman", "podman-rootful": "import podman"}
LIBPOD = "/v4.0.0/libpod"


def spec_for(bench: Bench, run_dir: Path, name: str) -> ContainerSpec:
    """The container of bench/bare_run.sh's flags."""
    return ContainerSpec(
        name=name, image=IMAGES[bench.runtime], command=("/bin/sh", "/flwd/job/main.sh"),
        env={"FLWD_RUN_ID": name, "FLWD_JOB_ID": "echo", "FLWD_JOB_DIR": "/flwd/job",
             "FLWD_RUN_DIR": "/flwd/run", "FLWD_SECRETS_DIR": "/run/secrets",
             "FLWD_ARGS_JSON": "{}"},
        labels={}, workdir="/flwd/run", tmpfs={"/tmp": "rw,nosuid,nodev,size=64m"},
        mounts=(Mount(source=str(bench.job), target="/flwd/job", read_only=True),
                Mount(source=str(run_dir), target="/flwd/run", read_only=False)),
        pids_limit=256,
    )


def engine_body(spec: ContainerSpec) -> dict[str, object]:
    """The Docker Engine API create body for *spec* (what `docker run` sends for those flags)."""
    assert spec.command is not None
    return {
        "Image": spec.image, "Entrypoint": list(spec.command[:1]), "Cmd": list(spec.command[1:]),
        "Env": [f"{k}={v}" for k, v in spec.env.items()], "WorkingDir": spec.workdir,
        "AttachStdout": True, "AttachStderr": True, "Tty": False, "OpenStdin": False,
        "HostConfig": {
            "Binds": [f"{m.source}:{m.target}:{'ro' if m.read_only else 'rw'}"
                      for m in spec.mounts],
            "ReadonlyRootfs": True, "Tmpfs": dict(spec.tmpfs), "CapDrop": list(spec.cap_drop),
            "SecurityOpt": ["no-new-privileges"], "NetworkMode": spec.network,
            "PidsLimit": spec.pids_limit, "Init": True,
            "Ulimits": [{"Name": k, "Soft": v, "Hard": v} for k, v in spec.ulimits.items()],
        },
    }


class BareApi:
    """Standard-library HTTP over the runtime's unix socket: one connection per request."""

    def __init__(self, url: str) -> None:
        self.path = url.removeprefix("unix://")

    def _sock(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(self.path)
        return sock

    def call(self, method: str, path: str, body: object = None) -> object:
        conn = http.client.HTTPConnection("localhost", timeout=60)
        conn.sock = self._sock()
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        raw = response.read()
        conn.close()
        if response.status >= 300:
            raise SystemExit(f"{method} {path}: {response.status} {raw[:300]!r}")
        if "json" not in (response.getheader("Content-Type") or ""):
            return raw
        return json.loads(raw)

    def attach(self, path: str) -> tuple[threading.Thread, bytearray]:
        """A hijacked attach, read to its end in a thread, as `docker run` attaches."""
        sock = self._sock()
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\n"
                     "Upgrade: tcp\r\nContent-Length: 0\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        received = bytearray(head.split(b"\r\n\r\n", 1)[1])

        def read() -> None:
            with sock:
                while chunk := sock.recv(65536):
                    received.extend(chunk)

        thread = threading.Thread(target=read)
        thread.start()
        return thread, received


def api_run(bench: Bench, api: BareApi, run_dir: Path) -> float:
    """create, attach, start, wait, remove; seconds from the first request to the removal."""
    name = f"floor-{os.urandom(4).hex()}"
    spec = spec_for(bench, run_dir, name)
    libpod = bench.runtime != "docker"
    start = time.perf_counter()
    if libpod:
        created = api.call("POST", f"{LIBPOD}/containers/create", build_specgen(spec))
        base = f"{LIBPOD}/containers/{created['Id']}"  # type: ignore[index]
        reader, output = api.attach(f"{base}/attach?stream=true&stdout=true&stderr=true")
    else:
        created = api.call("POST", f"/containers/create?name={name}", engine_body(spec))
        base = f"/containers/{created['Id']}"  # type: ignore[index]
        reader, output = api.attach(f"{base}/attach?stream=1&stdout=1&stderr=1")
    api.call("POST", f"{base}/start")
    reader.join()
    # libpod polls a waited-for container every 250 ms unless told: flwd's interval
    api.call("POST", f"{base}/wait?condition=stopped&condition=exited&interval="
             f"{WAIT_POLL_INTERVAL}" if libpod else f"{base}/wait")
    api.call("DELETE", f"{base}?force=true&v=true" if libpod else f"{base}?force=1&v=1")
    seconds = time.perf_counter() - start
    if b"hello" not in output:
        raise SystemExit(f"the container did not print hello: {bytes(output)!r}")
    return seconds


def run_dir(base: Path) -> Path:
    path = Path(tempfile.mkdtemp(dir=base))
    path.chmod(0o755)  # as bare_run.sh's, reachable by a rootless runtime's container root
    return path


def wall(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - start


class RootfulService:
    """`podman system service` as root on a private socket (started once, not timed per run)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="flwd-floor-"))
        self.url = f"unix://{self.dir}/podman.sock"
        start = time.perf_counter()
        self.process = subprocess.Popen(["podman", "system", "service", "--time=0", self.url],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        while True:
            try:
                BareApi(self.url).call("GET", "/_ping")
                break
            except (OSError, SystemExit):
                if time.perf_counter() - start > 10:
                    self.close()
                    raise SystemExit("the rootful Podman service did not start") from None
                time.sleep(0.01)
        self.startup = time.perf_counter() - start

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)


def report(runtime: str, runs: int) -> None:
    bench = Bench(runtime)
    service = RootfulService() if runtime == "podman-rootful" else None
    api = BareApi(service.url if service else bench.socket)
    runs_dir = bench.base / "floor-runs"
    runs_dir.mkdir(mode=0o755)
    sides = {
        "bare": lambda: wall(bench.bare_argv()),
        "flwd in-process": lambda: bench.timed(bench.flwd_argv(), bench.in_process_env),
        "interpreter": lambda: wall([PYTHON, "-c", "pass"]),
        "fixed imports": lambda: wall([PYTHON, "-c", FIXED]),
        "fixed + SDK": lambda: wall([PYTHON, "-c", f"{FIXED}; {SDKS[runtime]}"]),
        "API calls": lambda: api_run(bench, api, run_dir(runs_dir)),
    }
    try:
        for measure in sides.values():  # warm caches, .pyc files and the runtime
            measure()
        times: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(runs):  # interleaved, so all sides see the same load
            for name, measure in sides.items():
                times[name].append(measure())
        medians = {name: statistics.median(series) for name, series in times.items()}
        print_report(runtime, runs, medians, service.startup if service else None)
    finally:
        if service:
            service.close()
        bench.close()


def print_report(runtime: str, runs: int, m: dict[str, float], startup: float | None) -> None:
    bare, target = m["bare"], TARGETS[runtime]
    print(f"\n== {runtime}, {runs} runs each, interleaved (medians)")
    for name, seconds in m.items():
        print(f"  {seconds * 1000:>7.0f} ms  {name}")
    if startup is not None:
        print(f"  {startup * 1000:>7.0f} ms  (rootful service start-up, once; not in the floor)")
    floors = (
        ("interpreter + fixed imports + SDK import + API calls", m["fixed + SDK"] + m["API calls"]),
        ("the same with no SDK import", m["fixed imports"] + m["API calls"]),
        ("interpreter alone + API calls (no library at all)", m["interpreter"] + m["API calls"]),
    )
    print(f"lowest reachable in-process time against bare {bare * 1000:.0f} ms "
          f"(target {target}x = {bare * target * 1000:.0f} ms):")
    for label, seconds in floors:
        verdict = "within" if seconds / bare <= target else "OVER"
        print(f"  {seconds * 1000:>7.0f} ms  {seconds / bare:.2f}x  {verdict}  {label}")
    flwd = m["flwd in-process"]
    print(f"flwd in-process {flwd * 1000:.0f} ms = {flwd / bare:.2f}x: "
          f"{(flwd - floors[0][1]) * 1000:+.0f} ms over the floor with the SDK")


if __name__ == "__main__":
    run_all(__doc__, report, ["docker", "podman-rootful", "podman"])
