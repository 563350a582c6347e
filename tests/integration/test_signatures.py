"""SPEC section 10's signatures against a real OCI registry on loopback: cosign's ``.sig``
artifact read by ``CosignSignatureVerifier`` and judged by ``check_image_signature`` under a
policy file with ``signature_keys``. The check talks to the registry only (never to Podman or
Docker), so it is the same for both runtimes; Docker only builds and pushes the images."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from flwd.adapters.cosign_verifier import MAX_MANIFEST_BYTES, CosignSignatureVerifier
from flwd.domain.errors import ImageSignatureInvalidError, ImageSignatureRequiredError, OciError
from flwd.domain.model import PolicyBundle, Profile, Verdict
from flwd.domain.policy.signatures import check_image_signature
from flwd.entrypoints.container import load_policy
from flwd.ports.signatures import SignatureStatus, SignatureVerdict
from tests.contracts.signatures import STRANGER, TRUSTED, check_signature_verifier_contract
from tests.cosign_support import KeyPair
from tests.integration.cosign_sign import (  # noqa: F401 - fixture
    SigningKeys,
    cosign_keys,
    manifest_digest,
    push_signatures,
    sign_image,
    signed_payload,
)
from tests.integration.oci_registry import LocalRegistry

pytestmark = pytest.mark.docker  # images are built and pushed with docker


def pushed(registry: LocalRegistry, name: str) -> tuple[str, str, str]:
    """A fresh image in the registry: (repository path, HOST/path, manifest digest)."""
    repository = registry.repository(name)
    registry.push(repository, "1", name)
    return repository, f"{registry.host}/{repository}", manifest_digest(registry, repository, "1")


def policy(tmp_path: Path, keys: SigningKeys, mode: str | None = None) -> PolicyBundle:
    """A policy file beside a copy of the trusted public key, loaded as flwd loads it."""
    (tmp_path / "keys").mkdir(exist_ok=True)
    keys.trusted.write_public(tmp_path / "keys" / "cosign.pub")
    text = "signature_keys: [keys/cosign.pub]\n"
    if mode:
        text += f"verify_signatures: {mode}\n"
    (tmp_path / "policy.yaml").write_text(text)
    return load_policy(str(tmp_path / "policy.yaml"))


def test_verifier_says_valid_by_the_key_when_image_is_signed_by_it(
        local_registry: LocalRegistry, cosign_keys: SigningKeys) -> None:
    repository, name, digest = pushed(local_registry, "signed")
    sign_image(local_registry, repository, digest, cosign_keys.trusted)
    trusted = cosign_keys.trusted.trusted(str(cosign_keys.trusted_pub))

    verdict = CosignSignatureVerifier().verify(name, digest, (trusted,))

    assert verdict.status is SignatureStatus.VALID
    assert verdict.key == str(cosign_keys.trusted_pub)


def test_verifier_keeps_the_signature_verifier_contract_when_reading_a_real_registry(
        local_registry: LocalRegistry, cosign_keys: SigningKeys) -> None:
    pairs = {TRUSTED: cosign_keys.trusted, STRANGER: cosign_keys.stranger}

    def publish(signers: tuple[str, ...]) -> tuple[str, str]:
        repository, image, digest = pushed(local_registry, "contract")
        if signers:
            sign_image(local_registry, repository, digest, *(pairs[s] for s in signers))
        return image, digest

    check_signature_verifier_contract(CosignSignatureVerifier(), publish,
                                      cosign_keys.trusted.trusted("k"),
                                      CosignSignatureVerifier(timeout=5), dead_repository())


def dead_repository() -> str:
    """A repository on a loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}/none/x"


def test_verifier_says_missing_when_image_is_unsigned(
        local_registry: LocalRegistry, cosign_keys: SigningKeys) -> None:
    _, name, digest = pushed(local_registry, "unsigned")

    verdict = CosignSignatureVerifier().verify(name, digest, (cosign_keys.trusted.trusted("k"),))

    assert verdict.status is SignatureStatus.MISSING


def signed_then_verified(registry: LocalRegistry, keys: SigningKeys, name: str,
                         *signers: KeyPair) -> SignatureVerdict:
    """A fresh image signed by each of *signers*, verified against the trusted key ``k``."""
    repository, image, digest = pushed(registry, name)
    sign_image(registry, repository, digest, *signers)
    return CosignSignatureVerifier().verify(image, digest, (keys.trusted.trusted("k"),))


def test_verifier_says_invalid_when_image_is_signed_by_another_key(
        local_registry: LocalRegistry, cosign_keys: SigningKeys) -> None:
    verdict = signed_then_verified(local_registry, cosign_keys, "stranger", cosign_keys.stranger)

    assert verdict.status is SignatureStatus.INVALID
    assert "not signed by any of the keys k" in verdict.reason


def test_verifier_says_invalid_when_signature_was_made_for_another_digest(
        local_registry: LocalRegistry, cosign_keys: SigningKeys) -> None:
    repository, name, digest = pushed(local_registry, "moved")
    other = "sha256:" + "0" * 64
    push_signatures(local_registry, repository, digest, [
        signed_payload(cosign_keys.trusted, local_registry, repository, digest,
                       signed_digest=other)])

    verdict = CosignSignatureVerifier().verify(name, digest, (cosign_keys.trusted.trusted("k"),))

    assert verdict.status is SignatureStatus.INVALID
    assert other in verdict.reason


def test_verifier_says_valid_when_one_of_several_signatures_is_by_the_key(
        local_registry: LocalRegistry, cosign_keys: SigningKeys) -> None:
    verdict = signed_then_verified(local_registry, cosign_keys, "several",
                                   cosign_keys.stranger, cosign_keys.trusted)

    assert verdict.status is SignatureStatus.VALID


def test_verifier_asks_registry_once_when_checking_a_signed_digest_again(
        local_registry: LocalRegistry, cosign_keys: SigningKeys) -> None:
    repository, name, digest = pushed(local_registry, "cached")
    sign_image(local_registry, repository, digest, cosign_keys.trusted)
    verifier, keys = CosignSignatureVerifier(), (cosign_keys.trusted.trusted("k"),)
    verifier.verify(name, digest, keys)
    mark = local_registry.mark()

    again = verifier.verify(name, digest, keys)

    assert again.status is SignatureStatus.VALID
    assert local_registry.requests(repository, since=mark) == []


def test_verifier_checks_again_when_an_unsigned_digest_is_signed_after_recheck_time(
        local_registry: LocalRegistry, cosign_keys: SigningKeys) -> None:
    repository, name, digest = pushed(local_registry, "later")
    now = [0.0]
    verifier = CosignSignatureVerifier(recheck_seconds=30, monotonic=lambda: now[0])
    keys = (cosign_keys.trusted.trusted("k"),)
    assert verifier.verify(name, digest, keys).status is SignatureStatus.MISSING
    sign_image(local_registry, repository, digest, cosign_keys.trusted)
    still = verifier.verify(name, digest, keys).status
    now[0] = 31.0

    verdict = verifier.verify(name, digest, keys)

    assert still is SignatureStatus.MISSING  # cached within recheck_seconds
    assert verdict.status is SignatureStatus.VALID


def test_verifier_raises_e_oci_when_registry_is_unreachable(cosign_keys: SigningKeys) -> None:
    with pytest.raises(OciError) as err:
        CosignSignatureVerifier(timeout=5).verify(dead_repository(), "sha256:" + "1" * 64,
                                                  (cosign_keys.trusted.trusted("k"),))

    assert err.value.code == "E_OCI"
    assert "cannot connect" in err.value.detail and "\n" not in err.value.detail


def test_check_allows_when_policy_key_signed_the_image_under_secure(
        local_registry: LocalRegistry, cosign_keys: SigningKeys, tmp_path: Path) -> None:
    repository, name, digest = pushed(local_registry, "ok")
    sign_image(local_registry, repository, digest, cosign_keys.trusted)

    decision = check_image_signature(policy(tmp_path, cosign_keys), CosignSignatureVerifier(),
                                     name, digest, profile=Profile.SECURE)

    assert (decision.decision, decision.code) == (Verdict.ALLOW, "image.signature.valid")
    assert str(tmp_path / "keys" / "cosign.pub") in decision.reason


def test_check_refuses_required_when_unsigned_under_secure(
        local_registry: LocalRegistry, cosign_keys: SigningKeys, tmp_path: Path) -> None:
    _, name, digest = pushed(local_registry, "refused")

    with pytest.raises(ImageSignatureRequiredError):
        check_image_signature(policy(tmp_path, cosign_keys), CosignSignatureVerifier(), name,
                              digest, profile=Profile.SECURE)


def test_check_refuses_invalid_when_signed_by_another_key_under_required(
        local_registry: LocalRegistry, cosign_keys: SigningKeys, tmp_path: Path) -> None:
    repository, name, digest = pushed(local_registry, "other")
    sign_image(local_registry, repository, digest, cosign_keys.stranger)

    with pytest.raises(ImageSignatureInvalidError):
        check_image_signature(policy(tmp_path, cosign_keys, "required"),
                              CosignSignatureVerifier(), name, digest, profile=Profile.DISABLED)


def test_check_warns_when_unsigned_under_permissive(
        local_registry: LocalRegistry, cosign_keys: SigningKeys, tmp_path: Path) -> None:
    _, name, digest = pushed(local_registry, "warned")

    decision = check_image_signature(policy(tmp_path, cosign_keys), CosignSignatureVerifier(),
                                     name, digest, profile=Profile.PERMISSIVE)

    assert (decision.decision, decision.code) == (Verdict.WARN, "image.signature.required")


def test_check_asks_registry_nothing_when_disabled(
        local_registry: LocalRegistry, cosign_keys: SigningKeys, tmp_path: Path) -> None:
    repository, name, digest = pushed(local_registry, "unchecked")
    mark = local_registry.mark()

    decision = check_image_signature(policy(tmp_path, cosign_keys, "disabled"),
                                     CosignSignatureVerifier(), name, digest,
                                     profile=Profile.SECURE)

    assert decision.code == "image.signature.unchecked"
    assert local_registry.requests(repository, since=mark) == []


class _Failing(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.send_error(500, "registry broken")

    def log_message(self, format: str, *args: object) -> None:
        pass


def failure_from_fake_registry(handler: type[BaseHTTPRequestHandler], keys: SigningKeys,
                               deadline: float = 60) -> OciError:
    """What verifying an image of a registry that *handler* plays on loopback raises."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(OciError) as err:
            CosignSignatureVerifier(timeout=10, deadline=deadline).verify(
                f"127.0.0.1:{server.server_port}/x/y", "sha256:" + "2" * 64,
                (keys.trusted.trusted("k"),))
    finally:
        server.shutdown()
        server.server_close()
    return err.value


def test_verifier_raises_e_oci_when_registry_answers_an_error(cosign_keys: SigningKeys) -> None:
    error = failure_from_fake_registry(_Failing, cosign_keys)

    assert error.code == "E_OCI" and "HTTP 500" in error.detail


def test_verifier_raises_e_oci_when_registry_never_answers(cosign_keys: SigningKeys) -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]

        with pytest.raises(OciError) as err:
            CosignSignatureVerifier(timeout=1).verify(
                f"127.0.0.1:{port}/x/y", "sha256:" + "3" * 64, (cosign_keys.trusted.trusted("k"),))

    assert "no answer in time" in err.value.detail


class _Garbled(_Failing):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        self.end_headers()
        self.wfile.write(b"\xff\xfe not utf-8")


def test_verifier_raises_e_oci_when_registry_sends_a_manifest_that_is_not_text(
        cosign_keys: SigningKeys) -> None:
    error = failure_from_fake_registry(_Garbled, cosign_keys)

    assert error.code == "E_OCI" and "UnicodeDecodeError" in error.detail


class _Huge(_Failing):
    """A ``.sig`` manifest of 64 MiB, without a length: only reading it tells its size."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        self.end_headers()
        block = b" " * (1 << 20)
        with contextlib.suppress(OSError):
            for _ in range(64):
                self.wfile.write(block)


def test_verifier_raises_e_oci_reading_no_more_than_its_limit_when_the_sig_manifest_is_huge(
        cosign_keys: SigningKeys) -> None:
    error = failure_from_fake_registry(_Huge, cosign_keys)

    assert error.code == "E_OCI" and f"larger than {MAX_MANIFEST_BYTES} bytes" in error.detail


class _Trickling(_Failing):
    """Answers a byte every 0.2 s: each socket read is quick, the answer never ends."""

    headers_too = False

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        with contextlib.suppress(OSError):
            if self.headers_too:
                self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            else:
                self.send_response(200)
                self.send_header("Content-Length", "100000")
                self.end_headers()
            for _ in range(100000):
                self.wfile.write(b"a")
                self.wfile.flush()
                time.sleep(0.2)


class _TricklingHeaders(_Trickling):
    headers_too = True


@pytest.mark.parametrize("handler", [_Trickling, _TricklingHeaders], ids=["body", "headers"])
def test_verifier_raises_e_oci_at_its_deadline_when_the_registry_trickles_its_answer(
        cosign_keys: SigningKeys, handler: type[BaseHTTPRequestHandler]) -> None:
    """requests' timeout is per socket read: without a deadline this check never ended."""
    started = time.monotonic()

    error = failure_from_fake_registry(handler, cosign_keys, deadline=1.5)

    assert error.code == "E_OCI" and "no complete answer within 1.5 s" in error.detail
    assert time.monotonic() - started < 9  # the per-read timeout (10 s) never fired
