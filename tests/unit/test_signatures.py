"""Signature decisions (SPEC section 10): verdict and mode, and the check use cases call."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from flwd.adapters.cosign_verifier import CosignSignatureVerifier
from flwd.adapters.deferred_verifier import DeferredVerifier
from flwd.adapters.fake_signatures import FakeSignatureVerifier
from flwd.domain.errors import (
    ImageSignatureInvalidError,
    ImageSignatureRequiredError,
    OciError,
    SpecInvalidError,
)
from flwd.domain.model import PolicyBundle, Profile, SignatureMode, Verdict
from flwd.domain.policy.profiles import raise_for_denials
from flwd.domain.policy.signatures import (
    ImageSignatureCheck,
    check_image_signature,
    signature_decision,
    signature_mode,
)
from flwd.entrypoints.config import FlwdConfig
from flwd.entrypoints.container import build_container
from flwd.ports.signatures import SignatureKey, SignatureStatus, SignatureVerdict
from tests.contracts.signatures import check_signature_verifier_contract

REPO = "127.0.0.1:5000/tools/pg"
DIGEST = "sha256:" + "ab" * 32
IMAGE = f"{REPO}@{DIGEST}"
KEY = SignatureKey(path="/etc/flwd/keys/release.pub", pem=b"pem")
BUNDLE = PolicyBundle(signature_keys=(KEY,))

VALID = SignatureVerdict(status=SignatureStatus.VALID, key=KEY.path)
MISSING = SignatureVerdict(status=SignatureStatus.MISSING, reason="no sha256-ab.sig")
INVALID = SignatureVerdict(status=SignatureStatus.INVALID, reason="not signed by any of the keys")


@pytest.mark.parametrize("profile, mode", [
    (Profile.SECURE, SignatureMode.REQUIRED),
    (Profile.PERMISSIVE, SignatureMode.PERMISSIVE),
    (Profile.DISABLED, SignatureMode.DISABLED),
])
def test_signature_mode_follows_profile_when_policy_sets_none(profile: Profile,
                                                              mode: SignatureMode) -> None:
    assert signature_mode(PolicyBundle(), profile) is mode


def test_signature_mode_is_the_policys_when_policy_sets_it() -> None:
    bundle = PolicyBundle(verify_signatures=SignatureMode.REQUIRED)

    assert signature_mode(bundle, Profile.DISABLED) is SignatureMode.REQUIRED


@pytest.mark.parametrize("verdict, mode, decision, code", [
    (VALID, SignatureMode.REQUIRED, Verdict.ALLOW, "image.signature.valid"),
    (VALID, SignatureMode.PERMISSIVE, Verdict.ALLOW, "image.signature.valid"),
    (MISSING, SignatureMode.REQUIRED, Verdict.DENY, "image.signature.required"),
    (INVALID, SignatureMode.REQUIRED, Verdict.DENY, "image.signature.invalid"),
    (MISSING, SignatureMode.PERMISSIVE, Verdict.WARN, "image.signature.required"),
    (INVALID, SignatureMode.PERMISSIVE, Verdict.WARN, "image.signature.invalid"),
    (None, SignatureMode.DISABLED, Verdict.ALLOW, "image.signature.unchecked"),
])
def test_signature_decision_judges_verdict_when_under_each_mode(
        verdict: SignatureVerdict | None, mode: SignatureMode, decision: Verdict, code: str
) -> None:
    result = signature_decision(verdict, mode, IMAGE)

    assert (result.subject, result.decision, result.code) == ("image.signature", decision, code)
    assert IMAGE in result.reason


def test_signature_decision_names_key_and_reason_when_judging() -> None:
    assert KEY.path in signature_decision(VALID, SignatureMode.REQUIRED, IMAGE).reason
    assert "not signed by any of the keys" in signature_decision(
        INVALID, SignatureMode.PERMISSIVE, IMAGE).reason


def test_check_image_signature_allows_when_signed_by_a_trusted_key() -> None:
    verifier = FakeSignatureVerifier()
    verifier.sign(REPO, DIGEST, KEY.path)

    decision = check_image_signature(BUNDLE, verifier, REPO, DIGEST, profile=Profile.SECURE)

    assert (decision.decision, decision.code) == (Verdict.ALLOW, "image.signature.valid")


def test_check_image_signature_raises_required_when_unsigned_under_secure() -> None:
    with pytest.raises(ImageSignatureRequiredError) as err:
        check_image_signature(BUNDLE, FakeSignatureVerifier(), REPO, DIGEST,
                              profile=Profile.SECURE)

    assert err.value.code == "image.signature.required"
    assert err.value.context["denied"] == ["image.signature.required"]
    assert err.value.context["image"] == IMAGE


def test_check_image_signature_raises_invalid_when_signed_by_another_key() -> None:
    verifier = FakeSignatureVerifier()
    verifier.sign(REPO, DIGEST, "/elsewhere/other.pub")

    with pytest.raises(ImageSignatureInvalidError) as err:
        check_image_signature(BUNDLE, verifier, REPO, DIGEST, profile=Profile.SECURE)

    assert err.value.code == "image.signature.invalid"


def test_check_image_signature_warns_when_unsigned_under_permissive() -> None:
    decision = check_image_signature(BUNDLE, FakeSignatureVerifier(), REPO, DIGEST,
                                     profile=Profile.PERMISSIVE)

    assert (decision.decision, decision.code) == (Verdict.WARN, "image.signature.required")


def test_check_image_signature_asks_no_registry_when_disabled() -> None:
    verifier = FakeSignatureVerifier(unreachable=True)

    decision = check_image_signature(BUNDLE, verifier, REPO, DIGEST, profile=Profile.DISABLED)

    assert decision.code == "image.signature.unchecked"
    assert verifier.checked == []


def test_check_image_signature_raises_e_oci_when_registry_is_unreachable() -> None:
    with pytest.raises(OciError) as err:
        check_image_signature(BUNDLE, FakeSignatureVerifier(unreachable=True), REPO, DIGEST,
                              profile=Profile.PERMISSIVE)

    assert err.value.code == "E_OCI"


def test_check_image_signature_normalises_repository_when_given_docker_hub_short_name() -> None:
    verifier = FakeSignatureVerifier()

    check_image_signature(BUNDLE, verifier, "alpine", DIGEST, profile=Profile.PERMISSIVE)

    assert verifier.checked == [("docker.io/library/alpine", DIGEST)]


def test_check_image_signature_refuses_when_digest_is_malformed() -> None:
    with pytest.raises(SpecInvalidError):
        check_image_signature(BUNDLE, FakeSignatureVerifier(), REPO, "sha256:nothex",
                              profile=Profile.SECURE)


def test_raise_for_denials_raises_signature_error_when_run_decisions_carry_one() -> None:
    denied = signature_decision(INVALID, SignatureMode.REQUIRED, IMAGE)

    with pytest.raises(ImageSignatureInvalidError):
        raise_for_denials([denied])


def test_check_image_signature_accepts_pinned_image_when_given_repo_at_digest() -> None:
    verifier = FakeSignatureVerifier()
    verifier.sign(REPO, DIGEST, KEY.path)

    decision = check_image_signature(BUNDLE, verifier, IMAGE, DIGEST, profile=Profile.SECURE)

    assert decision.code == "image.signature.valid"
    assert verifier.checked == [(REPO, DIGEST)]


def test_check_image_signature_refuses_when_pinned_image_names_another_digest() -> None:
    with pytest.raises(SpecInvalidError):
        check_image_signature(BUNDLE, FakeSignatureVerifier(), f"{REPO}@sha256:{'cd' * 32}",
                              DIGEST, profile=Profile.SECURE)


def test_image_signature_check_gives_the_decision_when_called_as_sources_do() -> None:
    check = ImageSignatureCheck(bundle=BUNDLE, verifier=FakeSignatureVerifier(),
                                profile=Profile.PERMISSIVE)

    decisions = check(IMAGE, DIGEST)

    assert [(d.decision, d.code) for d in decisions] == [(Verdict.WARN, "image.signature.required")]


def test_container_signature_check_follows_configured_profile_when_built(tmp_path: Path) -> None:
    container = build_container(FlwdConfig(data_dir=str(tmp_path)), profile_override="disabled")

    check = container.signature_check()

    assert check.profile is Profile.DISABLED
    assert isinstance(check.verifier, DeferredVerifier)  # the cosign verifier, at the first check
    assert isinstance(check.verifier._make(), CosignSignatureVerifier)


def test_fake_verifier_keeps_the_signature_verifier_contract() -> None:
    fake, count = FakeSignatureVerifier(), itertools.count()

    def publish(signers: tuple[str, ...]) -> tuple[str, str]:
        repository = f"registry.test/addons/a{next(count)}"
        for signer in signers:
            fake.sign(repository, DIGEST, f"/keys/{signer}.pub")
        return repository, DIGEST

    check_signature_verifier_contract(fake, publish, SignatureKey(path="/keys/trusted.pub", pem=b""),
                                      FakeSignatureVerifier(unreachable=True), "registry.test/x")
