"""The run directory on the host: what a job leaves there reaches no other host user."""

from __future__ import annotations

import subprocess

from tests.integration.e2e_support import (  # noqa: F401 - fixtures
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
