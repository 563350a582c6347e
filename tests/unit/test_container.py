"""The composition root: every provider resolves from a sample config, fakes swap in."""

from __future__ import annotations

from pathlib import Path

import pytest

from flwd.adapters.fake_addons import FakeAddonImages
from dependency_injector import providers

from flwd.adapters.docker_runtime import DockerRuntime
from flwd.adapters.fake_runtime import FakeRuntime
from flwd.adapters.fakes import FakeClock, FakeRunStore
from flwd.adapters.podman_runtime import PodmanRuntime
from flwd.adapters.runtime_detect import RuntimeEndpoint
from flwd.adapters.sqlite_store import SqliteRunStore
from flwd.domain.errors import ConfigInvalidError
from flwd.domain.model import Profile
from flwd.entrypoints.config import CliOverrides, FlwdConfig, load_config
from flwd.entrypoints.tokens import token_digest
from flwd.entrypoints.container import Container, build_container
from flwd.ports.kinds import RuntimeKind, StoreKind
from tests.unit.worker_support import identity


def test_every_provider_resolves_when_runtime_is_faked(tmp_path: Path) -> None:
    container = build_container(FlwdConfig(jobs_dirs=(str(tmp_path),), data_dir=str(tmp_path / "d")))
    container.runtime_found.override(providers.Object(
        RuntimeEndpoint(kind=RuntimeKind.PODMAN, url="unix:///nonexistent.sock")))
    container.runtime.override(providers.Object(FakeRuntime()))
    container.addon_images.override(providers.Object(FakeAddonImages()))

    resolved = {name: provider() for name, provider in container.providers.items()
                if name not in ("config",)}

    assert isinstance(resolved["store"], SqliteRunStore)
    assert isinstance(resolved["runtime"], FakeRuntime)
    assert resolved["settings"].cancel_grace == 10.0


@pytest.mark.parametrize(("kind", "adapter"), [(RuntimeKind.PODMAN, PodmanRuntime),
                                               (RuntimeKind.DOCKER, DockerRuntime)])
def test_every_provider_resolves_with_the_adapter_of_the_kind_found(
        tmp_path: Path, kind: RuntimeKind, adapter: type) -> None:
    """Adapters connect on first use: each kind's adapter is built here without any I/O."""
    container = build_container(FlwdConfig(jobs_dirs=(str(tmp_path),), data_dir=str(tmp_path / "d")))
    container.runtime_found.override(providers.Object(
        RuntimeEndpoint(kind=kind, url="unix:///nonexistent.sock")))

    resolved = {name: provider() for name, provider in container.providers.items()
                if name not in ("config",)}
    container.shutdown_resources()

    assert type(resolved["runtime"]) is adapter
    assert resolved["runtime"].url == "unix:///nonexistent.sock"


def test_root_overrides_reach_the_helper_factories_providers_when_a_worker_starts(
        tmp_path: Path) -> None:
    """container_cluster declares worker liveness from the root's store and runtime: a fake
    set on the root is what its hooks use, never an adapter of their own."""
    container = build_container(FlwdConfig(jobs_dirs=(str(tmp_path),), data_dir=str(tmp_path / "d")))
    store = FakeRunStore()
    container.store.override(providers.Object(store))
    container.runtime_found.override(providers.Object(
        RuntimeEndpoint(kind=RuntimeKind.PODMAN, url="unix:///nonexistent.sock")))
    container.runtime.override(providers.Object(FakeRuntime()))
    container.clock.override(providers.Object(FakeClock("2026-01-01T00:00:00.000Z")))
    (hook,) = container.worker_hooks()

    hook.started(identity("w:1"), lambda: ())
    beats = [beat.worker_id for beat in store.workers()]
    listed = [status.beat.worker_id for status in container.list_workers().live()]
    hook.stopped(identity("w:1"))

    assert beats == listed == ["w:1"]
    assert store.workers() == [] and not (tmp_path / "d").exists()


def test_every_kind_has_one_selector_line_when_the_container_is_declared() -> None:
    """A kind added to ports.kinds without its adapter line would fail at the first run."""
    runtime = Container.runtime
    store = Container.store
    assert isinstance(runtime, providers.Selector) and isinstance(store, providers.Selector)

    assert set(runtime.providers) == {k.value for k in RuntimeKind if k is not RuntimeKind.AUTO}
    assert set(store.providers) == {k.value for k in StoreKind}


def test_profile_override_becomes_configured_profile(tmp_path: Path) -> None:
    container = build_container(FlwdConfig(data_dir=str(tmp_path)), profile_override="permissive")

    assert container.settings().configured_profile == "permissive"


def test_config_file_env_and_flags_apply_in_order(tmp_path: Path) -> None:
    (tmp_path / "flwd.yaml").write_text(
        "jobs_dir: jobs\nruntime: docker\nsecurity: {default_profile: permissive}\n"
        "cancel_grace: 3s\nmax_concurrent_runs: 2\n"
        f"auth: {{tokens: [{{name: ci, sha256: {token_digest('t1')}, scopes: [runs:read]}}]}}\n")
    env = {"FLWD_RUNTIME": "podman", "FLWD_PROFILE": "secure", "FLWD_TOKENS": "t2=runs:admin"}

    config = load_config(CliOverrides(config=str(tmp_path / "flwd.yaml"), runtime="auto"), env)

    assert config.jobs_dirs == (str(tmp_path / "jobs"),)
    assert (config.runtime, config.default_profile, config.env_profile) == ("auto", "permissive", "secure")
    assert (config.cancel_grace, config.max_concurrent_runs) == (3.0, 2)
    assert [(t.name, sorted(t.scopes)) for t in config.tokens] == [("ci", ["runs:read"]),
                                                                   ("env0", ["runs:admin"])]
    assert config.tokens[1].digest == token_digest("t2")


@pytest.mark.parametrize(("entry", "token", "scopes"), [
    ("t2", "t2", ["jobs:read", "runs:read", "runs:write"]),
    ("t2=runs:admin,jobs:read", "t2", ["jobs:read", "runs:admin"]),
    ("YWJjZA==", "YWJjZA==", ["jobs:read", "runs:read", "runs:write"]),  # base64 padding kept
    ("YWJjZGU==runs:read", "YWJjZGU=", ["runs:read"]),
    ("t3=sources:write,jobs:read", "t3", ["jobs:read", "sources:write"]),  # SPEC section 8's fifth scope
])
def test_env_tokens_keep_base64_padding_when_scopes_follow_the_last_equals(
        entry: str, token: str, scopes: list[str]) -> None:
    config = load_config(CliOverrides(), {"FLWD_TOKENS": entry, "HOME": "/nonexistent"})

    assert [(t.digest, sorted(t.scopes)) for t in config.tokens] == [(token_digest(token), scopes)]


def test_env_tokens_refuse_an_unknown_scope_when_one_is_given() -> None:
    with pytest.raises(ConfigInvalidError, match="unknown scope"):
        load_config(CliOverrides(), {"FLWD_TOKENS": "t=runs:reed", "HOME": "/nonexistent"})


@pytest.mark.parametrize("entries", [
    "s3cr3tTok=wr1te",            # one scope-less word: was the whole token, default scopes
    "s3cr3tTok=runs:read,wr1te",  # one known scope, one not
    "good-token;s3cr3tTok=wr1te",
    "s3cr3tTok=runs:wr1te",
])
def test_env_tokens_are_config_invalid_naming_the_entry_when_scopes_are_unknown(entries: str) -> None:
    with pytest.raises(ConfigInvalidError) as err:
        load_config(CliOverrides(), {"FLWD_TOKENS": entries, "HOME": "/nonexistent"})

    position = len(entries.split(";"))
    assert f"entry {position} of {position}" in err.value.detail
    assert "s3cr3tTok" not in err.value.detail and "wr1te" not in err.value.detail


def test_env_tokens_are_config_invalid_when_the_token_before_the_scopes_is_empty() -> None:
    with pytest.raises(ConfigInvalidError, match="entry 1 of 1: the token before '=' is empty"):
        load_config(CliOverrides(), {"FLWD_TOKENS": "=runs:admin", "HOME": "/nonexistent"})


@pytest.mark.parametrize("scopes", ["[read]", "[runs:read, wr1te]", "runs:read", "[runs:read, 5]"])
def test_file_tokens_are_config_invalid_naming_the_entry_when_scopes_are_unknown(
        tmp_path: Path, scopes: str) -> None:
    (tmp_path / "flwd.yaml").write_text(
        f"auth: {{tokens: [{{name: ci, sha256: {token_digest('t1')}, scopes: {scopes}}}]}}\n")

    with pytest.raises(ConfigInvalidError) as err:
        load_config(CliOverrides(config=str(tmp_path / "flwd.yaml")), {})

    assert "auth.tokens[0] ('ci')" in err.value.detail
    assert err.value.context["field"] == "auth.tokens[0].scopes"


@pytest.mark.parametrize("text", [
    "runtime: kubernetes\n",
    "cancel_grace: soon\n",
    "max_concurrent_runs: 0\n",
    "auth: {tokens: [{sha256: nothex}]}\n",
    "auth: {tokens: [{sha256: " + "a" * 64 + ", scopes: [root]}]}\n",
    "- a list\n",
    "security: [secure]\n",
    "policy_fil: /etc/flwd/policy.yaml\n",
    "security: {default_profle: disabled}\n",
    "runtime: docker\nruntime: podman\n",
    "security: []\n",
    "server: false\n",
    "jobs_dir: []\n",
    "auth: {tokens: [{sha256: " + "a" * 64 + ", scope: [jobs:read]}]}\n",
])
def test_bad_config_is_config_invalid(tmp_path: Path, text: str) -> None:
    (tmp_path / "flwd.yaml").write_text(text)

    with pytest.raises(ConfigInvalidError):
        load_config(CliOverrides(config=str(tmp_path / "flwd.yaml")), {})


def test_jobs_dirs_expand_home_when_given_by_flag_or_variable(tmp_path: Path) -> None:
    """``--jobs-dir=~/jobs`` reaches flwd unexpanded (the shell expands ~ only at a word's start)."""
    env = {"HOME": str(tmp_path), "FLWD_JOBS_DIR": "~/a"}

    from_env = load_config(CliOverrides(), env)
    from_flag = load_config(CliOverrides(jobs_dirs=("~/b",)), env)

    assert from_env.jobs_dirs == (str(tmp_path / "a"),)
    assert from_flag.jobs_dirs == (str(tmp_path / "b"),)


def test_policy_file_is_config_invalid_when_a_key_is_given_twice(tmp_path: Path) -> None:
    """PyYAML keeps the last of two equal keys: a second allowed_profiles would silently win."""
    policy = tmp_path / "policy.yaml"
    policy.write_text("allowed_profiles: [secure]\nallowed_profiles: [disabled]\n")
    container = build_container(FlwdConfig(data_dir=str(tmp_path), policy_file=str(policy)))

    with pytest.raises(ConfigInvalidError) as err:
        container.settings()

    assert "duplicate key 'allowed_profiles'" in err.value.detail


@pytest.mark.parametrize("text", ["", "\n", "# allowed_profiles: [secure]\n", "---\n"])
def test_policy_file_is_config_invalid_when_it_holds_no_document(tmp_path: Path, text: str) -> None:
    """A configured policy file that is empty (truncated, all commented out) must not turn
    into the default bundle, which allows every profile and every registry."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(text)
    container = build_container(FlwdConfig(data_dir=str(tmp_path), policy_file=str(policy)))

    with pytest.raises(ConfigInvalidError) as err:
        container.settings()

    assert "empty" in err.value.detail and str(policy) in err.value.detail


def test_policy_file_gives_the_default_bundle_when_it_is_an_empty_mapping(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("{}\n")
    container = build_container(FlwdConfig(data_dir=str(tmp_path), policy_file=str(policy)))

    assert container.settings().bundle.allowed_profiles is None


def test_policy_file_is_loaded_into_settings(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("allowed_profiles: [secure]\nrequire_rootless: true\n")
    container = build_container(FlwdConfig(data_dir=str(tmp_path), policy_file=str(policy)))

    bundle = container.settings().bundle

    assert bundle.require_rootless and bundle.allowed_profiles == frozenset({Profile.SECURE})


def test_container_is_the_declarative_class() -> None:
    assert issubclass(Container, object) and "runtime" in Container.providers


def test_inherited_env_leaves_out_the_ulc_names_when_env_inheritance_is_granted() -> None:
    """A host ARG_NAME would pass for an argument the caller never gave (an optional one with
    no default has no variable), and FLWD_* holds flwd's own credentials."""
    from flwd.entrypoints.container import inheritable_env

    host = {"ARG_NAME": "host", "arg_admin": "true", "FLWD_TOKENS": "t=runs:admin", "LANG": "C"}

    assert inheritable_env(host) == {"LANG": "C"}


@pytest.mark.parametrize("mode", [0o666, 0o646])
def test_policy_file_is_config_invalid_when_every_user_may_write_it(tmp_path: Path, mode: int) -> None:
    """Any local user could then give themselves the disabled profile."""
    policy = tmp_path / "policy.yaml"
    policy.write_text("allowed_profiles: [secure]\n")
    policy.chmod(mode)
    container = build_container(FlwdConfig(data_dir=str(tmp_path), policy_file=str(policy)))

    with pytest.raises(ConfigInvalidError) as err:
        container.settings()

    assert "writable by every user" in err.value.detail and str(policy) in err.value.detail


def test_policy_file_is_config_invalid_when_its_directory_lets_anyone_replace_it(
        tmp_path: Path) -> None:
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    open_dir.chmod(0o777)
    policy = open_dir / "policy.yaml"
    policy.write_text("allowed_profiles: [secure]\n")
    container = build_container(FlwdConfig(data_dir=str(tmp_path), policy_file=str(policy)))

    with pytest.raises(ConfigInvalidError) as err:
        container.settings()
    open_dir.chmod(0o1777)  # sticky, as /tmp: only its owner may replace the file

    assert "writable by every user" in err.value.detail and str(open_dir) in err.value.detail
    assert build_container(FlwdConfig(data_dir=str(tmp_path), policy_file=str(policy))
                           ).settings().bundle.allowed_profiles == frozenset({Profile.SECURE})
