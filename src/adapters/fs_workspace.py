"""Per-run working directories under the data directory (mounted at /flwd/run)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from flwd.domain.errors import RunWorkspaceError

_SAFE_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class FilesystemRunWorkspace:
    """``<base>/<run_id>``, created 0755 so a rootless runtime's uid can reach it; kept after
    the run so its artifacts stay available."""

    def __init__(self, base_dir: str | Path) -> None:
        # absolute: the path becomes a bind-mount source, and a runtime resolves a relative one
        # against its own working directory (Podman) or refuses it (Docker)
        self._base = Path(os.path.abspath(os.path.expanduser(str(base_dir))))

    def path(self, run_id: str) -> str:
        return str(self._base / run_id)

    def create(self, run_id: str, owner: tuple[int, int] | None = None) -> str:
        if not _SAFE_RUN_ID.match(run_id):
            raise RunWorkspaceError(f"unsafe run id {run_id!r}")
        target = self._base / run_id
        foreign = owner is not None and owner[0] != os.getuid()
        try:
            self._base.mkdir(parents=True, exist_ok=True)
            if foreign:
                _allow_traverse(self._base)
            target.mkdir(mode=0o755)
            os.chmod(target, 0o755)
            if foreign and os.getuid() == 0:
                assert owner is not None
                os.chown(target, *owner)
        except OSError as exc:
            raise RunWorkspaceError(f"cannot create run directory {target}: {exc}") from exc
        if foreign:
            assert owner is not None
            blocked = _blocking_dir(target, owner, read=False)
            if blocked is not None:
                target.rmdir()
                raise RunWorkspaceError(_unreachable(target, owner, blocked,
                                                     "put the data directory (FLWD_DATA_DIR, "
                                                     "--data-dir) where that user can reach it, "
                                                     "e.g. /var/lib/flwd"))
        return str(target)

    def check_mount_source(self, path: str, owner: tuple[int, int] | None = None) -> None:
        if owner is None or owner[0] in (0, os.getuid()):
            return
        blocked = _blocking_dir(Path(path), owner, read=True)
        if blocked is not None:
            raise RunWorkspaceError(_unreachable(Path(path), owner, blocked,
                                                 "keep jobs roots where that user can read them"))


def _blocking_dir(path: Path, owner: tuple[int, int], *, read: bool) -> Path | None:
    """The first directory on the way to *path* that uid/gid *owner* may not pass (or, with
    *read*, *path* itself when it may not be listed and read); None when all is open."""
    uid, gid = owner
    for directory in [path, *path.parents]:
        try:
            info = directory.stat()
        except OSError:
            return directory
        shift = 6 if info.st_uid == uid else 3 if info.st_gid == gid else 0
        needed = 0o5 if read and directory == path else 0o1
        if (info.st_mode >> shift) & needed != needed:
            return directory
    return None


def _unreachable(target: Path, owner: tuple[int, int], blocked: Path, advice: str) -> str:
    mode = oct(blocked.stat().st_mode & 0o777) if blocked.exists() else "missing"
    return (f"the container runtime runs as uid {owner[0]}, which cannot reach {target}: "
            f"{blocked} is mode {mode}; {advice}")


def _allow_traverse(base: Path) -> None:
    """A runtime running as another uid (rootless Podman of a service user) must reach the
    run directory: grant search, not read, on the runs dir and the data dir above it."""
    for directory in (base, base.parent):
        mode = directory.stat().st_mode & 0o777
        if mode & 0o001 == 0:
            os.chmod(directory, mode | 0o111)
