"""Sources (SPEC section 10): the cost of adding a source with its image present, of listing
20 sources with 10 jobs each (`flwd :jobs --json` with and without them; target: they add
<= 20 ms), and of an add-on run against a local run of the same image and command, paired
A B A B (target: <= 1.05x).

Starts a private Debian ``docker-registry`` on loopback, pushes the hello add-on with Docker
(tests/integration/addon_images.py), signs it in cosign's format with a fresh key the bench's
policy requires (tests/integration/cosign_sign.py), and drives Docker (DOCKER_HOST or
FLWD_TEST_DOCKER_SOCKET): the add and every add-on run include the signature check (the
verifier caches its verdict per digest within a process). Prints
figures, asserts nothing: `.venv/bin/python bench/sources_bench.py [--runs N]`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flwd.adapters.sqlite_store import SqliteRunStore  # noqa: E402
from flwd.domain.sources.jobs import record_manifest  # noqa: E402
from flwd.domain.sources.rules import SourceRequest  # noqa: E402
from flwd.entrypoints.config import FlwdConfig  # noqa: E402
from flwd.entrypoints.container import build_container  # noqa: E402
from flwd.ports.addons import ManifestDocument  # noqa: E402
from flwd.ports.kinds import RuntimeKind  # noqa: E402
from flwd.ports.sources import Source  # noqa: E402
from tests.cosign_support import new_key_pair  # noqa: E402
from tests.integration.addon_images import PushedAddon, push_addon  # noqa: E402
from tests.integration.cosign_sign import sign_image  # noqa: E402
from tests.integration.oci_registry import LocalRegistry, docker  # noqa: E402

FLWD = str(ROOT / ".venv" / "bin" / "flwd")
LOCAL_JOB = """\
executor: container
image: {image}
command: ["/bin/sh", "/opt/hello/hello.sh"]
args: [{{name: name, type: string, required: true}}]
"""


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def wall(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.strip()}")
    return elapsed


def paired(a: Callable[[], float], b: Callable[[], float], runs: int) -> tuple[list[float], list[float]]:
    """A B A B ...: CPU speed drifts on these machines (MACHINE.md)."""
    first: list[float] = []
    second: list[float] = []
    for _ in range(runs):
        first.append(a())
        second.append(b())
    return first, second


def bench_add(base: Path, pushed: PushedAddon, env: dict[str, str], runs: int) -> None:
    config = FlwdConfig(jobs_dirs=(str(base / "jobs"),), data_dir=str(base / "add-data"),
                        runtime=RuntimeKind.DOCKER, policy_file=env["FLWD_POLICY_FILE"])
    container = build_container(config, env=env)
    images = container.addon_images()
    pulls: list[float] = []
    real_pull = images.pull

    def timed_pull(ref: str, progress: Any) -> Any:
        start = time.perf_counter()
        try:
            return real_pull(ref, progress)
        finally:
            pulls.append(time.perf_counter() - start)

    images.pull = timed_pull  # type: ignore[method-assign]
    add, remove = container.add_source(), container.remove_source()
    request = SourceRequest(name="bench", ref=pushed.ref, trusted=True)
    add(request)  # the first add pulls the image; the rest find it present
    remove("bench")
    pulls.clear()
    totals = []
    for _ in range(runs):
        start = time.perf_counter()
        add(request)
        totals.append(time.perf_counter() - start)
        remove("bench")
    container.shutdown_resources()
    rest = [t - p for t, p in zip(totals, pulls)]
    print(f"add a source, image present ({runs} adds): total {median_ms(totals):.1f} ms median, "
          f"of which the registry pull (always asked, to see a moved tag) "
          f"{median_ms(pulls):.1f} ms; without the pull {median_ms(rest):.1f} ms "
          "(manifest read through a never-started container, validation, store)")


def fill_sources(data_dir: Path, sources: int, jobs: int) -> None:
    store = SqliteRunStore(data_dir / "flwd.db")
    digest = "sha256:" + "c" * 64
    for s in range(sources):
        manifest = {"apiVersion": "flwd.addon/v1", "kind": "AddOn",
                    "metadata": {"name": f"addon{s}", "version": "1.0.0"},
                    "jobs": [{"id": f"job{j}", "command": ["/bin/sh", "/opt/run.sh"],
                              "argspec": {"args": [{"name": "name", "type": "string",
                                                    "required": True}]}}
                             for j in range(jobs)]}
        image = f"localhost:5000/bench/addon{s}@{digest}"
        doc = ManifestDocument(image=image, path="/flwd-addon/manifest.yaml", data=manifest)
        store.add_source(Source(name=f"src{s}", ref=f"localhost:5000/bench/addon{s}:1",
                                image=image, digest=digest, manifest=record_manifest(doc),
                                addon_name=f"addon{s}", addon_version="1.0.0",
                                added_at="2026-01-01T00:00:00.000Z",
                                refreshed_at="2026-01-01T00:00:00.000Z"))
    store.close()


def bench_listing(base: Path, env: dict[str, str], runs: int) -> None:
    with_sources, without = base / "list-with", base / "list-without"
    fill_sources(with_sources, 20, 10)
    without.mkdir()
    argv = [FLWD, ":jobs", "--json"]
    count = len(json.loads(subprocess.run(argv, env={**env, "FLWD_DATA_DIR": str(with_sources)},
                                          capture_output=True, text=True).stdout)["jobs"])
    a, b = paired(lambda: wall(argv, {**env, "FLWD_DATA_DIR": str(without)}),
                  lambda: wall(argv, {**env, "FLWD_DATA_DIR": str(with_sources)}), runs)
    print(f"flwd :jobs --json, {runs} pairs: without sources {median_ms(a):.1f} ms, with 20 "
          f"sources x 10 jobs ({count} jobs listed) {median_ms(b):.1f} ms: +"
          f"{median_ms(b) - median_ms(a):.1f} ms (target <= 20 ms)")


def bench_runs(env: dict[str, str], runs: int) -> None:
    addon = [FLWD, "bench/hello", "--name", "x"]
    local = [FLWD, "local-hello", "--name", "x"]
    wall(addon, env), wall(local, env)  # warm: image present, caches filled
    a, b = paired(lambda: wall(local, env), lambda: wall(addon, env), runs)
    ratio = median_ms(b) / median_ms(a)
    print(f"run, {runs} pairs: local job {median_ms(a):.0f} ms, add-on job (same image and "
          f"command) {median_ms(b):.0f} ms: {ratio:.3f}x (target <= 1.05x)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    socket = os.environ.get("FLWD_TEST_DOCKER_SOCKET") or os.environ.get(
        "DOCKER_HOST", "unix:///var/run/docker.sock")
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], check=True)
    registry = LocalRegistry()
    base = Path(tempfile.mkdtemp(prefix="flwd-sources-bench-"))
    pushed = None
    try:
        pushed = push_addon(registry, "hello")
        (base / "jobs" / "local-hello").mkdir(parents=True)
        (base / "jobs" / "local-hello" / "job.yaml").write_text(LOCAL_JOB.format(image=pushed.pinned))
        key = new_key_pair()
        sign_image(registry, pushed.repository, pushed.digest, key)
        key.write_public(base / "cosign.pub")
        (base / "policy.yaml").write_text("verify_signatures: required\n"
                                          "signature_keys: [cosign.pub]\n")
        env = {**os.environ, "DOCKER_HOST": socket, "FLWD_RUNTIME": "docker",
               "FLWD_JOBS_DIR": str(base / "jobs"), "FLWD_DATA_DIR": str(base / "data"),
               "FLWD_POLICY_FILE": str(base / "policy.yaml"), "FLWD_RESIDENT": "0"}
        bench_add(base, pushed, env, runs)
        subprocess.run([FLWD, ":sources", "add", "bench", pushed.ref, "--trusted"], env=env,
                       check=True, capture_output=True)
        bench_runs(env, runs)
        bench_listing(base, env, runs)
        print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cpus")
    finally:
        if pushed is not None:
            subprocess.run(["docker", "rmi", "-f", pushed.pinned], capture_output=True)
        registry.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
