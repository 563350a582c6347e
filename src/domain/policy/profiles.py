"""Profile resolution and the pure policy decisions that turn a job into container settings.

Decision codes, by subject (stable; the verdict says whether a code allows, warns or denies):

- ``security.profile``: ``policy.profile.allowed`` (allow), ``policy.profile.denied`` (deny)
- ``container.image``: ``image.registry.allowed`` (allow), ``image.registry.not.allowed`` (deny)
- ``container.network``, ``container.capabilities``, ``container.rootfs``, ``container.env``:
  ``policy.default`` (allow: nothing relaxed), ``policy.override.allowed`` (allow: permissive
  and listed in the bundle's overrides), ``policy.override.denied`` (deny: secure, or
  permissive and not listed), ``policy.override.unchecked`` (warn: profile disabled)
- ``container.resources``: ``policy.default`` (allow: nothing requested, ceilings and the
  default pids limit apply), ``policy.ceiling.within`` (allow: requests at or below the
  ceilings), ``policy.ceiling.exceeded`` (deny; warn under the disabled profile)
- ``runtime.rootless``: ``runtime.rootless`` (allow), ``runtime.rootful`` (warn; deny when
  the bundle has ``require_rootless``)
- ``runtime.limits``: ``runtime.limits.enforced`` (allow), ``runtime.limits.unenforced`` (warn;
  deny when the bundle has ``require_limits``)
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Iterable

from flwd.domain.errors import (
    ConfigInvalidError,
    FlwdError,
    ImageRegistryNotAllowedError,
    ImageSignatureInvalidError,
    ImageSignatureRequiredError,
    PolicyCeilingExceededError,
    PolicyDeniedError,
    PolicyOverrideDeniedError,
    PolicyProfileDeniedError,
    RequestInvalidError,
    RuntimeLimitsUnenforcedError,
    RuntimeRootfulError,
)
from flwd.domain.spec.capabilities import ALL, normalise_cap
from flwd.domain.spec.images import admitting_entry, registry_entries
from flwd.domain.model import (
    ContainerRequest,
    ContainerSettings,
    Decision,
    ImageRef,
    JobSpec,
    PolicyBundle,
    Profile,
    Verdict,
)
from flwd.domain.policy.ceilings import judge_resources, limits_text

if TYPE_CHECKING:
    from flwd.ports.runtime import RuntimeInfo

ALLOW, WARN, DENY = Verdict.ALLOW, Verdict.WARN, Verdict.DENY

_SOURCES = (
    ("requested", "the run request"),
    ("env", "FLWD_PROFILE"),
    ("configured", "the configuration's security.default_profile"),
    ("job", "the job's security_profile"),
)
_KNOWN = ", ".join(p.value for p in Profile)


def _parse_profile(value: object, source: str) -> Profile | None:
    if value is None or isinstance(value, Profile):
        return value
    text = str(value).strip().lower()
    if not text:
        return None
    try:
        return Profile(text)
    except ValueError:
        message = f"unknown security profile {value!r} from {source} (known: {_KNOWN})"
        error: type[FlwdError] = RequestInvalidError if source == _SOURCES[0][1] else ConfigInvalidError
        raise error(message, field="profile", profile=str(value)) from None


def _first_set(**candidates: object) -> tuple[Profile, str]:
    for key, source in _SOURCES:
        profile = _parse_profile(candidates[key], source)
        if profile is not None:
            return profile, source
    return Profile.SECURE, "the default"


def effective_profile(
    *, requested: str | None, env: str | None, configured: str | None, job: Profile | None
) -> Profile:
    """The first profile set of: run request, ``FLWD_PROFILE``, configuration, job, ``secure``.

    Names are case-insensitive; empty strings count as unset. An unknown requested name
    raises ``RequestInvalidError`` (``request.invalid``); an unknown name from the other
    sources raises ``ConfigInvalidError`` (``config.invalid``).
    """
    return _first_set(requested=requested, env=env, configured=configured, job=job)[0]


def profile_decision(profile: Profile, bundle: PolicyBundle, source: str = "the default") -> Decision:
    """The ``security.profile`` decision: deny ``policy.profile.denied`` outside
    ``bundle.allowed_profiles``, else allow ``policy.profile.allowed`` naming *source*."""
    allowed = bundle.allowed_profiles
    if allowed is not None and profile not in allowed:
        names = ", ".join(sorted(p.value for p in allowed))
        return Decision(
            subject="security.profile", decision=DENY, code="policy.profile.denied",
            reason=f"profile {profile.value} (from {source}) is not in the policy's "
            f"allowed_profiles ({names})",
        )
    return Decision(
        subject="security.profile", decision=ALLOW, code="policy.profile.allowed",
        reason=f"profile {profile.value} from {source}",
    )


def resolve_profile(
    *,
    requested: str | None,
    env: str | None,
    configured: str | None,
    job: Profile | None,
    bundle: PolicyBundle,
) -> tuple[Profile, Decision]:
    """``effective_profile`` plus its ``security.profile`` decision (which may be a deny)."""
    profile, source = _first_set(requested=requested, env=env, configured=configured, job=job)
    return profile, profile_decision(profile, bundle, source)


# --- container decisions ------------------------------------------------------------


def _default(subject: str, reason: str) -> Decision:
    return Decision(subject=subject, decision=ALLOW, code="policy.default", reason=reason)


_DEFAULT_NETWORK = _default("container.network", "no network (network none)")
_DEFAULT_CAPS = _default("container.capabilities", "all capabilities dropped, none added")
_DEFAULT_ROOTFS = _default("container.rootfs", "read-only root filesystem, tmpfs at /tmp")
_DEFAULT_ENV = _default(
    "container.env", "clean environment: only the ULC variables and the job's env"
)
_ANY_REGISTRY = Decision(
    subject="container.image", decision=ALLOW, code="image.registry.allowed",
    reason="the policy does not limit registries",
)


def _relaxation(subject: str, what: str, profile: Profile, listed: bool) -> Decision:
    """Judge one relaxation the job asks for under ``container:``."""
    if profile is Profile.DISABLED:
        return Decision(subject=subject, decision=WARN, code="policy.override.unchecked",
                        reason=f"{what} granted unchecked: the profile is disabled")
    if profile is Profile.PERMISSIVE and listed:
        return Decision(subject=subject, decision=ALLOW, code="policy.override.allowed",
                        reason=f"{what} allowed by the policy's overrides")
    why = (
        "the secure profile allows no relaxation" if profile is Profile.SECURE
        else "it is not listed in the policy's overrides"
    )
    return Decision(subject=subject, decision=DENY, code="policy.override.denied",
                    reason=f"{what} denied: {why}")


def _image(image: ImageRef, bundle: PolicyBundle) -> Decision:
    allowed = bundle.allowed_registries
    if not allowed:
        return _ANY_REGISTRY
    entry = admitting_entry(image, allowed)
    if entry is not None:
        return Decision(subject="container.image", decision=ALLOW, code="image.registry.allowed",
                        reason=f"{image} is allowed by the policy's allowed_registries entry "
                        f"{entry!r}")
    same_host = ", ".join(registry_entries(image, allowed))
    only = f"; registry {image.registry} is allowed only under {same_host}" if same_host else ""
    return Decision(
        subject="container.image", decision=DENY, code="image.registry.not.allowed",
        reason=f"{image} is not allowed by any of the policy's allowed_registries "
        f"({', '.join(allowed)}){only}",
    )


def _network(asked: str | None, profile: Profile, bundle: PolicyBundle) -> tuple[str, Decision]:
    mode = (asked or "none").strip().lower()
    if mode == "none":
        return "none", _DEFAULT_NETWORK
    listed = mode in bundle.overrides.network
    decision = _relaxation("container.network", f"network {mode}", profile, listed)
    return (mode if decision.decision is not DENY else "none"), decision


def _capabilities(
    asked: tuple[str, ...], profile: Profile, bundle: PolicyBundle
) -> tuple[tuple[str, ...], Decision]:
    if not asked:
        return (), _DEFAULT_CAPS
    caps = tuple(dict.fromkeys(normalise_cap(c) for c in asked))
    listed = bundle.overrides.caps
    # ALL in the overrides lists every capability (and ALL itself)
    unlisted = [] if ALL in listed else [c for c in caps if c not in listed]
    named = unlisted if profile is Profile.PERMISSIVE and unlisted else caps
    decision = _relaxation("container.capabilities", "capabilities " + ", ".join(named),
                           profile, listed=not unlisted)
    return (() if decision.decision is DENY else caps), decision


def _toggle(subject: str, what: str, asked: bool, listed: bool, profile: Profile,
            default: Decision) -> tuple[bool, Decision]:
    if not asked:
        return False, default
    decision = _relaxation(subject, what, profile, listed)
    return decision.decision is not DENY, decision


def decide(
    job: JobSpec, profile: Profile, bundle: PolicyBundle, image: ImageRef
) -> tuple[ContainerSettings, tuple[Decision, ...]]:
    """The container settings for *job* under *profile* and *bundle*, with one decision per
    subject: ``container.image``, ``.network``, ``.capabilities``, ``.rootfs``, ``.env``,
    ``.resources`` (in that order).

    Starts from the secure baseline (read-only root, ``cap_drop ALL``, no-new-privileges,
    network none, init, a /tmp tmpfs, pids 256 or the ceiling if lower, memory/cpu ceilings
    as limits) and applies only the relaxations the decisions allow. Never raises for a
    denial: the decisions carry it (see ``raise_for_denials``).
    """
    return _decide(job.container, profile, bundle, image)


@lru_cache(maxsize=1024)
def _decide(
    asked: ContainerRequest, profile: Profile, bundle: PolicyBundle, image: ImageRef
) -> tuple[ContainerSettings, tuple[Decision, ...]]:
    # Pure and keyed on frozen values only, so plans for the same job shape share the work.
    overrides = bundle.overrides
    network, network_d = _network(asked.network, profile, bundle)
    cap_add, caps_d = _capabilities(asked.capabilities, profile, bundle)
    writable, rootfs_d = _toggle("container.rootfs", "a writable root filesystem",
                                 asked.rootfs_writable, overrides.rootfs_writable, profile,
                                 _DEFAULT_ROOTFS)
    inherit, env_d = _toggle("container.env", "inheriting the host environment",
                             asked.env_inheritance, overrides.env_inheritance, profile,
                             _DEFAULT_ENV)
    resources, resources_d = judge_resources(asked.resources, bundle.ceilings, profile)
    settings = ContainerSettings(
        read_only_rootfs=not writable,
        cap_add=cap_add,
        network=network,
        resources=resources,
        env_inheritance=inherit,
    )
    return settings, (_image(image, bundle), network_d, caps_d, rootfs_d, env_d, resources_d)


# --- runtime decisions and denial ---------------------------------------------------


def runtime_decisions(
    settings: ContainerSettings, bundle: PolicyBundle, info: RuntimeInfo
) -> tuple[Decision, ...]:
    """The ``runtime.rootless`` and ``runtime.limits`` decisions for a probed runtime.

    Rootful runtimes warn ``runtime.rootful`` (deny under ``require_rootless``); limits in
    *settings* the runtime cannot enforce warn ``runtime.limits.unenforced`` naming them
    (deny under ``require_limits``).
    """
    engine = f"{info.name} {info.version}".strip()
    if info.rootless:
        rootless = Decision(subject="runtime.rootless", decision=ALLOW, code="runtime.rootless",
                            reason=f"{engine} runs containers rootless")
    else:
        rootless = Decision(
            subject="runtime.rootless", decision=DENY if bundle.require_rootless else WARN,
            code="runtime.rootful",
            reason=f"{engine} is rootful: container root is host root"
            + ("; the policy requires rootless" if bundle.require_rootless else ""),
        )
    limits = limits_text(settings.resources)
    if info.enforces_limits or not limits:
        reason = f"{limits} enforced by {engine}" if limits else "no limits to enforce"
        limits_d = Decision(subject="runtime.limits", decision=ALLOW,
                            code="runtime.limits.enforced", reason=reason)
    else:
        mode = "rootless" if info.rootless else "rootful"
        verb = "is" if ", " not in limits else "are"
        limits_d = Decision(
            subject="runtime.limits", decision=DENY if bundle.require_limits else WARN,
            code="runtime.limits.unenforced",
            reason=f"{limits} {verb} not enforced by {engine} {mode}"
            + ("".join(f"; {p}" for p in info.problems[:1]))
            + ("; the policy requires limits" if bundle.require_limits else ""),
        )
    return rootless, limits_d


_DENIAL_ERRORS: dict[str, type[PolicyDeniedError]] = {
    cls.code: cls
    for cls in (
        ImageRegistryNotAllowedError,
        PolicyOverrideDeniedError,
        PolicyProfileDeniedError,
        PolicyCeilingExceededError,
        RuntimeRootfulError,
        RuntimeLimitsUnenforcedError,
        ImageSignatureRequiredError,  # an add-on's image.signature decision (signatures.py)
        ImageSignatureInvalidError,
    )
}


def raise_for_denials(decisions: Iterable[Decision]) -> None:
    """Raise the ``PolicyDeniedError`` subclass matching the first deny's code, if any.

    The detail lists every denial (``subject: reason``); the context carries
    ``decisions`` (every decision given, as dicts) and ``denied`` (the deny codes).
    """
    decisions = tuple(decisions)
    denied = [d for d in decisions if d.decision is DENY]
    if not denied:
        return
    error = _DENIAL_ERRORS.get(denied[0].code, PolicyDeniedError)
    detail = "policy denied the run: " + "; ".join(f"{d.subject}: {d.reason}" for d in denied)
    raise error(detail, decisions=[d.as_dict() for d in decisions],
                denied=[d.code for d in denied])
