"""The SignatureVerifier contract, run against FakeSignatureVerifier (unit) and
CosignSignatureVerifier over the local registry (integration)."""

from __future__ import annotations

from typing import Callable

import pytest

from flwd.domain.errors import OciError
from flwd.ports.signatures import SignatureKey, SignatureStatus, SignatureVerifier

TRUSTED, STRANGER = "trusted", "stranger"

Publish = Callable[[tuple[str, ...]], tuple[str, str]]
"""``publish(signers)``: a fresh image signed by each of *signers* (``TRUSTED``, ``STRANGER``),
as ``(repository, digest)``."""


def check_signature_verifier_contract(verifier: SignatureVerifier, publish: Publish,
                                      trusted: SignatureKey, broken: SignatureVerifier,
                                      unreachable: str) -> None:
    """Every rule of the port. *trusted* is the key ``TRUSTED`` signs with; *broken* cannot
    reach the registry of *unreachable* (a repository ``HOST/PATH``)."""
    keys = (trusted,)
    repository, digest = publish(())
    assert verifier.verify(repository, digest, keys).status is SignatureStatus.MISSING

    repository, digest = publish((TRUSTED,))
    valid = verifier.verify(repository, digest, keys)
    assert (valid.status, valid.key) == (SignatureStatus.VALID, trusted.path)
    assert verifier.verify(repository, digest, keys) == valid  # asked again (maybe cached)
    assert verifier.verify(repository, digest, ()).status is SignatureStatus.INVALID

    repository, digest = publish((STRANGER,))
    invalid = verifier.verify(repository, digest, keys)
    assert invalid.status is SignatureStatus.INVALID and invalid.key is None and invalid.reason

    repository, digest = publish((STRANGER, TRUSTED))
    assert verifier.verify(repository, digest, keys).status is SignatureStatus.VALID

    with pytest.raises(OciError):
        broken.verify(unreachable, "sha256:" + "9" * 64, keys)
