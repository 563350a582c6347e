"""A signature verifier made on its first check (SPEC section 10).

The cosign verifier imports requests, python-dxf and cryptography (~40 ms of CPU at start-up).
It is wired into every run's use case, yet only runs of add-on jobs, and adding or refreshing a
source, check a signature: behind this, a run of a local job never imports it.
"""

from __future__ import annotations

import threading
from typing import Callable

from flwd.ports.signatures import SignatureKey, SignatureVerdict, SignatureVerifier


class DeferredVerifier:
    """Calls *make* once, on the first ``verify``, and hands every check to what it made."""

    def __init__(self, make: Callable[[], SignatureVerifier]) -> None:
        self._make = make
        self._made: SignatureVerifier | None = None
        self._lock = threading.Lock()

    def verify(self, repository: str, digest: str, keys: tuple[SignatureKey, ...]
               ) -> SignatureVerdict:
        with self._lock:
            if self._made is None:
                self._made = self._make()
            verifier = self._made
        return verifier.verify(repository, digest, keys)
