"""Sign images in the local registry as ``cosign sign --key`` does, with the same libraries.

``sign_image`` pushes the ``sha256-<hex>.sig`` artifact beside an image: the simple-signing
payloads and cosign's config as blobs, then the OCI manifest (one layer per signature, the
base64 ECDSA signature in its ``dev.cosignproject.cosign/signature`` annotation) under the
tag. python-dxf pushes, ``cryptography`` signs (``tests/cosign_support.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from dxf import DXF

from flwd.adapters.cosign_format import signature_tag
from tests.cosign_support import (
    KeyPair,
    SignedPayload,
    blob_digest,
    cosign_payload,
    new_key_pair,
    sign,
    signature_manifest,
)
from tests.integration.oci_registry import LocalRegistry


def _client(registry: LocalRegistry, repository: str) -> DXF:
    return DXF(registry.host, repository, insecure=True, timeout=30)


def manifest_digest(registry: LocalRegistry, repository: str, tag: str) -> str:
    """The digest the registry gives *repository:tag* (what a pull pins)."""
    digest, _ = _client(registry, repository).head_manifest_and_response(tag)
    assert digest, f"{registry.host}/{repository}:{tag} has no Docker-Content-Digest"
    return str(digest)


def push_signatures(registry: LocalRegistry, repository: str, digest: str,
                    signatures: list[SignedPayload]) -> None:
    """Push *signatures* of *digest* as its ``.sig`` artifact (replacing any there)."""
    config, manifest = signature_manifest(signatures)
    client = _client(registry, repository)
    for blob in (config, *(s.payload for s in signatures)):
        client.push_blob(data=iter([blob]), digest=blob_digest(blob))
    client.set_manifest(signature_tag(digest), json.dumps(manifest, separators=(",", ":")))


def signed_payload(key: KeyPair, registry: LocalRegistry, repository: str, digest: str,
                   *, signed_digest: str | None = None) -> SignedPayload:
    """cosign's payload for *repository* at *signed_digest* (default *digest*), signed by *key*."""
    payload = cosign_payload(f"{registry.host}/{repository}", signed_digest or digest)
    return SignedPayload(payload=payload, signature=sign(key, payload))


def sign_image(registry: LocalRegistry, repository: str, digest: str, *keys: KeyPair) -> None:
    """``cosign sign --key K`` for each of *keys*: one signature layer each."""
    push_signatures(registry, repository, digest,
                    [signed_payload(key, registry, repository, digest) for key in keys])


@dataclass(frozen=True)
class SigningKeys:
    """The test's trusted key pair (its public half written to ``trusted_pub``) and another
    pair no policy trusts."""

    trusted: KeyPair
    trusted_pub: Path
    stranger: KeyPair


@pytest.fixture(scope="session")
def cosign_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SigningKeys]:
    base = tmp_path_factory.mktemp("cosign-keys")
    trusted = new_key_pair()
    yield SigningKeys(trusted=trusted, trusted_pub=trusted.write_public(base / "cosign.pub"),
                   stranger=new_key_pair())
