"""Signature decisions (SPEC section 10): a verifier's verdict judged under ``verify_signatures``.

Decision codes of the subject ``image.signature`` (stable):

- ``image.signature.valid`` (allow): a signature by one of the ``signature_keys`` checks out
- ``image.signature.unchecked`` (allow): ``verify_signatures`` is ``disabled``; nothing asked
- ``image.signature.required`` (deny under ``required``, warn under ``permissive``): the
  digest carries no signature
- ``image.signature.invalid`` (deny under ``required``, warn under ``permissive``): signatures
  exist but none checks out against any of the keys

The one entry point for use cases (adding or refreshing a source, each run of an add-on job)
is ``check_image_signature``; ``signature_decision`` is its pure core.
"""

from __future__ import annotations

from dataclasses import dataclass

from flwd.domain.errors import (
    ImageSignatureInvalidError,
    ImageSignatureRequiredError,
    PolicyDeniedError,
    SpecInvalidError,
)
from flwd.domain.model import Decision, PolicyBundle, Profile, SignatureMode, Verdict
from flwd.domain.spec.images import parse_image_ref
from flwd.ports.signatures import SignatureStatus, SignatureVerdict, SignatureVerifier

SUBJECT = "image.signature"
REQUIRED_CODE = ImageSignatureRequiredError.code
INVALID_CODE = ImageSignatureInvalidError.code

_MODE_BY_PROFILE = {
    Profile.SECURE: SignatureMode.REQUIRED,
    Profile.PERMISSIVE: SignatureMode.PERMISSIVE,
    Profile.DISABLED: SignatureMode.DISABLED,
}
_ERRORS: dict[str, type[PolicyDeniedError]] = {
    REQUIRED_CODE: ImageSignatureRequiredError,
    INVALID_CODE: ImageSignatureInvalidError,
}


def signature_mode(bundle: PolicyBundle, profile: Profile) -> SignatureMode:
    """The bundle's ``verify_signatures``, or the profile's default: ``required`` under
    ``secure``, ``permissive`` under ``permissive``, ``disabled`` under ``disabled``."""
    return bundle.verify_signatures or _MODE_BY_PROFILE[profile]


def signature_decision(verdict: SignatureVerdict | None, mode: SignatureMode, image: str
                       ) -> Decision:
    """The ``image.signature`` decision for *verdict* about *image* under *mode* (pure).

    *verdict* is ``None`` only under ``disabled`` (no check was made). A missing or invalid
    signature denies under ``required`` and warns under ``permissive``, with the same code
    either way (``image.signature.required`` / ``image.signature.invalid``), as
    ``runtime.rootful`` warns or denies by the bundle.
    """
    if mode is SignatureMode.DISABLED or verdict is None:
        return Decision(subject=SUBJECT, decision=Verdict.ALLOW, code="image.signature.unchecked",
                        reason=f"signatures of {image} are not checked: verify_signatures is "
                        f"{mode.value}")
    if verdict.status is SignatureStatus.VALID:
        return Decision(subject=SUBJECT, decision=Verdict.ALLOW, code="image.signature.valid",
                        reason=f"{image} is signed by the key {verdict.key}")
    missing = verdict.status is SignatureStatus.MISSING
    what = "carries no signature" if missing else "carries no valid signature by the policy's keys"
    why = f" ({verdict.reason})" if verdict.reason else ""
    required = mode is SignatureMode.REQUIRED
    return Decision(
        subject=SUBJECT, decision=Verdict.DENY if required else Verdict.WARN,
        code=REQUIRED_CODE if missing else INVALID_CODE,
        reason=f"{image} {what}{why}; verify_signatures is {mode.value}"
        + ("" if required else ": allowed with a warning"),
    )


def check_image_signature(bundle: PolicyBundle, verifier: SignatureVerifier, repository: str,
                          digest: str, *, profile: Profile) -> Decision:
    """Check the signature of *repository* (``HOST/PATH``, or the pinned ``HOST/PATH@DIGEST``)
    at *digest* (``sha256:<hex>``) as
    *bundle* and *profile* ask, and return the ``image.signature`` decision (allow or warn) for
    the caller to record with its other decisions.

    Under ``disabled`` the registry is not asked. Raises ``ImageSignatureRequiredError``
    (``image.signature.required``) or ``ImageSignatureInvalidError``
    (``image.signature.invalid``) when the decision denies (context: ``decisions``,
    ``denied``, ``image``); ``OciError`` (``E_OCI``) when the registry cannot say;
    ``SpecInvalidError`` for a malformed repository or digest.
    """
    name, at, pinned = repository.partition("@")
    if at and pinned != digest:
        raise SpecInvalidError(f"image {repository} is pinned to another digest than {digest}",
                               field="image")
    ref = parse_image_ref(f"{name}@{digest}")
    name, image = f"{ref.registry}/{ref.repository}", f"{ref.registry}/{ref.repository}@{digest}"
    mode = signature_mode(bundle, profile)
    verdict = None if mode is SignatureMode.DISABLED else verifier.verify(
        name, digest, bundle.signature_keys)
    decision = signature_decision(verdict, mode, image)
    if decision.decision is Verdict.DENY:
        raise _ERRORS[decision.code](decision.reason, decisions=[decision.as_dict()],
                                     denied=[decision.code], image=image)
    return decision


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageSignatureCheck:
    """``check_image_signature`` bound to a bundle, a verifier and a profile, in the shape the
    sources use cases and the add-on run path take: ``check(image, digest)`` with the pinned
    ``REPO@sha256:...`` and its digest gives the decisions to record (one ``image.signature``
    decision: allow or warn) or raises as ``check_image_signature`` does."""

    bundle: PolicyBundle
    verifier: SignatureVerifier
    profile: Profile

    def __call__(self, image: str, digest: str) -> tuple[Decision, ...]:
        return (check_image_signature(self.bundle, self.verifier, image, digest,
                                      profile=self.profile),)
