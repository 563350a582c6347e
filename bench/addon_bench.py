"""Add-on figures (SPEC section 10), printed, never asserted.

On Docker and on a private rootless Podman service (the one the integration tests use, trusting
a local registry), with the add-on image already present:
- reading and validating an add-on's manifest (what adding a source costs once the pull is
  excluded): create the reader container, copy the manifest out, remove it, parse;
- a run of the add-on job against a run of a local job with the same pinned image and the same
  command, in the same engine, paired A B A B, medians and their ratio.

Needs the runtimes of `.ci/setup-runtimes.sh` and Debian's docker-registry:
`.venv/bin/python bench/addon_bench.py [RUNS]` (default 10 pairs).
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from dependency_injector import providers

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from flwd.adapters.runtime_detect import RuntimeEndpoint  # noqa: E402
from flwd.adapters.yaml_catalog import YamlJobCatalog  # noqa: E402
from flwd.domain.plan.use_cases import RunRequest  # noqa: E402
from flwd.domain.spec.addon import parse_addon_manifest  # noqa: E402
from flwd.domain.spec.addon_load import load_addon  # noqa: E402
from flwd.domain.spec.catalog import load_catalog  # noqa: E402
from flwd.entrypoints.config import FlwdConfig  # noqa: E402
from flwd.entrypoints.container import Container, build_container  # noqa: E402
from flwd.ports.kinds import RuntimeKind  # noqa: E402
from tests.fixed_jobs import FixedJobs  # noqa: E402
from tests.integration.addon_images import PushedAddon, push_addon  # noqa: E402
from tests.integration.conftest import ci_env  # noqa: E402
from tests.integration.oci_registry import LocalRegistry, PrivatePodman, remove_local_images  # noqa: E402

LOCAL_JOB = """\
executor: container
image: {image}
command: ["/bin/sh", "/opt/hello/hello.sh"]
args:
  - {{name: name, type: string, required: true}}
"""


def engine(kind: RuntimeKind, url: str, base: Path, pushed: PushedAddon) -> Container:
    jobs = base / "jobs"
    (jobs / "local-hello").mkdir(parents=True)
    (jobs / "local-hello" / "job.yaml").write_text(LOCAL_JOB.format(image=pushed.pinned))
    container = build_container(FlwdConfig(jobs_dirs=(str(jobs),), data_dir=str(base / "data"),
                                           runtime=kind))
    container.runtime_found.override(providers.Object(RuntimeEndpoint(kind=kind, url=url)))
    addon = load_addon(container.addon_images(), source="bench", ref=pushed.ref,
                       progress=lambda _: None)
    local = load_catalog(YamlJobCatalog([jobs]).documents()).jobs
    container.list_jobs.override(providers.Object(FixedJobs(local + addon.manifest.jobs)))
    return container


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def run_once(container: Container, job: str) -> None:
    record = container.start_run()(RunRequest(job=job, args={"name": "bench"})).result(120)
    if record.status != "succeeded":
        raise SystemExit(f"{job}: {record.status} {record.code} {record.detail}")


def bench_runtime(kind: RuntimeKind, url: str, registry: LocalRegistry, pairs: int) -> None:
    pushed = push_addon(registry, f"bench-{kind.value}")
    base = Path(tempfile.mkdtemp(prefix="addon-bench-", dir="/var/tmp"))
    base.chmod(0o755)
    container = engine(kind, url, base, pushed)
    try:
        images = container.addon_images()
        image = images.pull(pushed.ref, lambda _: None)
        reads = [timed(lambda: parse_addon_manifest(images.read_manifest(image.pinned),
                                                    source="bench", image=image))
                 for _ in range(pairs)]
        run_once(container, "local-hello")  # warm: the first run pays the SDK import
        local: list[float] = []
        addon: list[float] = []
        for _ in range(pairs):
            local.append(timed(lambda: run_once(container, "local-hello")))
            addon.append(timed(lambda: run_once(container, "bench/hello")))
        report(kind.value, reads, local, addon)
    finally:
        container.shutdown_resources()
        shutil.rmtree(base, ignore_errors=True)


def report(name: str, reads: list[float], local: list[float], addon: list[float]) -> None:
    ms = lambda values: statistics.median(values) * 1000  # noqa: E731
    print(f"{name}: manifest read+validate (image present) median {ms(reads):.0f} ms "
          f"(min {min(reads) * 1000:.0f})")
    print(f"{name}: local job run median {ms(local):.0f} ms, add-on job run median "
          f"{ms(addon):.0f} ms, ratio {ms(addon) / ms(local):.3f} ({len(local)} pairs)")


def main() -> None:
    pairs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    print(f"load average {os.getloadavg()[0]:.2f}")
    registry = LocalRegistry()
    podman = PrivatePodman(ci_env("FLWD_TEST_PODMAN_USER") or "flwdrun", [registry.host])
    try:
        bench_runtime(RuntimeKind.DOCKER, ci_env("FLWD_TEST_DOCKER_SOCKET") or "unix:///var/run/docker.sock",
                      registry, pairs)
        bench_runtime(RuntimeKind.PODMAN, podman.url, registry, pairs)
    finally:
        remove_local_images(registry, podman.url)
        podman.stop()
        registry.stop()


if __name__ == "__main__":
    main()
