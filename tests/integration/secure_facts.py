"""The in-container probe for the `secure` profile and the checks every runtime and level share."""

from __future__ import annotations

import os
from typing import Iterable

Facts = dict[str, list[str]]
# pytest rewrites asserts in test files only, so each assert here names what it saw

# Prints one `key=value` line a fact. Callers append their own lines; the last line decides
# the script's exit code, so everything here may fail quietly.
SECURE_PROBE = r"""
grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status | tr -d '\t' | sed 's/:/=/'
echo "uid_map=$(head -n1 /proc/self/uid_map | tr -s ' ' | sed 's/^ //')"
touch /rootfs-probe 2>/dev/null && echo root_writable=yes || echo root_writable=no
touch /tmp/probe && echo tmp_writable=yes || echo tmp_writable=no
awk '$3 == "tmpfs" && $4 ~ /^rw/ { print "rw_tmpfs=" $2 }' /proc/mounts
awk '$2 == "/tmp" { print "tmp_options=" $4 }' /proc/mounts
awk '$2 ~ /^\/flwd\// || $2 ~ /^\/run\/secrets/ { print "mount=" $2 " " substr($4, 1, 2) }' /proc/mounts
grep -E 'sock' /proc/mounts | sed 's/^/sock_mount=/'
for p in /run/podman/podman.sock /var/run/docker.sock /run/docker.sock /run/user; do
  [ -e "$p" ] && echo "leak=$p"
done
echo hello > /flwd/run/out.txt && echo run_writable=yes || echo run_writable=no
touch /flwd/job/x 2>/dev/null && echo job_writable=yes || echo job_writable=no
echo "cwd=$(pwd)"
for n in /sys/class/net/*; do echo "net=${n##*/}"; done
echo "pid1=$(tr '\0' ' ' < /proc/1/cmdline)"
echo "self_pid=$$"
for ns in net pid ipc uts mnt; do echo "ns_$ns=$(readlink /proc/self/ns/$ns)"; done
echo "nofile=$(ulimit -n)"
echo "pids_max=$(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max 2>/dev/null)"
env | sed 's/=.*//; s/^/env=/'
"""
# what a container carries without flwd asking: the image's PATH, the runtime's HOSTNAME/HOME...
RUNTIME_ENV = frozenset({"PATH", "HOSTNAME", "HOME", "TERM", "container", "PWD", "SHLVL"})
NAMESPACES = ("net", "pid", "ipc", "uts", "mnt")
RUN_MOUNTS = ("/flwd/job ro", "/flwd/run rw")


def parse_facts(lines: Iterable[str]) -> Facts:
    """The probe's ``key=value`` lines grouped by key, in order; other lines are left out."""
    pairs = (line.partition("=") for line in lines)
    grouped: Facts = {}
    for key, _, value in (pair for pair in pairs if pair[1]):
        grouped.setdefault(key, []).append(value)
    return grouped


def assert_no_capabilities(facts: Facts) -> None:
    assert facts["CapEff"] == ["0000000000000000"], facts["CapEff"]
    assert facts["CapBnd"] == ["0000000000000000"], facts["CapBnd"]


def assert_no_new_privileges(facts: Facts) -> None:
    assert facts["NoNewPrivs"] == ["1"], facts["NoNewPrivs"]


def assert_default_seccomp(facts: Facts) -> None:
    assert facts["Seccomp"] == ["2"], facts["Seccomp"]


def assert_rootfs_read_only(facts: Facts) -> None:
    assert facts["root_writable"] == ["no"], facts["root_writable"]


def assert_tmp_is_the_only_writable_tmpfs(facts: Facts) -> None:
    # /dev, /dev/shm and the cgroup stub are runtime plumbing on both runtimes, not scratch space
    scratch = [m for m in facts["rw_tmpfs"] if not m.startswith(("/dev", "/sys/", "/proc/"))]

    assert scratch == ["/tmp"], facts["rw_tmpfs"]
    assert facts["tmp_writable"] == ["yes"], facts["tmp_writable"]
    assert {"nosuid", "nodev"} <= set(facts["tmp_options"][0].split(",")), facts["tmp_options"]


def assert_only_loopback(facts: Facts) -> None:
    assert facts["net"] == ["lo"], facts["net"]


def assert_private_namespaces(facts: Facts) -> None:
    for ns in NAMESPACES:
        assert facts[f"ns_{ns}"] != [os.readlink(f"/proc/self/ns/{ns}")], ns


def assert_init_is_pid_one(facts: Facts, script: str) -> None:
    """An init, not the job's shell, is pid 1, and it runs *script*."""
    init = facts["pid1"][0].split()

    assert facts["self_pid"] != ["1"], facts["pid1"]
    assert init[0].endswith("init") and init[0] != "/bin/sh", facts["pid1"]
    assert script in init, facts["pid1"]


def assert_run_dir_writable_job_dir_read_only(facts: Facts) -> None:
    assert (facts["run_writable"], facts["job_writable"]) == (["yes"], ["no"]), facts
    assert facts["cwd"] == ["/flwd/run"], facts["cwd"]


def assert_mounts_are_exactly(facts: Facts, *extra: str) -> None:
    """The job (ro) and run (rw) mounts plus *extra* (``"/run/secrets ro"``), nothing else."""
    assert sorted(facts.get("mount", [])) == sorted(RUN_MOUNTS + extra), facts.get("mount")


def assert_no_runtime_socket(facts: Facts) -> None:
    assert "sock_mount" not in facts, facts["sock_mount"]
    assert "leak" not in facts, facts["leak"]


def assert_env_adds_exactly(facts: Facts, names: set[str]) -> None:
    """Beyond what every container carries, the environment holds exactly *names*."""
    assert set(facts["env"]) - RUNTIME_ENV == names, sorted(facts["env"])
