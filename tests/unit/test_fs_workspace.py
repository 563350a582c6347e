"""Run directories: created for the runtime's user, refused with a clear reason when that
user could not reach them."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from flwd.adapters.fs_workspace import FilesystemRunWorkspace
from flwd.domain.errors import RunWorkspaceError

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="hands directories to another uid")
OTHER = (4321, 4321)


@pytest.fixture
def top() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="flwd-ws-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_run_dir_is_created_for_the_runtime_user_when_reachable(top: Path) -> None:
    workspace = FilesystemRunWorkspace(top / "data" / "runs")

    created = Path(workspace.create("r1", OTHER if os.geteuid() == 0 else None))

    assert created == top / "data" / "runs" / "r1" and created.is_dir()
    if os.geteuid() == 0:
        assert (created.stat().st_uid, created.stat().st_gid) == OTHER


@needs_root
def test_unreachable_run_dir_is_refused_naming_the_blocking_directory(top: Path) -> None:
    private = top / "private"
    private.mkdir(mode=0o700)
    workspace = FilesystemRunWorkspace(private / "nested" / "runs")
    private.chmod(0o700)  # the workspace only opens the two levels it owns

    with pytest.raises(RunWorkspaceError) as err:
        workspace.create("r1", OTHER)

    assert f"{private} is mode 0o700" in err.value.detail and "uid 4321" in err.value.detail
    assert not (private / "nested" / "runs" / "r1").exists()


@needs_root
def test_job_dir_the_runtime_user_cannot_read_is_refused(top: Path) -> None:
    job = top / "job"
    job.mkdir(mode=0o700)
    workspace = FilesystemRunWorkspace(top / "runs")

    with pytest.raises(RunWorkspaceError) as err:
        workspace.check_mount_source(str(job), OTHER)
    job.chmod(0o755)
    workspace.check_mount_source(str(job), OTHER)

    assert str(job) in err.value.detail


def test_mount_sources_are_not_checked_when_runtime_runs_as_root_or_as_us(top: Path) -> None:
    job = top / "job"
    job.mkdir(mode=0o700)
    workspace = FilesystemRunWorkspace(top / "runs")

    workspace.check_mount_source(str(job), (0, 0))
    workspace.check_mount_source(str(job), (os.getuid(), os.getgid()))


@needs_root
def test_runs_dir_opens_only_to_the_runtime_group_when_runtime_user_is_foreign(top: Path) -> None:
    """A job can leave a setuid file in its run directory (container root owns it, and
    needs no capability to chmod it): no other host user may reach one."""
    workspace = FilesystemRunWorkspace(top / "data" / "runs")

    workspace.create("r1", OTHER)
    runs = (top / "data" / "runs").stat()

    assert (runs.st_mode & 0o777, runs.st_gid) == (0o710, OTHER[1])


@pytest.mark.parametrize("owner", [None, (0, 0)], ids=["runtime-as-us", "rootful"])
def test_runs_dir_is_private_when_the_runtime_mounts_as_root_or_as_us(
        top: Path, owner: tuple[int, int] | None) -> None:
    runs = top / "data" / "runs"
    runs.mkdir(parents=True, mode=0o755)
    runs.chmod(0o755)  # made by an older flwd
    workspace = FilesystemRunWorkspace(runs)

    workspace.create("r1", owner)

    assert runs.stat().st_mode & 0o777 == 0o700
