"""Policy bundle parsing."""

from __future__ import annotations

import pytest

from flwd.domain.spec.capabilities import normalise_cap
from flwd.domain.errors import ConfigInvalidError
from flwd.domain.spec.images import parse_image_ref, registry_allowed
from flwd.domain.model import Overrides, PolicyBundle, Profile, Resources
from flwd.domain.policy.bundle import DEFAULT_BUNDLE, parse_policy

FULL = {
    "allowed_profiles": ["secure", "permissive"],
    "require_rootless": False,
    "require_limits": True,
    "allowed_registries": ["docker.io", "GHCR.io", "localhost"],
    "ceilings": {"cpu": "2", "memory": "1Gi", "pids": 512},
    "overrides": {
        "network": ["bridge"],
        "caps": ["NET_BIND_SERVICE", "cap_chown"],
        "rootfs_writable": True,
        "env_inheritance": False,
    },
}


def test_parse_policy_gives_default_bundle_when_no_file() -> None:
    bundle = parse_policy(None)

    assert bundle == PolicyBundle()
    assert bundle.allowed_profiles is None
    assert bundle.allowed_registries == ()
    assert bundle.ceilings == Resources(pids=256)
    assert bundle is DEFAULT_BUNDLE


def test_parse_policy_gives_default_bundle_when_document_is_empty() -> None:
    assert parse_policy({}) == PolicyBundle()


def test_parse_policy_reads_every_field_when_document_is_complete() -> None:
    bundle = parse_policy(FULL)

    assert bundle == PolicyBundle(
        allowed_profiles=frozenset({Profile.SECURE, Profile.PERMISSIVE}),
        require_rootless=False,
        require_limits=True,
        allowed_registries=("docker.io", "ghcr.io", "localhost"),
        ceilings=Resources(cpu_millis=2000, memory_bytes=1024**3, pids=512),
        overrides=Overrides(
            network=("bridge",),
            caps=("NET_BIND_SERVICE", "CHOWN"),
            rootfs_writable=True,
            env_inheritance=False,
        ),
    )


def test_parse_policy_keeps_default_pids_when_ceilings_omit_pids() -> None:
    bundle = parse_policy({"ceilings": {"memory": "512Mi"}})

    assert bundle.ceilings == Resources(memory_bytes=512 * 1024**2, pids=256)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"allowed_profiles": "secure"}, "allowed_profiles"),
        ({"allowed_profiles": ["secure", "paranoid"]}, "allowed_profiles"),
        ({"allowed_profiles": []}, "allowed_profiles"),
        ({"allowed_profiles": [1]}, "allowed_profiles"),
        ({"require_rootless": "yes"}, "require_rootless"),
        ({"require_limits": 1}, "require_limits"),
        ({"allowed_registries": "docker.io"}, "allowed_registries"),
        ({"allowed_registries": [""]}, "allowed_registries"),
        ({"ceilings": ["cpu"]}, "ceilings"),
        ({"ceilings": {"cpu": "lots"}}, "ceilings.cpu"),
        ({"ceilings": {"cpu": -1}}, "ceilings.cpu"),
        ({"ceilings": {"memory": "1Zi"}}, "ceilings.memory"),
        ({"ceilings": {"memory": "-5"}}, "ceilings.memory"),
        ({"ceilings": {"pids": "many"}}, "ceilings.pids"),
        ({"ceilings": {"pids": 0}}, "ceilings.pids"),
        ({"ceilings": {"pids": True}}, "ceilings.pids"),
        ({"ceilings": {"disk": "1G"}}, "ceilings.disk"),
        ({"overrides": "all"}, "overrides"),
        ({"overrides": {"network": "bridge"}}, "overrides.network"),
        ({"overrides": {"caps": [None]}}, "overrides.caps"),
        ({"overrides": {"rootfs_writable": "true"}}, "overrides.rootfs_writable"),
        ({"overrides": {"env_inheritance": 0}}, "overrides.env_inheritance"),
        ({"overrides": {"privileged": True}}, "overrides.privileged"),
        ({"allowed_profile": ["secure"]}, "allowed_profile"),
    ],
)
def test_parse_policy_raises_config_invalid_naming_field_when_value_is_wrong(
    data: dict[str, object], field: str
) -> None:
    with pytest.raises(ConfigInvalidError) as err:
        parse_policy(data, source="/etc/flwd/policy.yaml")

    assert err.value.code == "config.invalid"
    assert err.value.context["field"] == field
    assert err.value.context["file"] == "/etc/flwd/policy.yaml"
    assert field in err.value.detail


@pytest.mark.parametrize(
    ("data", "field"),
    [
        # `allowed_profiles:` with every entry commented out would allow every profile
        ({"allowed_profiles": None}, "allowed_profiles"),
        ({"require_rootless": None}, "require_rootless"),
        ({"require_limits": None}, "require_limits"),
        ({"allowed_registries": None}, "allowed_registries"),
        ({"ceilings": None}, "ceilings"),
        ({"ceilings": {"memory": None}}, "ceilings.memory"),
        ({"overrides": None}, "overrides"),
        ({"verify_signatures": None}, "verify_signatures"),
    ],
)
def test_parse_policy_raises_config_invalid_when_a_key_has_no_value(
    data: dict[str, object], field: str
) -> None:
    with pytest.raises(ConfigInvalidError) as err:
        parse_policy(data, source="/etc/flwd/policy.yaml")

    assert err.value.context["field"] == field
    assert "no value" in err.value.detail


@pytest.mark.parametrize("data", [["secure"], "secure", 3])
def test_parse_policy_raises_config_invalid_when_document_is_not_a_mapping(data: object) -> None:
    with pytest.raises(ConfigInvalidError):
        parse_policy(data)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "expected"),
    [("NET_ADMIN", "NET_ADMIN"), ("cap_net_admin", "NET_ADMIN"), (" chown ", "CHOWN")],
)
def test_normalise_cap_strips_prefix_when_given_any_spelling(name: str, expected: str) -> None:
    assert normalise_cap(name) == expected


@pytest.mark.parametrize(
    ("entry", "image", "admitted"),
    [
        ("ghcr.io/acme", "ghcr.io/acme/tool:1", True),
        ("GHCR.io/Acme", "ghcr.io/acme/team/tool:1", True),
        ("ghcr.io/acme", "ghcr.io/acme-evil/tool:1", False),
        ("docker.io/library", "alpine:3.20", True),
        ("docker.io/library", "bitnami/redis:7", False),
        ("localhost/team", "localhost:5000/team/x", True),
    ],
)
def test_parse_policy_keeps_path_entries_that_admit_only_their_repositories(
    entry: str, image: str, admitted: bool
) -> None:
    bundle = parse_policy({"allowed_registries": ["quay.io", entry]})

    assert bundle.allowed_registries == ("quay.io", entry.lower())
    assert registry_allowed(parse_image_ref(image), bundle.allowed_registries) is admitted


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ("ghcr.io/acme/", "ends with '/'"),
        ("ghcr.io/", "ends with '/'"),
        ("ghcr.io//acme", "empty path segment"),
        ("ghcr.io/acme//team", "empty path segment"),
        (" ghcr.io", "whitespace"),
        ("ghcr.io/acme ", "whitespace"),
        ("ghcr.io/ac me", "whitespace"),
        ("ghcr.io/acme/tool:v1", "names a tag"),
        ("alpine:3.20", "bad registry host"),
        ("ghcr.io/acme/tool@sha256:" + "a" * 64, "names a digest"),
        ("https://ghcr.io", "bad registry host"),
        ("library/alpine", "docker.io/library/alpine"),
    ],
)
def test_parse_policy_raises_config_invalid_naming_allowed_registries_when_entry_is_malformed(
    entry: str, fragment: str
) -> None:
    with pytest.raises(ConfigInvalidError) as err:
        parse_policy({"allowed_registries": ["docker.io", entry]}, source="policy.yaml")

    assert err.value.code == "config.invalid"
    assert err.value.context == {"file": "policy.yaml", "field": "allowed_registries"}
    assert err.value.detail.startswith(f"policy.yaml: allowed_registries: {entry!r} ")
    assert fragment in err.value.detail


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("NET_BIND_SERVICES",
         "'NET_BIND_SERVICES' is not a Linux capability name; did you mean 'NET_BIND_SERVICE'?"),
        ("cap_net_admn",
         "'cap_net_admn' is not a Linux capability name; did you mean 'CAP_NET_ADMIN'?"),
        ("sys_admn", "'sys_admn' is not a Linux capability name; did you mean 'SYS_ADMIN'?"),
        ("CAP_ALL", "'CAP_ALL' is not a capability name; write ALL (without CAP_)"),
        ("FROBNICATE",
         "'FROBNICATE' is not a Linux capability name; see capabilities(7) for the names"),
    ],
)
def test_parse_policy_raises_config_invalid_naming_overrides_caps_when_cap_is_unknown(
    name: str, message: str
) -> None:
    with pytest.raises(ConfigInvalidError) as err:
        parse_policy({"overrides": {"caps": ["CHOWN", name]}}, source="policy.yaml")

    assert err.value.code == "config.invalid"
    assert err.value.context == {"file": "policy.yaml", "field": "overrides.caps"}
    assert err.value.detail == f"policy.yaml: overrides.caps: {message}"
