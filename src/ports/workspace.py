"""The run workspace port: the per-run directory mounted read-write at /flwd/run."""

from __future__ import annotations

from typing import Protocol


class RunWorkspace(Protocol):
    """Creates per-run working directories under the data directory; they outlive the run."""

    def create(self, run_id: str, owner: tuple[int, int] | None = None) -> str:
        """Create the run's directory (owned by *owner*, the host ids of container root)
        and return its host path. Raises ``SecretMaterialisationError``-like FlwdError on failure."""
        ...

    def path(self, run_id: str) -> str:
        """Where the run's directory is (whether or not it exists)."""
        ...

    def check_mount_source(self, path: str, owner: tuple[int, int] | None = None) -> None:
        """Raise ``RunWorkspaceError`` naming the blocking directory when the runtime's user
        (*owner*, as in ``create``) cannot read *path*, a bind-mount source such as the job
        directory; nothing when it can or when the runtime runs as root or as us."""
        ...
