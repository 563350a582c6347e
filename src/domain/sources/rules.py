"""What a source request must satisfy before anything is pulled (SPEC section 10)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flwd.domain.errors import (
    ImageRegistryNotAllowedError,
    RequestInvalidError,
    SourceTrustRequiredError,
    SpecInvalidError,
)
from flwd.domain.model import ImageRef, PolicyBundle
from flwd.domain.spec.images import parse_image_ref, registry_allowed
from flwd.ports.sources import PULL_ON_ADD, SOURCE_KIND_OCI, SOURCE_PULL_POLICIES

# No "/": a source's name prefixes its jobs' ids (SOURCE/JOB).
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}\Z")


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceRequest:
    """``flwd :sources add NAME REF --trusted``, ``POST /sources`` or a ``sources:`` entry."""

    name: str
    ref: str
    trusted: bool = False
    pull_policy: str = PULL_ON_ADD
    type: str = SOURCE_KIND_OCI


def check_request(request: SourceRequest, bundle: PolicyBundle) -> ImageRef:
    """The parsed reference of an acceptable *request*.

    Raises ``RequestInvalidError`` (``request.invalid``: name, type, pull policy or reference
    malformed), ``SourceTrustRequiredError`` (``source.trust.required``: no explicit
    ``trusted: true``) or ``ImageRegistryNotAllowedError`` (``image.registry.not.allowed``).
    """
    check_name(request.name)
    if request.type != SOURCE_KIND_OCI:
        raise RequestInvalidError(f"source type must be {SOURCE_KIND_OCI!r}, not {request.type!r}",
                                  field="type")
    if request.pull_policy not in SOURCE_PULL_POLICIES:
        raise RequestInvalidError(
            f"pull_policy must be one of {', '.join(SOURCE_PULL_POLICIES)}, not "
            f"{request.pull_policy!r}", field="pull_policy")
    ref = parse_ref(request.ref)
    if request.trusted is not True:
        raise SourceTrustRequiredError(
            f"source {request.name!r}: an add-on runs its own code; add it with trusted: true "
            "(--trusted) to say you trust its publisher", source=request.name, field="trusted")
    check_registry(ref, bundle, request.name)
    return ref


def check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise RequestInvalidError(
            f"source name {name!r} must be 1-63 letters, digits, '.', '_' or '-', starting with "
            "a letter or digit (it prefixes the ids of its jobs: NAME/JOB)", field="name")


def parse_ref(text: str) -> ImageRef:
    try:
        return parse_image_ref(text)
    except SpecInvalidError as exc:
        raise RequestInvalidError(f"source reference: {exc.detail}", field="ref") from None


def check_registry(ref: ImageRef, bundle: PolicyBundle, name: str) -> None:
    """``allowed_registries`` applies to add-ons as to any image."""
    if not registry_allowed(ref, bundle.allowed_registries):
        raise ImageRegistryNotAllowedError(
            f"source {name!r}: registry {ref.registry} of {ref} is not in the policy's "
            f"allowed_registries ({', '.join(bundle.allowed_registries)})",
            source=name, field="ref")
