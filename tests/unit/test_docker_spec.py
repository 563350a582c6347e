"""The docker-py create keywords the Docker adapter sends: what an image's VOLUME becomes."""

from __future__ import annotations

from dataclasses import replace

from flwd.adapters.docker_spec import image_volume_mounts
from flwd.ports.runtime import ContainerSpec, Mount

SPEC = ContainerSpec(
    name="flwd-r1", image="registry.example/pg@sha256:" + "1" * 64, command=("/run",), env={},
    labels={},
    mounts=(Mount(source="/data/run", target="/flwd/run", read_only=False),),
    workdir="/flwd/run", tmpfs={"/tmp": "rw,nosuid,nodev"}, read_only_rootfs=True,
)


def test_image_volumes_become_empty_read_only_tmpfs_when_the_rootfs_is_read_only() -> None:
    mounts = image_volume_mounts(SPEC, {"/var/lib/pg": {}, "/data": {}})

    assert [(m["Target"], m["Type"], m["ReadOnly"]) for m in mounts] == [
        ("/data", "tmpfs", True), ("/var/lib/pg", "tmpfs", True)]


def test_image_volumes_are_left_to_the_specs_own_mounts_when_paths_are_taken() -> None:
    assert image_volume_mounts(SPEC, ["/tmp", "/flwd/run"]) == []


def test_image_volumes_stay_dockers_when_the_rootfs_is_writable() -> None:
    assert image_volume_mounts(replace(SPEC, read_only_rootfs=False), ["/data"]) == []
