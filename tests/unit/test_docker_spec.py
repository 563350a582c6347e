"""The docker-py create keywords the Docker adapter sends for a ContainerSpec."""

from __future__ import annotations

import dataclasses

from flwd.adapters.docker_spec import MASKED_VOLUME, create_kwargs
from tests.unit.test_podman_specgen import SPEC


def test_image_volumes_get_a_read_only_tmpfs_when_rootfs_is_read_only() -> None:
    tmpfs = create_kwargs(SPEC, ["/data", "/tmp", "/flwd/run"])["tmpfs"]

    assert tmpfs == {"/tmp": "rw,nosuid,nodev,size=64m,exec", "/data": MASKED_VOLUME}


def test_image_volumes_are_left_to_docker_when_rootfs_is_writable() -> None:
    writable = dataclasses.replace(SPEC, read_only_rootfs=False)

    assert set(create_kwargs(writable, ["/data"])["tmpfs"]) == {"/tmp"}
