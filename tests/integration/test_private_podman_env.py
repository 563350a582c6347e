"""A private Podman service starts even when CONTAINER_HOST names a socket nobody serves."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from flwd.adapters.podman_runtime import PodmanRuntime
from flwd.adapters.runtime_detect import detect_runtime


@pytest.fixture
def nowhere() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="fd-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.podman
def test_private_service_starts_when_container_host_names_a_dead_socket(nowhere: Path) -> None:
    podman_dir = os.path.dirname(shutil.which("podman") or "/usr/bin/podman")
    env = dict(os.environ) | {"PATH": f"{podman_dir}:/usr/sbin:/usr/bin:/sbin:/bin",
                             "XDG_RUNTIME_DIR": str(nowhere),
                             "CONTAINER_HOST": f"unix://{nowhere}/dead.sock"}

    runtime = detect_runtime("podman", env=env, system_podman_url=f"unix://{nowhere}/sys.sock")
    assert isinstance(runtime, PodmanRuntime)
    try:
        info = runtime.probe()
    finally:
        runtime.close()

    assert info.name == "podman" and info.socket.startswith(f"unix://{nowhere}/flwd-podman-")
