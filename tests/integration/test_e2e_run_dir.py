"""The run directory on the host: what a job leaves there reaches no other host user."""

from __future__ import annotations

import subprocess
import uuid
from typing import Iterator

import pytest

from tests.integration.e2e_support import (  # noqa: F401 - fixtures
    IMAGE,
    Runtime,
    Sandbox,
    rt,
    sandbox,
)

# container root owns what it writes and needs no capability to make it setuid; on rootful
# Docker that is host root, and Docker cannot mount the run directory nosuid
PLANT = "cp /bin/busybox /flwd/run/rootsh && chmod 4755 /flwd/run/rootsh && echo planted\n"


def test_a_setuid_file_a_job_leaves_is_out_of_other_users_reach_when_run_ends(
    rt: Runtime, sandbox: Sandbox
) -> None:
    job = sandbox.write_job("plant", """\
        executor: container
        image: alpine:3.20
        script: main.sh
        """, {"main.sh": PLANT})

    result = sandbox.flwd(job, "--json")
    run_id = result.events()[0]["run_id"]
    planted = sandbox.data / "runs" / run_id / "rootsh"
    reach = subprocess.run(["runuser", "-u", "nobody", "--", "test", "-e", str(planted)],
                           capture_output=True, text=True, timeout=30)

    assert result.code == 0 and "planted" in result.out, result.describe()
    assert planted.stat().st_mode & 0o4000, "the job could not make the file setuid"
    assert reach.returncode != 0, f"user nobody can reach {planted}, setuid to its owner"


@pytest.fixture(scope="module")
def volume_image(rt: Runtime, sandbox: Sandbox) -> Iterator[str]:
    """The test image plus a `VOLUME /data`, built for this module and removed after it."""
    context = sandbox.base / "volume-image"
    context.mkdir(mode=0o755)
    (context / "Containerfile").write_text(f"FROM {IMAGE}\nVOLUME /data\n")
    (context / "Containerfile").chmod(0o644)
    image = f"localhost/flwd-it-volume-{uuid.uuid4().hex[:12]}:1"
    built = rt.cli("build", "-q", "-t", image, "-f", str(context / "Containerfile"), str(context),
                   timeout=180)
    assert built.returncode == 0, built.stderr
    yield image
    rt.cli("rmi", "-f", image)


def _volumes(rt: Runtime) -> set[str]:
    listed = rt.cli("volume", "ls", "-q")
    assert listed.returncode == 0, listed.stderr
    return set(listed.stdout.split())


def test_an_image_volume_is_neither_writable_nor_left_behind_when_secure(
    rt: Runtime, sandbox: Sandbox, volume_image: str
) -> None:
    """`secure` promises a read-only root with /tmp as its only writable tmpfs, and only the
    run's own mounts: an image's VOLUME must not add a writable, unbounded host directory
    (nor an anonymous volume that outlives the run)."""
    job = sandbox.write_job("volume", f"""\
        executor: container
        image: {volume_image}
        script: main.sh
        container: {{pull_policy: never}}
        """, {"main.sh": "touch /data/x && echo data_writable=yes || echo data_writable=no\n"})
    before = _volumes(rt)

    result = sandbox.flwd(job)

    assert result.code == 0, result.describe()
    assert "data_writable=no" in result.out, result.describe()
    assert _volumes(rt) - before == set(), "the run left an anonymous volume behind"
