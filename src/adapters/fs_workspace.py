"""Per-run working directories under the data directory (mounted at /flwd/run)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from flwd.domain.errors import RunWorkspaceError

_SAFE_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")


class FilesystemRunWorkspace:
    """``<base>/<run_id>``, created 0755 so the job's user can enter it; kept after the run so
    its artifacts stay available. ``<base>`` itself is closed to other host users: a job may
    leave a setuid file there (container root owns what it writes and needs no capability to
    chmod it; on rootful Docker that is host root, and Docker cannot mount it nosuid)."""

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
            _close_base(self._base, owner if foreign else None)
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


def _close_base(base: Path, foreign: tuple[int, int] | None) -> None:
    """Let only the runtime's user pass *base* (the runs dir), when flwd owns it.

    A runtime that mounts as root (rootful Docker's daemon) or as us needs nothing: 0700. One
    running as another uid (rootless Podman of a service user) gets search through its group,
    0710, and search on the data dir above; without the right to give *base* that group,
    search for everyone, as before (then that uid cannot write the run dir we own either).
    """
    if base.stat().st_uid != os.getuid():
        return  # the operator's directory: its mode is theirs
    if foreign is None or foreign[0] == 0:
        os.chmod(base, 0o700)
        return
    _allow_traverse(base.parent)
    try:
        os.chown(base, -1, foreign[1])
        os.chmod(base, 0o710)
    except PermissionError:
        _allow_traverse(base)


def _allow_traverse(directory: Path) -> None:
    """Grant search, not read, to everyone on *directory*."""
    mode = directory.stat().st_mode & 0o777
    if mode & 0o001 == 0:
        os.chmod(directory, mode | 0o111)
