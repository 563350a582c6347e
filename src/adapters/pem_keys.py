"""Reads the policy's ``signature_keys`` (PEM public keys) from files, checked at load time."""

from __future__ import annotations

import os
from pathlib import Path

from flwd.domain.errors import ConfigInvalidError
from flwd.ports.signatures import SignatureKey

MAX_KEY_BYTES = 64 * 1024  # a PEM public key is a few hundred bytes


class PemSignatureKeyReader:
    """``SignatureKeyReader`` resolving relative paths against *base_dir* (the directory of the
    policy file); *source* (the policy file) is named in every error."""

    def __init__(self, base_dir: str | os.PathLike[str], source: str = "policy") -> None:
        self._base = Path(base_dir)
        self._source = source

    def read(self, path: str) -> SignatureKey:
        # here, not at the top: a policy without keys never loads cryptography (start-up)
        from flwd.adapters.cosign_format import public_key

        resolved = self._base / os.path.expanduser(path)
        try:
            with resolved.open("rb") as handle:
                pem = handle.read(MAX_KEY_BYTES + 1)
        except OSError as exc:
            raise self._fail(path, resolved, f"cannot be read ({exc.strerror or exc})") from None
        if len(pem) > MAX_KEY_BYTES:
            raise self._fail(path, resolved, f"is larger than {MAX_KEY_BYTES} bytes")
        try:
            public_key(pem)
        except ValueError as exc:
            raise self._fail(path, resolved, str(exc)) from None
        return SignatureKey(path=str(resolved), pem=pem)

    def _fail(self, path: str, resolved: Path, why: str) -> ConfigInvalidError:
        shown = path if str(resolved) == path else f"{path} ({resolved})"
        return ConfigInvalidError(f"{self._source}: signature_keys: {shown} {why}",
                                  file=self._source, field="signature_keys", path=str(resolved))
