"""SPEC section 4 `secure` defaults, observed from inside a container started by `flwd JOB`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration import secure_facts as secure
from tests.integration.e2e_support import (  # noqa: F401 - fixtures
    Result,
    Runtime,
    Sandbox,
    rt,
    sandbox,
)

# the shared secure probe, then what only this end-to-end test checks: the host's env stays out
PROBE = secure.SECURE_PROBE + r"""
echo "canary_lines=$(env | grep -c leak)"
"""
ULC_ENV = {"FLWD_RUN_ID", "FLWD_JOB_ID", "FLWD_JOB_DIR", "FLWD_RUN_DIR", "FLWD_SECRETS_DIR",
           "FLWD_ARGS_JSON", "ARG_WHO", "GREETING"}
CANARY = {"FLWD_IT_CANARY": "leak"}


@pytest.fixture(scope="module")
def probe_job(sandbox: Sandbox) -> str:
    return sandbox.write_job("probe", """\
        executor: container
        image: alpine:3.20
        script: main.sh
        env: {GREETING: hello}
        args:
          - {name: who, type: string, default: world}
        """, {"main.sh": PROBE})


@pytest.fixture(scope="module")
def probe(sandbox: Sandbox, probe_job: str) -> Result:
    return sandbox.flwd(probe_job, env=CANARY)


@pytest.fixture(scope="module")
def facts(probe: Result) -> dict[str, list[str]]:
    assert probe.code == 0, probe.describe()
    return secure.parse_facts(probe.out.splitlines())


@pytest.fixture(scope="module")
def decisions(sandbox: Sandbox, probe_job: str) -> list[dict[str, Any]]:
    result = sandbox.flwd(probe_job, "--json", env=CANARY)
    assert result.code == 0, result.describe()
    return [e["data"] for e in result.events() if e["type"] == "policy.decision"]


def test_no_capabilities_when_secure(facts: dict[str, list[str]]) -> None:
    secure.assert_no_capabilities(facts)


def test_no_new_privileges_when_secure(facts: dict[str, list[str]]) -> None:
    secure.assert_no_new_privileges(facts)


def test_default_seccomp_stays_on_when_secure(facts: dict[str, list[str]]) -> None:
    secure.assert_default_seccomp(facts)


def test_rootfs_is_read_only_when_secure(facts: dict[str, list[str]]) -> None:
    secure.assert_rootfs_read_only(facts)


def test_tmp_is_the_only_writable_tmpfs_when_secure(facts: dict[str, list[str]]) -> None:
    secure.assert_tmp_is_the_only_writable_tmpfs(facts)


def test_tmp_has_exactly_the_planned_flags_when_secure(
    sandbox: Sandbox, probe_job: str, facts: dict[str, list[str]]
) -> None:
    """The same /tmp on Podman and Docker: the flags the plan asks for, none added silently."""
    plan = sandbox.flwd(":plan", probe_job, "--json")
    planned = json.loads(plan.out)["settings"]["tmpfs"]["/tmp"]

    assert _flags(facts["tmp_options"][0]) == _flags(planned)


def _flags(options: str) -> set[str]:
    """Mount flags that change behaviour; sizes, ids, modes and atime flavours left out."""
    ignored = ("size=", "uid=", "gid=", "mode=", "nr_inodes=", "inode64")
    atime = {"relatime", "noatime", "strictatime"}
    return {o for o in options.split(",") if o and not o.startswith(ignored) and o not in atime}


def test_run_dir_is_writable_and_job_dir_read_only_when_secure(
    facts: dict[str, list[str]], sandbox: Sandbox
) -> None:
    secure.assert_run_dir_writable_job_dir_read_only(facts)
    written = list((sandbox.data / "runs").glob("*/out.txt"))
    assert written and written[0].read_text() == "hello\n"


def test_only_the_run_mounts_exist_when_job_has_no_secrets(facts: dict[str, list[str]]) -> None:
    secure.assert_mounts_are_exactly(facts)  # no /run/secrets
    secure.assert_no_runtime_socket(facts)


def test_only_loopback_exists_when_secure(facts: dict[str, list[str]]) -> None:
    secure.assert_only_loopback(facts)


def test_private_namespaces_when_secure(facts: dict[str, list[str]]) -> None:
    secure.assert_private_namespaces(facts)


def test_pid_one_is_an_init_when_secure(facts: dict[str, list[str]]) -> None:
    secure.assert_init_is_pid_one(facts, "/flwd/job/main.sh")


def test_host_environment_is_not_inherited_when_secure(facts: dict[str, list[str]]) -> None:
    assert "FLWD_IT_CANARY" not in facts["env"] and facts["canary_lines"] == ["0"]
    secure.assert_env_adds_exactly(facts, ULC_ENV)


def test_rootless_decision_matches_the_uid_mapping_when_secure(
    rt: Runtime, facts: dict[str, list[str]], decisions: list[dict[str, Any]]
) -> None:
    inside, host, _count = facts["uid_map"][0].split()
    rootless = [(d["decision"], d["code"]) for d in decisions if d["subject"] == "runtime.rootless"]

    assert inside == "0"
    if rt.name == "podman":  # the CI Podman service is rootless: container root is a sub-uid
        assert host != "0"
    if host == "0":  # rootful (this Docker daemon has no userns-remap): goes ahead, with a warning
        assert rootless == [("warn", "runtime.rootful")]
    else:
        assert rootless == [("allow", "runtime.rootless")]


def test_pids_limit_is_enforced_or_reported_when_secure(
    rt: Runtime, probe: Result, facts: dict[str, list[str]], decisions: list[dict[str, Any]]
) -> None:
    limits = [d for d in decisions if d["subject"] == "runtime.limits"]

    if rt.name == "docker":
        assert facts["pids_max"] == ["256"]
        assert [(d["decision"], d["code"]) for d in limits] == [("allow", "runtime.limits.enforced")]
    else:  # rootless Podman on this cgroup v1 host ignores cgroup limits: flwd must say so
        assert [(d["decision"], d["code"]) for d in limits] == [("warn", "runtime.limits.unenforced")]
        assert "pids=256" in limits[0]["reason"]
        assert "warning[runtime.limits.unenforced]" in probe.err
