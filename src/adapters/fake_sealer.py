"""An in-memory ``SecretSealer``: a sealed message is a random token; what it stands for is
kept in a vault shared by every fake built with the same key (as replicas and workers share
one), so a token opens only under that key, only for its run, and only unaltered."""

from __future__ import annotations

import os
import threading
from typing import ClassVar, Mapping

from flwd.domain.errors import SecretKeyMissingError, SecretSealInvalidError
from flwd.ports.sealing import SecretKey


class FakeSecretSealer:
    """Holds no cryptography; ``sealed_count`` says how many messages it made."""

    _vault: ClassVar[dict[tuple[str, bytes], tuple[str, dict[str, bytes]]]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, key: SecretKey | None) -> None:
        self._key = key.text if key is not None else None
        self.sealed_count = 0

    def __repr__(self) -> str:
        return f"FakeSecretSealer(key={'set' if self._key else 'missing'})"

    def seal(self, run_id: str, secrets: Mapping[str, bytes]) -> bytes:
        key = self._need_key()
        token = os.urandom(24)  # no constant part: it could be what a secret holds
        with self._lock:
            self._vault[(key, token)] = (run_id, dict(secrets))
            self.sealed_count += 1
        return token

    def open(self, run_id: str, sealed: bytes) -> dict[str, bytes]:
        key = self._need_key()
        with self._lock:
            entry = self._vault.get((key, bytes(sealed)))
        if entry is None or entry[0] != run_id:
            raise SecretSealInvalidError("the sealed secrets cannot be opened (fake)", run_id=run_id)
        return dict(entry[1])

    def _need_key(self) -> str:
        if self._key is None:
            raise SecretKeyMissingError("this process has no secret key (fake)")
        return self._key
