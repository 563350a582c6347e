"""SPEC section 4 `secure` defaults, observed from inside a container started by `flwd JOB`."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from tests.integration.e2e_support import (  # noqa: F401 - fixtures
    Result,
    Runtime,
    Sandbox,
    parse_facts,
    rt,
    sandbox,
)

PROBE = r"""
grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status | tr -d '\t' | sed 's/:/=/'
echo "uid_map=$(head -n1 /proc/self/uid_map | tr -s ' ' | sed 's/^ //')"
touch /rootfs-probe 2>/dev/null && echo root_writable=yes || echo root_writable=no
touch /tmp/probe && echo tmp_writable=yes || echo tmp_writable=no
awk '$3 == "tmpfs" && $4 ~ /^rw/ { print "rw_tmpfs=" $2 }' /proc/mounts
awk '$2 == "/tmp" { print "tmp_options=" $4 }' /proc/mounts
awk '$2 ~ /^\/flwd\// || $2 ~ /^\/run/ { print "mount=" $2 " " substr($4, 1, 2) }' /proc/mounts
grep -E 'sock' /proc/mounts | sed 's/^/sock_mount=/'
for p in /run/podman/podman.sock /var/run/docker.sock /run/docker.sock /run/user; do
  [ -e "$p" ] && echo "leak=$p"
done
echo hello > /flwd/run/out.txt && echo run_writable=yes || echo run_writable=no
touch /flwd/job/x 2>/dev/null && echo job_writable=yes || echo job_writable=no
for n in /sys/class/net/*; do echo "net=${n##*/}"; done
echo "pid1=$(tr '\0' ' ' < /proc/1/cmdline)"
echo "self_pid=$$"
echo "pids_max=$(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max 2>/dev/null)"
for ns in net pid ipc uts; do echo "ns_$ns=$(readlink /proc/self/ns/$ns)"; done
env | sed 's/=.*//; s/^/env=/'
echo "canary_lines=$(env | grep -c leak)"
echo "cwd=$(pwd)"
"""
# what a container carries without flwd asking: the image's PATH, the runtime's HOSTNAME/HOME...
RUNTIME_ENV = {"PATH", "HOSTNAME", "HOME", "TERM", "container", "PWD", "SHLVL"}
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
    return parse_facts(probe.out)


@pytest.fixture(scope="module")
def decisions(sandbox: Sandbox, probe_job: str) -> list[dict[str, Any]]:
    result = sandbox.flwd(probe_job, "--json", env=CANARY)
    assert result.code == 0, result.describe()
    return [e["data"] for e in result.events() if e["type"] == "policy.decision"]


def test_no_capabilities_when_secure(facts: dict[str, list[str]]) -> None:
    assert facts["CapEff"] == ["0000000000000000"]
    assert facts["CapBnd"] == ["0000000000000000"]


def test_no_new_privileges_when_secure(facts: dict[str, list[str]]) -> None:
    assert facts["NoNewPrivs"] == ["1"]


def test_default_seccomp_stays_on_when_secure(facts: dict[str, list[str]]) -> None:
    assert facts["Seccomp"] == ["2"]


def test_rootfs_is_read_only_when_secure(facts: dict[str, list[str]]) -> None:
    assert facts["root_writable"] == ["no"]


def test_tmp_is_the_only_writable_tmpfs_when_secure(facts: dict[str, list[str]]) -> None:
    # /dev and /dev/shm are runtime plumbing on both runtimes, not scratch space
    scratch = [m for m in facts["rw_tmpfs"] if not m.startswith(("/dev", "/sys/", "/proc/"))]

    assert scratch == ["/tmp"]
    assert facts["tmp_writable"] == ["yes"]
    assert {"nosuid", "nodev"} <= set(facts["tmp_options"][0].split(","))


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
    assert facts["run_writable"] == ["yes"] and facts["job_writable"] == ["no"]
    assert facts["cwd"] == ["/flwd/run"]
    written = list((sandbox.data / "runs").glob("*/out.txt"))
    assert written and written[0].read_text() == "hello\n"


def test_only_the_run_mounts_exist_when_job_has_no_secrets(facts: dict[str, list[str]]) -> None:
    run_mounts = [m for m in facts.get("mount", []) if m.startswith("/flwd/")]
    other_run = [m for m in facts.get("mount", []) if m.startswith("/run")]

    assert sorted(run_mounts) == ["/flwd/job ro", "/flwd/run rw"]
    assert not [m for m in other_run if m.startswith("/run/secrets")]
    assert "sock_mount" not in facts and "leak" not in facts


def test_only_loopback_exists_when_secure(facts: dict[str, list[str]]) -> None:
    assert facts["net"] == ["lo"]


def test_private_namespaces_when_secure(facts: dict[str, list[str]]) -> None:
    for ns in ("net", "pid", "ipc", "uts"):
        assert facts[f"ns_{ns}"] != [os.readlink(f"/proc/self/ns/{ns}")], ns


def test_pid_one_is_an_init_when_secure(facts: dict[str, list[str]]) -> None:
    init = facts["pid1"][0].split()

    assert facts["self_pid"] != ["1"]
    assert init[0].endswith("init") and init[0] != "/bin/sh"
    assert "/flwd/job/main.sh" in init


def test_host_environment_is_not_inherited_when_secure(facts: dict[str, list[str]]) -> None:
    names = set(facts["env"])

    assert "FLWD_IT_CANARY" not in names and facts["canary_lines"] == ["0"]
    assert names - RUNTIME_ENV == ULC_ENV


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
