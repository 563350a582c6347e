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
        return str(target)


def _allow_traverse(base: Path) -> None:
    """A runtime running as another uid (rootless Podman of a service user) must reach the
    run directory: grant search, not read, on the runs dir and the data dir above it."""
    for directory in (base, base.parent):
        mode = directory.stat().st_mode & 0o777
        if mode & 0o001 == 0:
            os.chmod(directory, mode | 0o111)
