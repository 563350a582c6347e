"""The libpod SpecGenerator the Podman adapter sends: every ContainerSpec field, secure settings."""

from __future__ import annotations

from flwd.adapters.podman_probe import root_ids
from flwd.adapters.podman_specgen import DEFAULT_NPROC, build_specgen
from flwd.ports.runtime import ContainerSpec, Mount

SPEC = ContainerSpec(
    name="flwd-r1", image="alpine:3.20", command=("/bin/sh", "/flwd/job/main.sh"),
    env={"ARG_NAME": "Alice"}, labels={"flwd.run-id": "r1", "flwd.job-id": "demo"},
    mounts=(Mount(source="/data/job", target="/flwd/job", read_only=True),
            Mount(source="/data/run", target="/flwd/run", read_only=False)),
    workdir="/flwd/run", tmpfs={"/tmp": "rw,nosuid,nodev,size=64m"},
    pids_limit=256, memory_bytes=128 * 1024 * 1024, nano_cpus=500_000_000,
    ulimits={"nofile": 1024},
)


def test_specgen_switches_off_podmans_extra_tmpfs_when_rootfs_is_read_only() -> None:
    body = build_specgen(SPEC)

    assert body["read_only_filesystem"] is True and body["read_write_tmpfs"] is False
    assert [m for m in body["mounts"] if m["type"] == "tmpfs"] == [
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
         "options": ["rw", "nosuid", "nodev", "size=64m"]}]


def test_specgen_ignores_the_images_volumes_when_creating() -> None:
    """An image's VOLUME would be a writable anonymous volume, kept after the removal."""
    assert build_specgen(SPEC)["image_volume_mode"] == "ignore"


def test_specgen_keeps_the_secure_settings_when_given_the_defaults() -> None:
    body = build_specgen(SPEC)

    assert body["cap_drop"] == ["ALL"] and body["cap_add"] == []
    assert body["no_new_privileges"] is True and body["init"] is True
    assert body["netns"] == {"nsmode": "none"}
    assert body["privileged"] is False and body["devices"] == []
    assert {body[ns]["nsmode"] for ns in ("pidns", "ipcns", "utsns")} == {"private"}
    assert "seccomp_profile_path" not in body and "seccomp_policy" not in body


def test_specgen_always_sets_nofile_and_nproc_when_only_nofile_is_asked() -> None:
    assert build_specgen(SPEC)["r_limits"] == [
        {"type": "nproc", "soft": DEFAULT_NPROC, "hard": DEFAULT_NPROC},
        {"type": "nofile", "soft": 1024, "hard": 1024}]


def test_specgen_maps_limits_when_given() -> None:
    """Swap is memory plus swap, as Docker's memswap_limit: equal to the limit, no swap beyond
    it (Podman's own default doubles the memory a job may use)."""
    assert build_specgen(SPEC)["resource_limits"] == {
        "pids": {"limit": 256},
        "memory": {"limit": 128 * 1024 * 1024, "swap": 128 * 1024 * 1024},
        "cpu": {"quota": 50_000, "period": 100_000}}


def test_specgen_binds_without_relabelling_when_mounting_dirs() -> None:
    binds = [m for m in build_specgen(SPEC)["mounts"] if m["type"] == "bind"]

    assert [(m["source"], m["destination"], m["options"]) for m in binds] == [
        ("/data/job", "/flwd/job", ["rbind", "ro", "nosuid", "nodev"]),
        ("/data/run", "/flwd/run", ["rbind", "rw", "nosuid", "nodev"])]


def test_specgen_replaces_entrypoint_when_a_command_is_given() -> None:
    body = build_specgen(SPEC)

    assert body["entrypoint"] == ["/bin/sh"] and body["command"] == ["/flwd/job/main.sh"]


def test_specgen_keeps_image_entrypoint_when_no_command_is_given() -> None:
    body = build_specgen(ContainerSpec(name="n", image="i", command=None, env={}, labels={},
                                       mounts=(), workdir="/", user="1000:1000"))

    assert "entrypoint" not in body and "command" not in body
    assert body["user"] == "1000:1000"


def test_root_ids_reads_container_root_when_rootless() -> None:
    host = {"idMappings": {
        "uidmap": [{"container_id": 1, "host_id": 100000, "size": 65536},
                   {"container_id": 0, "host_id": 1001, "size": 1}],
        "gidmap": [{"container_id": 0, "host_id": 1002, "size": 1}]}}

    assert root_ids(host) == (1001, 1002)


def test_root_ids_is_host_root_when_unmapped() -> None:
    assert root_ids({"idMappings": {"uidmap": None, "gidmap": None}}) == (0, 0)
