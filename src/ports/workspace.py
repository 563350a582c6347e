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
