"""The Podman adapter against the real rootless Podman service, checked from inside a container."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import pytest

from flwd.adapters.podman_runtime import PodmanRuntime
from flwd.domain.errors import ContainerNameConflictError, OciError, RuntimeUnavailableError
from flwd.ports.runtime import ContainerSpec, Mount, RuntimeInfo
from tests.contracts.runtime import check_runtime_contract
from tests.integration import secure_facts as secure
from tests.integration.conftest import PODMAN_TEST_IMAGE

pytestmark = pytest.mark.podman

# the shared secure probe, then what only this adapter test checks: catatonit, devices, a secret
PROBE_SCRIPT = secure.SECURE_PROBE + r"""
grep -q catatonit /proc/1/exe && echo init=catatonit
for d in /dev/*; do echo "dev=${d##*/}"; done
echo "secret=$(cat /run/secrets/token)"
"""
DEVICES = {"console", "core", "fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm",
           "stderr", "stdin", "stdout", "tty", "urandom", "zero"}


@pytest.fixture(scope="module")
def runtime(podman_socket: str) -> Iterator[PodmanRuntime]:
    adapter = PodmanRuntime(podman_socket)
    yield adapter
    adapter.close()


@pytest.fixture(scope="module")
def info(runtime: PodmanRuntime) -> RuntimeInfo:
    return runtime.probe()


@pytest.fixture(scope="module")
def facts(runtime: PodmanRuntime, info: RuntimeInfo) -> Iterator[dict[str, list[str]]]:
    """Run the probe script once in a container set up like a secure flwd run."""
    os.makedirs("/var/tmp/flwd-it", mode=0o755, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="podman-", dir="/var/tmp/flwd-it"))
    base.chmod(0o755)
    job, run, secrets = base / "job", base / "run", base / "secrets"
    for path in (job, run, secrets):
        path.mkdir(mode=0o755)
    (job / "main.sh").write_text(PROBE_SCRIPT)
    (secrets / "token").write_text("s3cr3t")
    # what the engine must do under a uid mapping: hand the run dir and secrets to container root
    for path in (run, secrets, secrets / "token"):
        os.chown(path, info.root_uid, info.root_gid)
    secrets.chmod(0o500)
    (secrets / "token").chmod(0o400)
    spec = ContainerSpec(
        name=f"flwd-it-{uuid.uuid4().hex[:10]}", image=PODMAN_TEST_IMAGE,
        command=("/bin/sh", "/flwd/job/main.sh"),
        env={"FLWD_RUN_ID": "r1", "ARG_NAME": "Alice"},
        labels={"flwd.run-id": "r1", "flwd.job-id": "probe"},
        mounts=(Mount(source=str(job), target="/flwd/job", read_only=True),
                Mount(source=str(run), target="/flwd/run", read_only=False),
                Mount(source=str(secrets), target="/run/secrets", read_only=True)),
        workdir="/flwd/run", tmpfs={"/tmp": "rw,nosuid,nodev,size=16m"},
        pids_limit=256, memory_bytes=256 * 1024 * 1024, nano_cpus=1_000_000_000,
        ulimits={"nofile": 1024},
    )
    container_id = runtime.create(spec)
    try:
        runtime.start(container_id)
        lines = [line for line in runtime.output(container_id)]
        exit_code = runtime.wait(container_id)
    finally:
        runtime.remove(container_id)
    found = secure.parse_facts(line.line for line in lines if line.stream == "stdout")
    found["exit"] = [str(exit_code)]
    found["stderr"] = [line.line for line in lines if line.stream == "stderr"]
    out_file = run / "out.txt"
    found["run_file"] = [out_file.read_text().strip()] if out_file.exists() else []
    yield found
    shutil.rmtree(base, ignore_errors=True)


def test_probe_reports_rootless_mapping_when_service_is_rootless(info: RuntimeInfo) -> None:
    assert info.name == "podman" and info.version
    assert info.rootless is True
    assert info.root_uid != 0 and info.root_gid != 0


def test_fast_probe_agrees_with_info_when_socket_is_local(podman_socket: str) -> None:
    """The socket-owner shortcut must describe the service exactly as GET /info does."""
    fast = PodmanRuntime(podman_socket).probe()
    slow = PodmanRuntime(podman_socket, fast_probe=False).probe()

    assert fast == slow


def test_probe_reports_unenforced_limits_when_rootless_on_cgroup_v1(info: RuntimeInfo) -> None:
    cgroup_v1 = not Path("/sys/fs/cgroup/cgroup.controllers").exists()

    assert info.enforces_limits is (not cgroup_v1)
    assert any("limits" in problem for problem in info.problems) is cgroup_v1


def test_contract_holds_when_run_against_rootless_podman(
    runtime: PodmanRuntime, test_image: str, shared_tmp: Path
) -> None:
    check_runtime_contract(runtime, test_image, shared_tmp)


def test_container_has_no_capabilities_when_secure(facts: dict[str, list[str]]) -> None:
    assert facts["exit"] == ["0"], facts["stderr"]
    secure.assert_no_capabilities(facts)


def test_container_cannot_gain_privileges_when_secure(facts: dict[str, list[str]]) -> None:
    secure.assert_no_new_privileges(facts)


def test_container_keeps_default_seccomp_when_secure(facts: dict[str, list[str]]) -> None:
    secure.assert_default_seccomp(facts)


def test_container_root_maps_to_service_user_when_rootless(
    facts: dict[str, list[str]], info: RuntimeInfo
) -> None:
    assert facts["uid_map"] == [f"0 {info.root_uid} 1"]


def test_rootfs_is_read_only_when_secure(facts: dict[str, list[str]]) -> None:
    secure.assert_rootfs_read_only(facts)


def test_tmp_is_the_only_writable_tmpfs_when_secure(facts: dict[str, list[str]]) -> None:
    secure.assert_tmp_is_the_only_writable_tmpfs(facts)


def test_only_loopback_exists_when_network_is_none(facts: dict[str, list[str]]) -> None:
    secure.assert_only_loopback(facts)


def test_init_is_pid_one_when_secure(facts: dict[str, list[str]]) -> None:
    secure.assert_init_is_pid_one(facts, "/flwd/job/main.sh")
    assert facts["pid1"][0].startswith("/run/podman-init -- /bin/sh /flwd/job/main.sh")
    assert facts["init"] == ["catatonit"]


def test_nofile_ulimit_applies_when_set(facts: dict[str, list[str]]) -> None:
    assert facts["nofile"] == ["1024"]


def test_mounts_are_exactly_the_run_mounts_when_secure(facts: dict[str, list[str]]) -> None:
    secure.assert_mounts_are_exactly(facts, "/run/secrets ro")
    secure.assert_run_dir_writable_job_dir_read_only(facts)
    assert facts["run_file"] == ["hello"]
    assert facts["secret"] == ["s3cr3t"]
    secure.assert_no_runtime_socket(facts)


def test_no_host_devices_or_namespaces_when_secure(facts: dict[str, list[str]]) -> None:
    assert set(facts["dev"]) <= DEVICES
    secure.assert_private_namespaces(facts)


def test_environment_is_clean_when_secure(facts: dict[str, list[str]]) -> None:
    secure.assert_env_adds_exactly(facts, {"FLWD_RUN_ID", "ARG_NAME"})


def _spec(image: str, name: str, command: tuple[str, ...]) -> ContainerSpec:
    return ContainerSpec(name=name, image=image, command=command, env={},
                         labels={"flwd.run-id": name, "flwd.job-id": "it"}, mounts=(),
                         workdir="/", tmpfs={"/tmp": "rw,nosuid,nodev,size=1m"})


def test_create_raises_conflict_when_name_is_taken(runtime: PodmanRuntime, test_image: str) -> None:
    name = f"flwd-it-{uuid.uuid4().hex[:10]}"
    first = runtime.create(_spec(test_image, name, ("/bin/true",)))
    try:
        with pytest.raises(ContainerNameConflictError) as err:
            runtime.create(_spec(test_image, name, ("/bin/true",)))
    finally:
        runtime.remove(first)

    assert err.value.code == "container.name.conflict"


def test_run_fails_with_the_exec_error_when_command_is_missing(
    runtime: PodmanRuntime, test_image: str
) -> None:
    container = runtime.create(_spec(test_image, f"flwd-it-{uuid.uuid4().hex[:10]}", ("/nope",)))
    try:
        runtime.start(container)  # the init process starts; it is the exec of /nope that fails
        lines = list(runtime.output(container))
        code = runtime.wait(container)
    finally:
        runtime.remove(container)

    assert code != 0
    assert any(line.stream == "stderr" and "No such file" in line.line for line in lines)


def test_create_raises_oci_error_with_podman_message_when_mount_source_is_missing(
    runtime: PodmanRuntime, test_image: str
) -> None:
    spec = _spec(test_image, f"flwd-it-{uuid.uuid4().hex[:10]}", ("/bin/true",))
    missing = Mount(source="/var/tmp/flwd-it-missing-source", target="/x", read_only=True)

    with pytest.raises(OciError) as err:
        runtime.create(replace(spec, mounts=(missing,)))

    assert "/var/tmp/flwd-it-missing-source" in err.value.detail
    assert err.value.code == "E_OCI"


def test_stop_delivers_sigterm_through_init_when_running(
    runtime: PodmanRuntime, test_image: str
) -> None:
    script = "trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.1; done"
    container = runtime.create(_spec(test_image, f"flwd-it-{uuid.uuid4().hex[:10]}",
                                     ("/bin/sh", "-c", script)))
    try:
        runtime.start(container)
        lines = runtime.output(container)
        assert next(lines).line == "ready"
        runtime.stop(container, grace_seconds=5)
        rest = [line.line for line in lines]
        code = runtime.wait(container)
    finally:
        runtime.remove(container)

    assert rest == ["got-term"] and code == 7


def test_ensure_image_raises_oci_error_when_pull_fails(runtime: PodmanRuntime) -> None:
    steps: list[str] = []

    with pytest.raises(OciError) as err:
        runtime.ensure_image("localhost:1/none:latest", "if-not-present",
                             lambda p: steps.append(p.status))

    assert "localhost:1" in err.value.detail and steps[0] == "pulling"


def test_ensure_image_raises_oci_error_when_missing_and_never(runtime: PodmanRuntime) -> None:
    with pytest.raises(OciError, match="never"):
        runtime.ensure_image("localhost/flwd-absent:1", "never", lambda p: None)


def test_probe_raises_unavailable_naming_socket_when_nothing_listens(tmp_path: Path) -> None:
    url = f"unix://{tmp_path}/none.sock"

    with pytest.raises(RuntimeUnavailableError) as err:
        PodmanRuntime(url).probe()

    assert url in err.value.detail
