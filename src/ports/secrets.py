"""The secret writer port: turns a secret plan into files, and removes them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence


@dataclass(frozen=True, slots=True, kw_only=True)
class SecretFile:
    """One file to write under the per-run secrets directory. The value never reprs."""

    name: str
    value: bytes = field(repr=False)
    mode: int = 0o400


class SecretWriter(Protocol):
    """Materialises secrets into a private per-run directory (0700, tmpfs where possible)."""

    def materialise(
        self, run_id: str, files: Sequence[SecretFile], owner: tuple[int, int] | None = None
    ) -> str:
        """Write *files*; return the host directory to mount at /run/secrets.

        *owner* is the host (uid, gid) the files must belong to so that container root can
        read them under the runtime's uid mapping. Raises ``SecretMaterialisationError``.
        """
        ...

    def remove(self, run_id: str) -> None:
        """Delete the run's secrets directory; no error if it is already gone."""
        ...

    def leftovers(self) -> Sequence[str]:
        """Run ids whose secrets directory still exists, e.g. after a crash, for clean-up."""
        ...

    def recover(self, run_id: str) -> tuple[str, ...]:
        """The secret values of a run still on disk, so a reattached run can keep
        redacting its output; empty when there are none."""
        ...
