"""`flwd JOB --detach`: the id at once, the run goes on in the background (SPEC section 7)."""

from __future__ import annotations

import json

from tests.integration.e2e_support import Sandbox, rt, sandbox  # noqa: F401 - fixtures

SPEC = """\
    executor: container
    image: alpine:3.20
    command: [sh, -c, "echo detached-output; exit 5"]
    """


def test_detach_with_json_prints_only_json_lines_ending_with_the_run_when_started(
        sandbox: Sandbox) -> None:
    job = sandbox.write_job("detached", SPEC)

    started = sandbox.flwd(job, "--detach", "--json")

    assert started.code == 0, started.describe()
    lines = [json.loads(line) for line in started.out.splitlines()]  # every line is JSON
    run_id = lines[-1]["run_id"]
    assert lines[-1]["job_id"] == job and lines[-1]["status"] == "queued"
    followed = sandbox.flwd(":logs", run_id, "--follow")
    assert followed.code == 5 and followed.out == "detached-output\n", followed.describe()


def test_detach_prints_the_bare_run_id_when_not_asked_for_json(sandbox: Sandbox) -> None:
    job = sandbox.write_job("detached-plain", SPEC)

    started = sandbox.flwd(job, "--detach")

    assert started.code == 0, started.describe()
    run_id = started.out.strip()
    sandbox.run_ids.add(run_id)
    followed = sandbox.flwd(":logs", run_id, "--follow")
    assert followed.code == 5, followed.describe()
