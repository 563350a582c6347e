"""Profile resolution, policy decisions, runtime decisions and denials."""

from __future__ import annotations

import dataclasses

import pytest

from flwd.domain.errors import (
    ConfigInvalidError,
    ImageRegistryNotAllowedError,
    PolicyCeilingExceededError,
    PolicyDeniedError,
    PolicyOverrideDeniedError,
    PolicyProfileDeniedError,
    RequestInvalidError,
    RuntimeLimitsUnenforcedError,
    RuntimeRootfulError,
)
from flwd.domain.spec.images import parse_image_ref
from flwd.domain.policy.bundle import parse_policy
from flwd.domain.model import (
    ContainerRequest,
    ContainerSettings,
    Decision,
    JobSpec,
    Overrides,
    PolicyBundle,
    Profile,
    Resources,
    Verdict,
)
from flwd.domain.policy.profiles import (
    decide,
    effective_profile,
    profile_decision,
    raise_for_denials,
    resolve_profile,
    runtime_decisions,
)
from flwd.ports.runtime import RuntimeInfo

S, P, D = Profile.SECURE, Profile.PERMISSIVE, Profile.DISABLED
MI = 1024**2
OPEN_BUNDLE = PolicyBundle(
    overrides=Overrides(network=("bridge",), caps=("NET_BIND_SERVICE",),
                        rootfs_writable=True, env_inheritance=True)
)


def _job(image: str = "alpine:3.20", **container: object) -> JobSpec:
    return JobSpec(id="demo", directory="/jobs/demo", spec_path="/jobs/demo/job.yaml",
                   image=image, container=ContainerRequest(**container))  # type: ignore[arg-type]


def _decide(job: JobSpec, profile: Profile = S, bundle: PolicyBundle = PolicyBundle()
            ) -> tuple[ContainerSettings, dict[str, Decision]]:
    settings, decisions = decide(job, profile, bundle, parse_image_ref(job.image))
    return settings, {d.subject: d for d in decisions}


# --- effective profile ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "env", "configured", "job", "expected"),
    [
        (None, None, None, None, S),
        ("disabled", "permissive", "secure", S, D),
        (None, "permissive", "disabled", S, P),
        (None, None, "disabled", P, D),
        (None, None, None, P, P),
        ("", "", None, P, P),
        ("PERMISSIVE", None, None, None, P),
        (" secure ", "disabled", None, None, S),
    ],
)
def test_effective_profile_takes_first_set_source_when_several_given(
    requested: str | None, env: str | None, configured: str | None, job: Profile | None,
    expected: Profile,
) -> None:
    assert effective_profile(requested=requested, env=env, configured=configured, job=job) is expected


def test_effective_profile_raises_request_invalid_when_request_names_unknown_profile() -> None:
    with pytest.raises(RequestInvalidError) as err:
        effective_profile(requested="yolo", env=None, configured=None, job=None)

    assert "yolo" in err.value.detail


@pytest.mark.parametrize(("env", "configured"), [("yolo", None), (None, "yolo")])
def test_effective_profile_raises_config_invalid_when_setting_names_unknown_profile(
    env: str | None, configured: str | None
) -> None:
    with pytest.raises(ConfigInvalidError):
        effective_profile(requested=None, env=env, configured=configured, job=None)


@pytest.mark.parametrize(
    ("kwargs", "source"),
    [
        ({"requested": "secure"}, "the run request"),
        ({"env": "secure"}, "FLWD_PROFILE"),
        ({"configured": "secure"}, "security.default_profile"),
        ({"job": S}, "security_profile"),
        ({}, "the default"),
    ],
)
def test_resolve_profile_names_source_when_allowed(kwargs: dict[str, object], source: str) -> None:
    args: dict[str, object] = {"requested": None, "env": None, "configured": None, "job": None}
    args.update(kwargs)

    profile, decision = resolve_profile(bundle=PolicyBundle(), **args)  # type: ignore[arg-type]

    assert profile is S
    assert (decision.subject, decision.decision, decision.code) == (
        "security.profile", Verdict.ALLOW, "policy.profile.allowed")
    assert source in decision.reason


def test_resolve_profile_denies_when_profile_not_in_allowed_profiles() -> None:
    bundle = PolicyBundle(allowed_profiles=frozenset({S, P}))

    profile, decision = resolve_profile(requested="disabled", env=None, configured=None,
                                        job=None, bundle=bundle)

    assert profile is D
    assert (decision.decision, decision.code) == (Verdict.DENY, "policy.profile.denied")


def test_profile_decision_allows_when_bundle_lists_profile() -> None:
    decision = profile_decision(P, PolicyBundle(allowed_profiles=frozenset({P})))

    assert decision.decision is Verdict.ALLOW


# --- secure baseline ------------------------------------------------------------------


@pytest.mark.parametrize("profile", [S, P, D])
def test_decide_gives_secure_baseline_when_job_asks_nothing(profile: Profile) -> None:
    settings, decisions = _decide(_job(), profile)

    assert settings == ContainerSettings()
    assert settings.read_only_rootfs and settings.no_new_privileges and settings.init
    assert settings.cap_drop == ("ALL",) and settings.cap_add == ()
    assert settings.network == "none"
    assert settings.tmpfs == {"/tmp": "rw,nosuid,nodev,size=64m"}
    assert settings.resources == Resources(pids=256)
    assert list(decisions) == ["container.image", "container.network", "container.capabilities",
                               "container.rootfs", "container.env", "container.resources"]
    assert all(d.decision is Verdict.ALLOW for d in decisions.values())
    assert {d.code for s, d in decisions.items() if s != "container.image"} == {"policy.default"}


def test_decide_uses_ceilings_as_limits_when_job_requests_nothing() -> None:
    bundle = PolicyBundle(ceilings=Resources(cpu_millis=2000, memory_bytes=1024 * MI, pids=512))

    settings, decisions = _decide(_job(), bundle=bundle)

    assert settings.resources == Resources(cpu_millis=2000, memory_bytes=1024 * MI, pids=256)
    assert decisions["container.resources"].code == "policy.default"
    assert "memory=1Gi" in decisions["container.resources"].reason


def test_decide_lowers_pids_to_ceiling_when_ceiling_below_default() -> None:
    settings, _ = _decide(_job(), bundle=PolicyBundle(ceilings=Resources(pids=64)))

    assert settings.resources.pids == 64


# --- relaxations, table-driven --------------------------------------------------------

RELAXATIONS = {
    "container.network": {"network": "bridge"},
    "container.capabilities": {"capabilities": ("NET_BIND_SERVICE",)},
    "container.rootfs": {"rootfs_writable": True},
    "container.env": {"env_inheritance": True},
}


def _relaxed(settings: ContainerSettings, subject: str) -> bool:
    return {
        "container.network": settings.network == "bridge",
        "container.capabilities": settings.cap_add == ("NET_BIND_SERVICE",),
        "container.rootfs": not settings.read_only_rootfs,
        "container.env": settings.env_inheritance,
    }[subject]


@pytest.mark.parametrize(
    ("profile", "bundle", "verdict", "code"),
    [
        (S, PolicyBundle(), Verdict.DENY, "policy.override.denied"),
        (S, OPEN_BUNDLE, Verdict.DENY, "policy.override.denied"),
        (P, PolicyBundle(), Verdict.DENY, "policy.override.denied"),
        (P, OPEN_BUNDLE, Verdict.ALLOW, "policy.override.allowed"),
        (D, PolicyBundle(), Verdict.WARN, "policy.override.unchecked"),
        (D, OPEN_BUNDLE, Verdict.WARN, "policy.override.unchecked"),
    ],
)
@pytest.mark.parametrize("subject", list(RELAXATIONS))
def test_decide_judges_relaxation_per_profile_and_overrides(
    subject: str, profile: Profile, bundle: PolicyBundle, verdict: Verdict, code: str
) -> None:
    settings, decisions = _decide(_job(**RELAXATIONS[subject]), profile, bundle)

    assert (decisions[subject].decision, decisions[subject].code) == (verdict, code)
    assert _relaxed(settings, subject) is (verdict is not Verdict.DENY)
    others = [d for s, d in decisions.items() if s not in (subject, "container.image")]
    assert all(d.code == "policy.default" for d in others)


def test_decide_denies_naming_unlisted_caps_when_permissive_and_some_caps_unlisted() -> None:
    job = _job(capabilities=("cap_net_bind_service", "SYS_ADMIN"))

    settings, decisions = _decide(job, P, OPEN_BUNDLE)

    decision = decisions["container.capabilities"]
    assert decision.decision is Verdict.DENY
    assert "SYS_ADMIN" in decision.reason and "NET_BIND_SERVICE" not in decision.reason
    assert settings.cap_add == ()


def test_decide_normalises_cap_names_when_permissive_and_listed() -> None:
    settings, decisions = _decide(_job(capabilities=("cap_net_bind_service",)), P, OPEN_BUNDLE)

    assert settings.cap_add == ("NET_BIND_SERVICE",)
    assert decisions["container.capabilities"].code == "policy.override.allowed"


@pytest.mark.parametrize(
    "asked", [("NET_ADMIN",), ("cap_sys_admin", "ALL"), ("CHECKPOINT_RESTORE", "net_raw")]
)
def test_decide_allows_any_cap_when_permissive_and_overrides_list_all(
    asked: tuple[str, ...]
) -> None:
    bundle = parse_policy({"overrides": {"caps": ["all"]}})

    settings, decisions = _decide(_job(capabilities=asked), P, bundle)

    assert decisions["container.capabilities"].code == "policy.override.allowed"
    assert settings.cap_add == tuple(name.upper().removeprefix("CAP_") for name in asked)


def test_decide_denies_all_when_permissive_and_overrides_list_single_caps() -> None:
    """Listing caps one by one never grants ALL: only an ``ALL`` entry does."""
    settings, decisions = _decide(_job(capabilities=("ALL",)), P, OPEN_BUNDLE)

    decision = decisions["container.capabilities"]
    assert (decision.decision, decision.code) == (Verdict.DENY, "policy.override.denied")
    assert decision.reason == "capabilities ALL denied: it is not listed in the policy's overrides"
    assert settings.cap_add == ()


def test_decide_denies_network_not_listed_when_permissive() -> None:
    settings, decisions = _decide(_job(network="host"), P, OPEN_BUNDLE)

    assert decisions["container.network"].code == "policy.override.denied"
    assert settings.network == "none"


@pytest.mark.parametrize("network", ["none", "NONE", None])
def test_decide_treats_network_none_as_default_when_secure(network: str | None) -> None:
    _, decisions = _decide(_job(network=network), S)

    assert decisions["container.network"].code == "policy.default"


# --- resources ------------------------------------------------------------------------

CEILINGS = PolicyBundle(ceilings=Resources(cpu_millis=1000, memory_bytes=512 * MI, pids=128))


@pytest.mark.parametrize(
    ("asked", "profile", "verdict", "code", "granted"),
    [
        (Resources(memory_bytes=256 * MI), S, Verdict.ALLOW, "policy.ceiling.within",
         Resources(cpu_millis=1000, memory_bytes=256 * MI, pids=128)),
        (Resources(cpu_millis=1000, memory_bytes=512 * MI, pids=128), P, Verdict.ALLOW,
         "policy.ceiling.within", Resources(cpu_millis=1000, memory_bytes=512 * MI, pids=128)),
        (Resources(memory_bytes=1024 * MI), S, Verdict.DENY, "policy.ceiling.exceeded",
         Resources(cpu_millis=1000, memory_bytes=512 * MI, pids=128)),
        (Resources(pids=129), P, Verdict.DENY, "policy.ceiling.exceeded",
         Resources(cpu_millis=1000, memory_bytes=512 * MI, pids=128)),
        (Resources(cpu_millis=2000), D, Verdict.WARN, "policy.ceiling.exceeded",
         Resources(cpu_millis=2000, memory_bytes=512 * MI, pids=128)),
        (Resources(cpu_millis=500), D, Verdict.ALLOW, "policy.ceiling.within",
         Resources(cpu_millis=500, memory_bytes=512 * MI, pids=128)),
    ],
)
def test_decide_judges_resources_against_ceilings(
    asked: Resources, profile: Profile, verdict: Verdict, code: str, granted: Resources
) -> None:
    settings, decisions = _decide(_job(resources=asked), profile, CEILINGS)

    assert (decisions["container.resources"].decision,
            decisions["container.resources"].code) == (verdict, code)
    assert settings.resources == granted


def test_decide_names_resource_and_ceiling_when_exceeded() -> None:
    _, decisions = _decide(_job(resources=Resources(memory_bytes=1024 * MI)), S, CEILINGS)

    assert "memory=1Gi exceeds the ceiling 512Mi" in decisions["container.resources"].reason


def test_decide_grants_request_when_no_ceiling_for_it() -> None:
    settings, decisions = _decide(_job(resources=Resources(memory_bytes=8192 * MI, pids=200)))

    assert settings.resources == Resources(memory_bytes=8192 * MI, pids=200)
    assert decisions["container.resources"].decision is Verdict.ALLOW


# --- image ----------------------------------------------------------------------------


@pytest.mark.parametrize("profile", [S, P, D])
@pytest.mark.parametrize(
    ("image", "verdict", "code"),
    [
        ("alpine", Verdict.ALLOW, "image.registry.allowed"),
        ("localhost:5000/x", Verdict.ALLOW, "image.registry.allowed"),
        ("quay.io/x/y", Verdict.DENY, "image.registry.not.allowed"),
    ],
)
def test_decide_checks_registry_whatever_the_profile(
    image: str, verdict: Verdict, code: str, profile: Profile
) -> None:
    bundle = PolicyBundle(allowed_registries=("docker.io", "localhost"))

    _, decisions = _decide(_job(image), profile, bundle)

    assert (decisions["container.image"].decision, decisions["container.image"].code) == (
        verdict, code)


@pytest.mark.parametrize(
    ("image", "allowed", "verdict", "reason"),
    [
        ("ghcr.io/acme/tool:1", ("docker.io", "ghcr.io/acme"), Verdict.ALLOW,
         "ghcr.io/acme/tool:1 is allowed by the policy's allowed_registries entry 'ghcr.io/acme'"),
        ("alpine:3.20", ("docker.io/library",), Verdict.ALLOW,
         "docker.io/library/alpine:3.20 is allowed by the policy's allowed_registries entry "
         "'docker.io/library'"),
        ("alpine", ("index.docker.io",), Verdict.ALLOW,
         "docker.io/library/alpine:latest is allowed by the policy's allowed_registries entry "
         "'index.docker.io'"),
        ("ghcr.io/acme-evil/tool:1", ("docker.io", "ghcr.io/acme"), Verdict.DENY,
         "ghcr.io/acme-evil/tool:1 is not allowed by any of the policy's allowed_registries "
         "(docker.io, ghcr.io/acme); registry ghcr.io is allowed only under ghcr.io/acme"),
        ("bitnami/redis:7", ("docker.io/library", "ghcr.io"), Verdict.DENY,
         "docker.io/bitnami/redis:7 is not allowed by any of the policy's allowed_registries "
         "(docker.io/library, ghcr.io); registry docker.io is allowed only under "
         "docker.io/library"),
        ("quay.io/x/y:1", ("docker.io", "localhost"), Verdict.DENY,
         "quay.io/x/y:1 is not allowed by any of the policy's allowed_registries "
         "(docker.io, localhost)"),
    ],
)
def test_decide_names_admitting_or_missing_entry_when_registries_are_limited(
    image: str, allowed: tuple[str, ...], verdict: Verdict, reason: str
) -> None:
    _, decisions = _decide(_job(image), S, PolicyBundle(allowed_registries=allowed))

    assert (decisions["container.image"].decision, decisions["container.image"].reason) == (
        verdict, reason)


# --- runtime --------------------------------------------------------------------------


def _info(**changes: object) -> RuntimeInfo:
    base = RuntimeInfo(name="podman", version="4.3.1", rootless=True, socket="/s")
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rootless", "require", "verdict", "code"),
    [
        (True, False, Verdict.ALLOW, "runtime.rootless"),
        (True, True, Verdict.ALLOW, "runtime.rootless"),
        (False, False, Verdict.WARN, "runtime.rootful"),
        (False, True, Verdict.DENY, "runtime.rootful"),
    ],
)
def test_runtime_decisions_judge_rootless(
    rootless: bool, require: bool, verdict: Verdict, code: str
) -> None:
    decisions = runtime_decisions(ContainerSettings(), PolicyBundle(require_rootless=require),
                                  _info(rootless=rootless))

    rootless_d = decisions[0]
    assert (rootless_d.subject, rootless_d.decision, rootless_d.code) == (
        "runtime.rootless", verdict, code)


@pytest.mark.parametrize(
    ("enforces", "require", "verdict", "code"),
    [
        (True, False, Verdict.ALLOW, "runtime.limits.enforced"),
        (True, True, Verdict.ALLOW, "runtime.limits.enforced"),
        (False, False, Verdict.WARN, "runtime.limits.unenforced"),
        (False, True, Verdict.DENY, "runtime.limits.unenforced"),
    ],
)
def test_runtime_decisions_judge_limits(
    enforces: bool, require: bool, verdict: Verdict, code: str
) -> None:
    decisions = runtime_decisions(ContainerSettings(), PolicyBundle(require_limits=require),
                                  _info(enforces_limits=enforces))

    limits_d = decisions[1]
    assert (limits_d.subject, limits_d.decision, limits_d.code) == ("runtime.limits", verdict, code)


def test_runtime_decisions_name_unenforced_limits_when_runtime_ignores_them() -> None:
    settings = ContainerSettings(resources=Resources(pids=256, memory_bytes=256 * MI))

    _, limits_d = runtime_decisions(settings, PolicyBundle(), _info(enforces_limits=False))

    assert limits_d.reason.startswith(
        "pids=256, memory=256Mi are not enforced by podman 4.3.1 rootless")


def test_runtime_decisions_allow_when_no_limits_set_and_runtime_ignores_them() -> None:
    settings = ContainerSettings(resources=Resources())

    _, limits_d = runtime_decisions(settings, PolicyBundle(require_limits=True),
                                    _info(enforces_limits=False))

    assert limits_d.decision is Verdict.ALLOW


# --- denials --------------------------------------------------------------------------


def _deny(code: str, subject: str = "x") -> Decision:
    return Decision(subject=subject, decision=Verdict.DENY, code=code, reason=f"because {code}")


ALLOWED = Decision(subject="a", decision=Verdict.ALLOW, code="policy.default", reason="ok")
WARNED = Decision(subject="w", decision=Verdict.WARN, code="runtime.rootful", reason="meh")


def test_raise_for_denials_returns_when_nothing_denied() -> None:
    assert raise_for_denials([ALLOWED, WARNED]) is None


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("image.registry.not.allowed", ImageRegistryNotAllowedError),
        ("policy.override.denied", PolicyOverrideDeniedError),
        ("policy.profile.denied", PolicyProfileDeniedError),
        ("policy.ceiling.exceeded", PolicyCeilingExceededError),
        ("runtime.rootful", RuntimeRootfulError),
        ("runtime.limits.unenforced", RuntimeLimitsUnenforcedError),
        ("something.else", PolicyDeniedError),
    ],
)
def test_raise_for_denials_raises_matching_error_when_first_deny_has_code(
    code: str, error: type[PolicyDeniedError]
) -> None:
    decisions = [ALLOWED, _deny(code, "first"), _deny("policy.override.denied", "second")]

    with pytest.raises(PolicyDeniedError) as err:
        raise_for_denials(decisions)

    assert type(err.value) is error
    assert err.value.code == error.code
    assert "first: because " + code in err.value.detail
    assert "second: because policy.override.denied" in err.value.detail
    assert err.value.context["decisions"] == [d.as_dict() for d in decisions]


def test_raise_for_denials_raises_for_whole_plan_when_secure_job_asks_relaxations() -> None:
    job = _job(network="bridge", rootfs_writable=True)
    _, decisions = decide(job, S, PolicyBundle(), parse_image_ref(job.image))

    with pytest.raises(PolicyOverrideDeniedError) as err:
        raise_for_denials(decisions)

    assert err.value.context["denied"] == ["policy.override.denied", "policy.override.denied"]
