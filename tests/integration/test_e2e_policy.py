"""SPEC section 4 end to end: denials stop a run before any container exists; a policy bundle
can allow a relaxation under `permissive`, and the container really gets it."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.integration.e2e_support import (  # noqa: F401 - fixtures
    Result,
    Runtime,
    Sandbox,
    parse_facts,
    rt,
    sandbox,
)

NETS = 'for n in /sys/class/net/*; do echo "net=${n##*/}"; done\n'


@pytest.fixture(scope="module")
def bridge_job(sandbox: Sandbox) -> str:
    return sandbox.write_job("bridge", """\
        executor: container
        image: alpine:3.20
        script: main.sh
        container: {network: bridge}
        """, {"main.sh": NETS})


def policy(sandbox: Sandbox, name: str, text: str) -> dict[str, str]:
    path = sandbox.base / f"{name}.yaml"
    path.write_text(text)
    return {"FLWD_POLICY_FILE": str(path)}


def assert_denied_before_any_container(rt: Runtime, result: Result, code: str, since: float) -> None:
    events = result.events()
    types = [e["type"] for e in events]
    run_id = events[0]["run_id"]

    assert result.code == 125, result.describe()
    assert f"error[{code}]" in result.err
    assert types[0] == "run.created" and types[-1] == "run.finished"
    assert events[-1]["data"]["status"] == "error" and events[-1]["data"]["code"] == code
    assert "run.started" not in types
    assert [e for e in events if e["type"] == "policy.decision"
            and e["data"]["decision"] == "deny" and e["data"]["code"] == code]
    assert rt.containers(run_id) == []
    assert rt.created_since(run_id, since) == [], "a container was created for a denied run"


def test_network_relaxation_is_denied_before_any_container_when_secure(
    rt: Runtime, sandbox: Sandbox, bridge_job: str
) -> None:
    since = time.time()

    result = sandbox.flwd(bridge_job, "--json")

    assert_denied_before_any_container(rt, result, "policy.override.denied", since)
    assert "image.pull" not in [e["type"] for e in result.events()]


def test_network_relaxation_runs_with_an_interface_when_permissive_bundle_lists_it(
    rt: Runtime, sandbox: Sandbox, bridge_job: str
) -> None:
    env = policy(sandbox, "bridge-ok", "overrides: {network: [bridge]}\n")
    since = time.time()

    result = sandbox.flwd(bridge_job, "--profile", "permissive", "--json", env=env)
    events = result.events()
    lines = [e["data"]["line"] for e in events if e["type"] == "run.output"]
    network = [e["data"] for e in events if e["type"] == "policy.decision"
               and e["data"]["subject"] == "container.network"]

    assert result.code == 0, result.describe()
    assert [(d["decision"], d["code"]) for d in network] == [("allow", "policy.override.allowed")]
    interfaces = parse_facts("\n".join(lines))["net"]
    assert "lo" in interfaces and len(interfaces) >= 2, interfaces
    assert rt.logged_created(events[0]["run_id"], since), "the runtime logged no container"


def test_relaxation_is_denied_when_permissive_bundle_does_not_list_it(
    rt: Runtime, sandbox: Sandbox, bridge_job: str
) -> None:
    env = policy(sandbox, "caps-only", "overrides: {caps: [NET_BIND_SERVICE]}\n")
    since = time.time()

    result = sandbox.flwd(bridge_job, "--profile", "permissive", "--json", env=env)

    assert_denied_before_any_container(rt, result, "policy.override.denied", since)


def test_image_is_denied_when_registry_is_not_allowed(rt: Runtime, sandbox: Sandbox) -> None:
    sandbox.write_job("elsewhere", """\
        executor: container
        image: alpine:3.20
        command: ["/bin/true"]
        """)
    env = policy(sandbox, "ghcr-only", "allowed_registries: [ghcr.io]\n")
    since = time.time()

    result = sandbox.flwd("elsewhere", "--json", env=env)

    assert_denied_before_any_container(rt, result, "image.registry.not.allowed", since)
    assert "docker.io" in result.err


def test_profile_is_denied_when_bundle_does_not_allow_it(rt: Runtime, sandbox: Sandbox) -> None:
    sandbox.write_job("plain", """\
        executor: container
        image: alpine:3.20
        command: ["/bin/true"]
        """)
    env = policy(sandbox, "no-disabled", "allowed_profiles: [secure, permissive]\n")
    since = time.time()

    result = sandbox.flwd("plain", "--profile", "disabled", "--json", env=env)

    assert_denied_before_any_container(rt, result, "policy.profile.denied", since)


def test_runtime_weakness_is_denied_when_bundle_requires_it(rt: Runtime, sandbox: Sandbox) -> None:
    """Rootless Podman here cannot enforce limits; this Docker daemon is rootful."""
    sandbox.write_job("strict", """\
        executor: container
        image: alpine:3.20
        command: ["/bin/true"]
        """)
    rule, code = (("require_limits: true", "runtime.limits.unenforced") if rt.name == "podman"
                  else ("require_rootless: true", "runtime.rootful"))
    env = policy(sandbox, "strict", rule + "\n")
    since = time.time()

    result = sandbox.flwd("strict", "--json", env=env)

    assert_denied_before_any_container(rt, result, code, since)


def test_denied_runs_are_recorded_with_their_code_when_listed(sandbox: Sandbox) -> None:
    runs: list[dict[str, Any]] = sandbox.runs()
    codes = {r["code"] for r in runs if r["status"] == "error"}

    assert {"policy.override.denied", "image.registry.not.allowed"} <= codes
    denied = {r["run_id"] for r in runs if r["status"] == "error"}
    assert not [p.name for p in (sandbox.data / "runs").glob("*") if p.name in denied]
