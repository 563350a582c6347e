"""cosign key-pair signatures made the way ``cosign sign --key`` makes them, for the tests.

Keys are ECDSA P-256 (``cosign generate-key-pair``); the payload is cosign's simple-signing
JSON byte for byte as Go's ``json.Marshal`` writes it; the signature is ECDSA/SHA-256 in
ASN.1 DER, base64 in the layer annotation. ``signature_manifest`` builds the ``.sig``
manifest and its config as cosign pushes them (an OCI image manifest with one
``application/vnd.dev.cosign.simplesigning.v1+json`` layer per signature).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from flwd.adapters.cosign_format import (
    PAYLOAD_TYPE,
    SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING_MEDIA_TYPE,
)
from flwd.ports.signatures import SignatureKey

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"


@dataclass(frozen=True)
class KeyPair:
    private: ec.EllipticCurvePrivateKey
    public_pem: bytes

    def trusted(self, path: str) -> SignatureKey:
        return SignatureKey(path=path, pem=self.public_pem)

    def write_public(self, path: Path) -> Path:
        path.write_bytes(self.public_pem)
        return path


def new_key_pair() -> KeyPair:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    return KeyPair(private=private, public_pem=pem)


def cosign_payload(repository: str, digest: str, *, kind: str = PAYLOAD_TYPE) -> bytes:
    """The simple-signing payload cosign signs for *repository* at *digest*."""
    document = {"critical": {"identity": {"docker-reference": repository},
                             "image": {"docker-manifest-digest": digest}, "type": kind},
                "optional": None}
    return json.dumps(document, separators=(",", ":")).encode()


def sign(key: KeyPair, payload: bytes) -> str:
    """The layer annotation: base64 of the ECDSA P-256/SHA-256 DER signature over *payload*."""
    return base64.b64encode(key.private.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()


def blob_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class SignedPayload:
    payload: bytes
    signature: str


def signature_manifest(signatures: list[SignedPayload]) -> tuple[bytes, dict[str, object]]:
    """The config blob and the ``.sig`` manifest holding *signatures*, one layer each."""
    layers = [{"mediaType": SIMPLE_SIGNING_MEDIA_TYPE, "size": len(s.payload),
               "digest": blob_digest(s.payload), "annotations": {SIGNATURE_ANNOTATION: s.signature}}
              for s in signatures]
    config = json.dumps({
        "architecture": "", "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}], "os": "",
        "rootfs": {"type": "layers", "diff_ids": [layer["digest"] for layer in layers]},
        "config": {}}, separators=(",", ":")).encode()
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "size": len(config),
                           "digest": blob_digest(config)},
                "layers": layers}
    return config, manifest
