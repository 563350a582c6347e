"""An in-memory ``SignatureVerifier``: images are signed by key path, failures configured."""

from __future__ import annotations

import threading

from flwd.domain.errors import OciError
from flwd.ports.signatures import SignatureKey, SignatureStatus, SignatureVerdict


class FakeSignatureVerifier:
    """``sign()`` records that a key (by its path) signed a digest, ``corrupt()`` that a digest
    carries only broken signatures; anything else is unsigned. ``unreachable`` makes every
    check fail with ``E_OCI``; ``checked`` lists the ``(repository, digest)`` pairs asked."""

    def __init__(self, *, unreachable: bool = False) -> None:
        self.unreachable = unreachable
        self.signers: dict[tuple[str, str], set[str]] = {}
        self.corrupted: dict[tuple[str, str], str] = {}
        self.checked: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def sign(self, repository: str, digest: str, key_path: str) -> None:
        self.signers.setdefault((repository, digest), set()).add(key_path)

    def corrupt(self, repository: str, digest: str, reason: str = "tampered payload") -> None:
        self.corrupted[(repository, digest)] = reason

    def verify(self, repository: str, digest: str, keys: tuple[SignatureKey, ...]
               ) -> SignatureVerdict:
        with self._lock:
            self.checked.append((repository, digest))
        if self.unreachable:
            raise OciError(f"cannot read the signatures of {repository}: fake registry "
                           "configured unreachable", image=repository)
        signers = self.signers.get((repository, digest), set())
        trusted = next((key.path for key in keys if key.path in signers), None)
        if trusted is not None:
            return SignatureVerdict(status=SignatureStatus.VALID, key=trusted)
        if signers or (repository, digest) in self.corrupted:
            reason = self.corrupted.get((repository, digest)) or "not signed by any of the keys"
            return SignatureVerdict(status=SignatureStatus.INVALID, reason=reason)
        return SignatureVerdict(status=SignatureStatus.MISSING, reason="no signature")
