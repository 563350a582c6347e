"""Fuzzing the spec and policy loaders: any document is a job, ``spec.invalid``, a bundle or
``config.invalid``; never another exception (one spec must never take the catalogue down)."""

from __future__ import annotations

import math
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flwd.adapters.yaml_catalog import load_yaml_bytes
from flwd.domain.errors import ConfigInvalidError, SpecInvalidError
from flwd.domain.model import JobSpec, PolicyBundle
from flwd.domain.policy.bundle import parse_policy
from flwd.domain.spec.catalog import load_catalog
from flwd.domain.spec.job import parse_job_spec
from flwd.ports.catalog import JobDocument

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# What YAML can hand the loaders: PyYAML reads integers of up to 4,300 digits.
huge_ints = st.sampled_from([10**400, -(10**400), 2**63, 2**64, -(2**63) - 1, 10**308 * 2, 10**4299])
numbers = (st.integers() | huge_ints | st.integers(min_value=-(10**450), max_value=10**450)
           | st.floats() | st.sampled_from([0, -1, 0.0, -0.0, math.inf, -math.inf, math.nan]))
quantity_texts = st.tuples(
    st.sampled_from(["", "-", "+", " "]),
    st.text("0123456789.e", min_size=0, max_size=450),
    st.sampled_from(["", "m", "Mi", "Gi", "Ki", "k", "Ei", "s", "h", "ms", "m30s", "inf", "nan", "x"]),
).map("".join)
texts = st.text(max_size=20) | quantity_texts | st.sampled_from(
    ["string", "integer", "number", "boolean", "array", "object", "secret", "container",
     "alpine:3.20", "container:alpine:3.20", "permissive", "secure", "disabled", "bridge",
     "NET_ADMIN", "ALL", "(a+)+", "^.*.*=$", "[", "docker.io", "always"])
scalars = st.none() | st.booleans() | numbers | texts
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8) | st.integers() | st.none(), inner, max_size=4),
    max_leaves=12,
)


def mostly(plausible: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """*plausible* three times in four, anything at all otherwise: a field that fails early
    must not keep the fuzzer from the fields checked after it."""
    return st.sampled_from([True, True, True, False]).flatmap(lambda ok: plausible if ok else values)


def maybe(keys: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """A mapping with any subset of *keys*, each value mostly plausible."""
    return st.fixed_dictionaries({}, optional={k: mostly(s) for k, s in keys.items()})


arg_specs = maybe({
    "name": st.sampled_from(["n", "level", "token", "no-loud", "loud", "json"]),
    "type": st.sampled_from(["string", "integer", "number", "boolean", "array", "object"]),
    "required": st.booleans(), "default": scalars, "description": texts,
    "items": st.sampled_from(["string", "integer", "number"]), "items_type": texts,
    "minimum": numbers, "maximum": numbers, "enum": st.lists(scalars, max_size=4),
    "pattern": st.sampled_from(["^[a-z]+$", "(a+)+", "^.*.*=$", "[", "\\d{2,}", ".{0,3}"]),
    "format": st.sampled_from(["secret", "date"]), "secret": st.booleans(),
})
resources = maybe({"cpu": numbers | quantity_texts, "memory": numbers | quantity_texts,
                   "pids": numbers})
container = maybe({
    "network": texts, "rootfs_writable": st.booleans(), "env_inheritance": st.booleans(),
    "capabilities": st.lists(texts, max_size=3), "resources": resources,
    "pull_policy": st.sampled_from(["always", "never", "if-not-present"]),
})
# The fields checked first (executor, image, entry, id) are mostly right, so that most
# documents reach the ones after them: args, timeout, env and container.
focused_specs = st.fixed_dictionaries(
    {"executor": mostly(st.just("container")), "image": mostly(st.just("alpine:3.20"))},
    optional={
        "id": mostly(st.from_regex(r"[a-z]{1,8}(/[a-z]{1,8})?", fullmatch=True)),
        "name": texts, "description": texts,
        "command": mostly(st.lists(st.sampled_from(["echo", "hi", 10]), min_size=1)),
        "args": mostly(st.lists(arg_specs, max_size=3)),
        "security_profile": mostly(st.sampled_from(["secure", "permissive", "disabled"])),
        "timeout": numbers | quantity_texts | values,
        "env": mostly(st.dictionaries(st.from_regex(r"[A-Z]{1,4}", fullmatch=True), scalars, max_size=3)),
        "container": mostly(container),
    },
)
wild_specs = st.dictionaries(
    st.sampled_from(["id", "executor", "image", "interpreter", "script", "command", "args",
                     "argspec", "env", "container", "x"]) | st.text(max_size=5), values, max_size=6)
specs = st.one_of(focused_specs, focused_specs, focused_specs, wild_specs)
policies = maybe({
    "allowed_profiles": st.lists(st.sampled_from(["secure", "permissive", "disabled"]), min_size=1),
    "require_rootless": st.booleans(),
    "require_limits": st.booleans(),
    "allowed_registries": st.lists(st.sampled_from(["docker.io", "ghcr.io/acme", "x y"]), max_size=3),
    "ceilings": resources, "overrides": maybe({
        "network": st.lists(texts, max_size=2),
        "caps": st.lists(st.sampled_from(["NET_ADMIN", "cap_chown", "ALL", "nope"]), max_size=2),
        "rootfs_writable": st.booleans(), "env_inheritance": st.booleans()}),
})


def document(data: Any) -> JobDocument:
    return JobDocument(default_id="fuzzed", spec_path="/jobs/fuzzed/job.yaml",
                       directory="/jobs/fuzzed", data=data, shell_scripts=("main.sh",))


@FUZZ
@given(data=specs)
def test_spec_loader_raises_only_spec_invalid_when_a_spec_is_fuzzed(data: dict[str, Any]) -> None:
    try:
        job = parse_job_spec(document(data))
    except SpecInvalidError as exc:
        assert exc.code == "spec.invalid" and exc.detail.startswith("/jobs/fuzzed/job.yaml: ")
    else:
        assert isinstance(job, JobSpec)


@FUZZ
@given(data=specs)
def test_spec_loader_survives_a_yaml_round_trip_when_a_spec_is_fuzzed(data: dict[str, Any]) -> None:
    """The same documents as YAML text through the catalog's loader: what PyYAML makes of them."""
    try:
        text = yaml.safe_dump(data).encode()
    except (yaml.YAMLError, ValueError):
        return
    try:
        loaded = load_yaml_bytes(text)
    except ValueError:
        return  # the catalog lists such a file as spec.invalid (field yaml)
    catalog = load_catalog([document(loaded)])

    assert len(catalog.jobs) + len(catalog.invalid) == 1
    assert all("cannot be validated" not in job.reason for job in catalog.invalid)


@FUZZ
@given(data=policies | values)
def test_policy_loader_raises_only_config_invalid_when_a_policy_is_fuzzed(data: Any) -> None:
    try:
        bundle = parse_policy(data, source="policy.yaml")
    except ConfigInvalidError as exc:
        assert exc.code == "config.invalid" and exc.detail.startswith("policy.yaml: ")
    else:
        assert isinstance(bundle, PolicyBundle)
