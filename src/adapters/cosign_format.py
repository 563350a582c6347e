"""cosign's key-pair signature format, checked with ``cryptography`` (no registry access here).

``cosign sign --key`` pushes, beside the image, a manifest tagged ``sha256-<hex>.sig`` whose
layers each hold one signature: the layer blob is a simple-signing JSON payload naming the
signed manifest digest (``critical.image.docker-manifest-digest``), and the layer's annotation
``dev.cosignproject.cosign/signature`` is the base64 ECDSA P-256/SHA-256 (ASN.1 DER) signature
over that blob, byte for byte. Signing again appends a layer.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from flwd.ports.signatures import SignatureKey

SIMPLE_SIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
PAYLOAD_TYPE = "cosign container image signature"
#: What a signature manifest may be: cosign pushes OCI manifests, older releases Docker's.
MANIFEST_MEDIA_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)


def signature_tag(digest: str) -> str:
    """The tag cosign stores *digest*'s signatures under: ``sha256:ab..`` -> ``sha256-ab...sig``."""
    algorithm, _, hexdigest = digest.partition(":")
    return f"{algorithm}-{hexdigest}.sig"


@dataclass(frozen=True, slots=True, kw_only=True)
class SignatureLayer:
    """One signature of a ``.sig`` manifest: its payload blob's digest and the signature text."""

    blob_digest: str
    signature: str


def signature_layers(manifest: Mapping[str, object]) -> tuple[SignatureLayer, ...]:
    """The simple-signing layers of a ``.sig`` manifest that carry a signature annotation;
    anything else in it (other media types, malformed entries) is not a signature."""
    layers = manifest.get("layers")
    found = []
    for layer in layers if isinstance(layers, list) else ():
        if not isinstance(layer, dict) or layer.get("mediaType") != SIMPLE_SIGNING_MEDIA_TYPE:
            continue
        annotations = layer.get("annotations")
        signature = annotations.get(SIGNATURE_ANNOTATION) if isinstance(annotations, dict) else None
        digest = layer.get("digest")
        if isinstance(signature, str) and isinstance(digest, str):
            found.append(SignatureLayer(blob_digest=digest, signature=signature))
    return tuple(found)


@lru_cache(maxsize=64)
def public_key(pem: bytes) -> ec.EllipticCurvePublicKey:
    """The ECDSA P-256 public key in *pem* (what ``cosign generate-key-pair`` writes to
    ``cosign.pub``); ``ValueError`` saying why for anything else."""
    try:
        key = load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise ValueError("not a PEM public key (expected a -----BEGIN PUBLIC KEY----- block)"
                         ) from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("not an ECDSA P-256 public key (cosign generate-key-pair makes those)")
    return key


def _signed_by(payload: bytes, signature: bytes, key: SignatureKey) -> bool:
    try:
        public_key(key.pem).verify(signature, payload, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def _payload_problem(payload: bytes, digest: str) -> str | None:
    """Why a correctly signed *payload* still does not vouch for *digest*, if it does not."""
    try:
        critical = json.loads(payload)["critical"]
        kind, signed = critical["type"], critical["image"]["docker-manifest-digest"]
    except (ValueError, TypeError, KeyError):
        return "the signed payload is not a cosign simple-signing document"
    if kind != PAYLOAD_TYPE:
        return f"the signed payload's type is {kind!r}, not {PAYLOAD_TYPE!r}"
    if signed != digest:
        return f"the signature is for another image digest ({signed})"
    return None


def check_signature(payload: bytes, signature: str, digest: str, keys: Iterable[SignatureKey]
                    ) -> tuple[SignatureKey | None, str]:
    """The key among *keys* that signed *payload* for *digest*, or ``None`` and the reason.

    *signature* is the layer annotation (base64 DER). A signature that verifies under a key
    but whose payload names another digest or is not a cosign payload does not count.
    """
    keys = tuple(keys)
    if not keys:
        return None, "the policy lists no signature_keys"
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return None, "the signature annotation is not base64"
    signer = next((key for key in keys if _signed_by(payload, raw, key)), None)
    if signer is None:
        return None, "not signed by any of the keys " + ", ".join(key.path for key in keys)
    problem = _payload_problem(payload, digest)
    return (None, problem) if problem else (signer, "")
