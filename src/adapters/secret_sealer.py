"""Secrets sealed with AES-256-GCM (``cryptography``) under a key derived by HKDF-SHA256 from
the configured secret key; the run id is the associated data, so a sealed message opens only
as the secrets of the run it was made for.

Layout: version byte ``0x01`` | 12-byte random nonce | ciphertext and 16-byte tag. The
plaintext is a JSON object of secret name -> base64 value. Imported only when a sealer is first
provided: ``cryptography`` costs start-up that ``:plan`` and ``:jobs`` must not pay.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from flwd.domain.errors import SecretKeyMissingError, SecretSealInvalidError
from flwd.ports.sealing import SecretKey

VERSION = b"\x01"
_NONCE_BYTES = 12
_INFO = b"flwd secret sealing v1: AES-256-GCM"
MISSING_DETAIL = ("this process has no secret key (set FLWD_SECRET_KEY or secret_key_file, the "
                  "same on every replica and worker): it refuses runs with secrets")
INVALID_DETAIL = ("the sealed secrets cannot be opened: they were sealed with another secret "
                  "key, for another run, or altered on the way")


def derive_key(key: SecretKey) -> bytes:
    """The 256-bit AES key for *key*'s text (HKDF-SHA256, no salt, a fixed purpose string)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO)
    return hkdf.derive(key.text.encode())


class AesGcmSecretSealer:
    """``SecretSealer`` on AES-256-GCM; without a key every call is ``secret.key.missing``."""

    def __init__(self, key: SecretKey | None) -> None:
        self._aead = AESGCM(derive_key(key)) if key is not None else None

    def __repr__(self) -> str:
        return f"AesGcmSecretSealer(key={'set' if self._aead else 'missing'})"

    def seal(self, run_id: str, secrets: Mapping[str, bytes]) -> bytes:
        aead = self._cipher()
        plain = json.dumps({name: base64.b64encode(value).decode()
                            for name, value in secrets.items()}, sort_keys=True).encode()
        nonce = os.urandom(_NONCE_BYTES)
        return VERSION + nonce + aead.encrypt(nonce, plain, run_id.encode())

    def open(self, run_id: str, sealed: bytes) -> dict[str, bytes]:
        aead = self._cipher()
        if len(sealed) < 1 + _NONCE_BYTES + 16 or sealed[:1] != VERSION:
            raise SecretSealInvalidError(INVALID_DETAIL, run_id=run_id)
        nonce, body = sealed[1:1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES:]
        try:
            plain = aead.decrypt(nonce, body, run_id.encode())
        except InvalidTag:
            raise SecretSealInvalidError(INVALID_DETAIL, run_id=run_id) from None
        return _decode(plain, run_id)

    def _cipher(self) -> AESGCM:
        if self._aead is None:
            raise SecretKeyMissingError(MISSING_DETAIL)
        return self._aead


def _decode(plain: bytes, run_id: str) -> dict[str, bytes]:
    """The authenticated plaintext back into secrets; only a bug can make it malformed."""
    try:
        data = json.loads(plain)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        return {str(name): base64.b64decode(value, validate=True) for name, value in data.items()}
    except (ValueError, TypeError, binascii.Error):
        raise SecretSealInvalidError(INVALID_DETAIL, run_id=run_id) from None
