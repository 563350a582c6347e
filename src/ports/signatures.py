"""The image signature port: is this digest signed by one of the trusted keys? (SPEC section 10)"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class SignatureKey:
    """One trusted public key of the policy's ``signature_keys``.

    ``path`` is the file it was read from (resolved against the policy file's directory), the
    name flwd shows for it; ``pem`` is the key itself (a PEM ``PUBLIC KEY`` block, already
    checked to be a key the verifier can use when the policy was loaded).
    """

    path: str
    pem: bytes


class SignatureStatus(StrEnum):
    VALID = "valid"  # at least one signature checks out against one of the keys
    MISSING = "missing"  # the digest carries no signature at all
    INVALID = "invalid"  # signatures exist, none of them checks out against any key


@dataclass(frozen=True, slots=True, kw_only=True)
class SignatureVerdict:
    """What the registry says about one digest. ``key`` is the path of the key that verified
    (``VALID`` only); ``reason`` says why a verdict is ``MISSING`` or ``INVALID``."""

    status: SignatureStatus
    key: str | None = None
    reason: str = ""


class SignatureVerifier(Protocol):
    """Checks cosign key-pair signatures of images in their registry.

    Implemented by ``CosignSignatureVerifier`` (the ``sha256-<hex>.sig`` artifact that
    ``cosign sign --key`` pushes beside the image) and ``FakeSignatureVerifier``.
    """

    def verify(self, repository: str, digest: str, keys: tuple[SignatureKey, ...]
               ) -> SignatureVerdict:
        """The verdict for manifest *digest* (``sha256:<hex>``) of *repository* (``HOST/PATH``,
        e.g. ``127.0.0.1:5000/tools/pg``) against *keys*.

        Never raises for an unsigned or badly signed image: those are verdicts. Raises
        ``OciError`` (``E_OCI``) when the registry cannot be reached or answers with an error
        other than "no such signature", naming the registry and what failed. Verdicts may be
        cached per repository, digest and keys.
        """
        ...


class SignatureKeyReader(Protocol):
    """Reads the policy's ``signature_keys`` files. Implemented by ``PemSignatureKeyReader``."""

    def read(self, path: str) -> SignatureKey:
        """The key in file *path* (relative paths: from the policy file's directory).

        Raises ``ConfigInvalidError`` (``config.invalid``) naming the path when the file is
        missing, unreadable or not a public key the verifier can use.
        """
        ...
