"""The secret sealer port: secrets encrypted for one run, to travel inside a queue message."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Protocol

MIN_KEY_CHARS = 32


@dataclass(frozen=True, slots=True, kw_only=True)
class SecretKey:
    """The configured secret key (``FLWD_SECRET_KEY`` or ``secret_key_file``) and where it came
    from. Its text never reprs: only ``source`` shows."""

    text: str = field(repr=False)
    source: str

    def __str__(self) -> str:
        return f"<secret key from {self.source}>"


class SecretSealer(Protocol):
    """Encrypts a run's secrets so that only a process with the same key can read them, and
    only as the secrets of that run (the run id is authenticated with them)."""

    def seal(self, run_id: str, secrets: Mapping[str, bytes]) -> bytes:
        """*secrets* (name -> value) encrypted for *run_id*. Raises ``SecretKeyMissingError``
        when this process has no key."""
        ...

    def open(self, run_id: str, sealed: bytes) -> dict[str, bytes]:
        """The secrets *sealed* for *run_id*. Raises ``SecretKeyMissingError`` without a key and
        ``SecretSealInvalidError`` when *sealed* was made with another key, for another run,
        or altered."""
        ...
