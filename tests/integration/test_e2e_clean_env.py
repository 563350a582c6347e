"""The container's environment is the same on Podman and Docker: the image's, the ULC
variables and the job's env, nothing the runtime adds on its own (SPEC section 4)."""

from __future__ import annotations

from tests.integration.e2e_support import Sandbox, rt, sandbox  # noqa: F401 - fixtures

# what every runtime gives any process: the image's PATH, HOSTNAME/HOME, and the shell's own
SHELL_AND_IMAGE = {"PATH", "HOSTNAME", "HOME", "PWD", "SHLVL"}
ULC = {"FLWD_RUN_ID", "FLWD_JOB_ID", "FLWD_JOB_DIR", "FLWD_RUN_DIR", "FLWD_SECRETS_DIR",
       "FLWD_ARGS_JSON"}


def test_environment_has_no_runtime_extras_when_the_job_sets_none(sandbox: Sandbox) -> None:
    job = sandbox.write_job("env-names", """\
        executor: container
        image: alpine:3.20
        command: [sh, -c, "env | sed 's/=.*//'"]
        """)

    result = sandbox.flwd(job)

    assert result.code == 0, result.describe()
    assert set(result.out.split()) == SHELL_AND_IMAGE | ULC


def test_job_env_keeps_a_name_the_runtime_would_otherwise_set_when_the_job_sets_it(
        sandbox: Sandbox) -> None:
    job = sandbox.write_job("env-term", """\
        executor: container
        image: alpine:3.20
        env: {TERM: dumb}
        command: [sh, -c, "echo TERM=$TERM"]
        """)

    result = sandbox.flwd(job)

    assert result.code == 0 and result.out == "TERM=dumb\n", result.describe()
