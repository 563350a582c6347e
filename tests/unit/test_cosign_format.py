"""cosign's signature format: the payload and signature checks, without a registry."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from flwd.adapters.cosign_format import (
    check_signature,
    public_key,
    signature_layers,
    signature_tag,
)
from flwd.adapters.cosign_verifier import registry_on_loopback
from tests.cosign_support import (
    SignedPayload,
    cosign_payload,
    new_key_pair,
    sign,
    signature_manifest,
)

REPO = "127.0.0.1:5000/tools/pg"
DIGEST = "sha256:" + "ab" * 32
OTHER_DIGEST = "sha256:" + "cd" * 32

TRUSTED = new_key_pair()
STRANGER = new_key_pair()


def test_signature_tag_is_cosigns_sig_tag_when_given_a_digest() -> None:
    assert signature_tag(DIGEST) == "sha256-" + "ab" * 32 + ".sig"


def test_check_signature_names_the_key_when_payload_is_signed_by_it() -> None:
    payload = cosign_payload(REPO, DIGEST)

    key, reason = check_signature(payload, sign(TRUSTED, payload), DIGEST,
                                  [STRANGER.trusted("b.pub"), TRUSTED.trusted("a.pub")])

    assert key is not None and key.path == "a.pub"
    assert reason == ""


def test_check_signature_refuses_when_payload_was_tampered_with() -> None:
    payload = cosign_payload(REPO, DIGEST)
    signature = sign(TRUSTED, payload)
    tampered = payload.replace(b"tools/pg", b"tools/px")

    key, reason = check_signature(tampered, signature, DIGEST, [TRUSTED.trusted("a.pub")])

    assert key is None
    assert reason == "not signed by any of the keys a.pub"


def test_check_signature_refuses_when_signed_payload_names_another_digest() -> None:
    payload = cosign_payload(REPO, OTHER_DIGEST)

    key, reason = check_signature(payload, sign(TRUSTED, payload), DIGEST,
                                  [TRUSTED.trusted("a.pub")])

    assert key is None
    assert OTHER_DIGEST in reason and "another image digest" in reason


def test_check_signature_refuses_when_signed_by_another_key() -> None:
    payload = cosign_payload(REPO, DIGEST)

    key, reason = check_signature(payload, sign(STRANGER, payload), DIGEST,
                                  [TRUSTED.trusted("a.pub")])

    assert key is None
    assert "not signed by any of the keys a.pub" == reason


def test_check_signature_refuses_when_payload_is_not_a_cosign_signature() -> None:
    payload = cosign_payload(REPO, DIGEST, kind="atomic container signature")

    key, reason = check_signature(payload, sign(TRUSTED, payload), DIGEST,
                                  [TRUSTED.trusted("a.pub")])

    assert key is None
    assert "atomic container signature" in reason


def test_check_signature_refuses_when_payload_is_not_json() -> None:
    payload = b"not json at all"

    key, reason = check_signature(payload, sign(TRUSTED, payload), DIGEST,
                                  [TRUSTED.trusted("a.pub")])

    assert key is None
    assert reason == "the signed payload is not a cosign simple-signing document"


def test_check_signature_refuses_when_annotation_is_not_base64() -> None:
    payload = cosign_payload(REPO, DIGEST)

    key, reason = check_signature(payload, "%%%", DIGEST, [TRUSTED.trusted("a.pub")])

    assert key is None
    assert reason == "the signature annotation is not base64"


def test_check_signature_refuses_when_policy_lists_no_keys() -> None:
    payload = cosign_payload(REPO, DIGEST)

    key, reason = check_signature(payload, sign(TRUSTED, payload), DIGEST, [])

    assert key is None
    assert reason == "the policy lists no signature_keys"


def test_check_signature_refuses_when_signature_is_der_of_garbage() -> None:
    payload = cosign_payload(REPO, DIGEST)
    garbage = base64.b64encode(b"\x30\x06\x02\x01\x01\x02\x01\x01").decode()

    key, _ = check_signature(payload, garbage, DIGEST, [TRUSTED.trusted("a.pub")])

    assert key is None


def test_signature_layers_lists_every_signature_when_signed_several_times() -> None:
    good = cosign_payload(REPO, DIGEST)
    bad = cosign_payload(REPO, OTHER_DIGEST)
    _, manifest = signature_manifest([SignedPayload(bad, sign(STRANGER, bad)),
                                      SignedPayload(good, sign(TRUSTED, good))])

    layers = signature_layers(manifest)
    verdicts = [check_signature(p, layer.signature, DIGEST, [TRUSTED.trusted("a.pub")])[0]
                for p, layer in zip((bad, good), layers)]

    assert len(layers) == 2
    assert verdicts[0] is None and verdicts[1] is not None


def test_signature_layers_skips_layers_when_they_are_not_cosign_signatures() -> None:
    manifest = {"layers": [
        {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": DIGEST,
         "annotations": {"dev.cosignproject.cosign/signature": "x"}},
        {"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "digest": DIGEST},
        "junk",
    ]}

    assert signature_layers(manifest) == ()
    assert signature_layers({"layers": "junk"}) == ()


def test_public_key_accepts_a_cosign_key_when_pem_is_ecdsa_p256() -> None:
    assert isinstance(public_key(TRUSTED.public_pem), ec.EllipticCurvePublicKey)


@pytest.mark.parametrize("pem, why", [
    (b"-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n", "not a PEM public key"),
    (ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
     "not an ECDSA P-256 public key"),
    (rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
     "not an ECDSA P-256 public key"),
])
def test_public_key_refuses_when_pem_is_not_a_p256_public_key(pem: bytes, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        public_key(pem)


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1:5000", True), ("localhost:5000", True), ("localhost", True),
    ("[::1]:5000", True), ("127.1.2.3", True),
    ("registry.example:5000", False), ("10.0.0.1:5000", False), ("docker.io", False),
])
def test_registry_is_spoken_to_over_plain_http_only_when_on_loopback(host: str,
                                                                     loopback: bool) -> None:
    assert registry_on_loopback(host) is loopback
