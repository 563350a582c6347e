"""Configuration: flwd.yaml looked up per SPEC section 9, FLWD_* variables and flags on top."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from flwd.domain.errors import ConfigInvalidError
from flwd.domain.spec.quantity import parse_duration
from flwd.ports.kinds import RuntimeKind, StoreKind, one_of
from flwd.ports.sealing import SecretKey
from flwd.entrypoints.config_paths import config_candidates
from flwd.entrypoints.tokens import TokenGrant, env_tokens, file_tokens

_MAX_CONFIG_BYTES = 1 << 20


@dataclass(frozen=True, slots=True, kw_only=True)
class FlwdConfig:
    """The effective configuration: defaults, then the file, FLWD_* variables and CLI flags."""

    jobs_dirs: tuple[str, ...] = ("./jobs",)
    data_dir: str = "~/.local/share/flwd"
    runtime: RuntimeKind = RuntimeKind.AUTO
    store: StoreKind = StoreKind.SQLITE  # POSTGRESQL when store_url is given
    store_url: str | None = field(default=None, repr=False)  # may carry a password
    queue_url: str | None = field(default=None, repr=False)  # Celery's broker; cluster mode
    default_profile: str | None = None
    env_profile: str | None = None
    policy_file: str | None = None
    cancel_grace: float = 10.0
    max_concurrent_runs: int = 4
    server_bind: str = "127.0.0.1:8080"
    tokens: tuple[TokenGrant, ...] = ()
    server_url: str | None = None
    token: str | None = field(default=None, repr=False)
    config_file: str | None = None
    secret_key_file: str | None = None  # the file's setting; FLWD_SECRET_KEY[_FILE] win
    secret_key: SecretKey | None = None  # reprs its source only, never its text
    # `sources:` (SPEC section 10): (name, ref, trusted, pull_policy, type) per declared source
    sources: tuple[tuple[str, str, bool, str, str], ...] = ()
    # cluster mode's worker liveness (SPEC section 11)
    heartbeat_interval: float = 5.0
    worker_timeout: float = 30.0

    @property
    def cluster(self) -> bool:
        """Cluster mode (SPEC section 11): a shared store and a queue."""
        return self.store_url is not None and self.queue_url is not None

    @property
    def data_path(self) -> Path:
        return Path(os.path.expanduser(self.data_dir))


@dataclass(frozen=True, slots=True, kw_only=True)
class CliOverrides:
    """Global CLI options; ``None`` means not given."""

    config: str | None = None
    jobs_dirs: tuple[str, ...] = ()
    data_dir: str | None = None
    runtime: str | None = None
    server: str | None = None
    token: str | None = field(default=None, repr=False)


def load_config(overrides: CliOverrides, env: Mapping[str, str]) -> FlwdConfig:
    """File (first found), then FLWD_* variables, then CLI flags. Raises ConfigInvalidError."""
    path = _find_config_file(overrides.config, env)
    config = FlwdConfig()
    if path is not None:
        config = _apply_file(config, _read_mapping(path), path)
    config = _apply_env(config, env)
    config = _apply_flags(config, overrides, env)
    if config.queue_url and not config.store_url:
        raise ConfigInvalidError("queue_url needs store_url: workers read the runs they take "
                                 "from the shared PostgreSQL store", field="queue_url")
    _check_liveness(config)
    if config.secret_key_file or env.get("FLWD_SECRET_KEY") or env.get("FLWD_SECRET_KEY_FILE"):
        from flwd.entrypoints.secret_key import resolve_secret_key  # cluster mode only

        config = replace(config, secret_key=resolve_secret_key(config.secret_key_file, env))
    return config


def _find_config_file(explicit: str | None, env: Mapping[str, str]) -> Path | None:
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigInvalidError(f"config file {explicit} does not exist", file=explicit)
        return path
    for name in config_candidates(env):
        if (candidate := Path(name)).is_file():
            return candidate
    return None


def read_yaml_mapping(path: Path, what: str = "config") -> dict[str, Any]:
    """A YAML file's top-level mapping (empty file: {}); anything else is config.invalid."""
    from flwd.adapters.yaml_catalog import load_yaml_bytes  # the spec loader: duplicate keys refused

    try:
        if path.stat().st_size > _MAX_CONFIG_BYTES:
            raise ConfigInvalidError(f"{path}: {what} file is larger than 1 MiB", file=str(path))
        data = load_yaml_bytes(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigInvalidError(f"{path}: cannot read {what}: {exc}", file=str(path)) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigInvalidError(f"{path}: {what} must be a mapping", file=str(path))
    return data


def _read_mapping(path: Path) -> dict[str, Any]:
    return read_yaml_mapping(path)


_KNOWN_KEYS: dict[str, frozenset[str] | None] = {
    "jobs_dir": None, "data_dir": None, "runtime": None, "policy_file": None,
    "cancel_grace": None, "max_concurrent_runs": None, "store_url": None, "queue_url": None,
    "secret_key_file": None, "sources": None, "heartbeat_interval": None,
    "worker_timeout": None,
    "security": frozenset({"default_profile"}), "server": frozenset({"bind"}),
    "auth": frozenset({"tokens"}),
}


def _check_keys(data: Mapping[str, Any], where: str) -> None:
    """A misspelt key (``policy_fil``) would silently drop a setting, a security policy
    included: every key must be known."""
    for key, value in data.items():
        if key not in _KNOWN_KEYS:
            raise ConfigInvalidError(
                f"{where}: unknown key {key!r} (known: {', '.join(sorted(_KNOWN_KEYS))})", field=key)
        known = _KNOWN_KEYS[key]
        if known is not None and isinstance(value, dict):
            for sub in value:
                if sub not in known:
                    raise ConfigInvalidError(
                        f"{where}: unknown key {key}.{sub} (known: {', '.join(sorted(known))})",
                        field=f"{key}.{sub}")


def _apply_file(config: FlwdConfig, data: Mapping[str, Any], path: Path) -> FlwdConfig:
    base = path.resolve().parent
    where = str(path)
    _check_keys(data, where)

    def rel(value: object, key: str) -> str:
        text = _string(value, key, where)
        expanded = Path(os.path.expanduser(text))
        return str(expanded if expanded.is_absolute() else base / expanded)

    changes: dict[str, Any] = {"config_file": where}
    if "jobs_dir" in data:
        raw = data["jobs_dir"]
        items = raw if isinstance(raw, list) else [raw]
        if not items:
            raise ConfigInvalidError(f"{where}: jobs_dir must name at least one directory", field="jobs_dir")
        changes["jobs_dirs"] = tuple(rel(item, "jobs_dir") for item in items)
    if "data_dir" in data:
        changes["data_dir"] = rel(data["data_dir"], "data_dir")
    if "runtime" in data:
        changes["runtime"] = _runtime(data["runtime"], where)
    if "policy_file" in data:
        changes["policy_file"] = rel(data["policy_file"], "policy_file")
    if "cancel_grace" in data:
        changes["cancel_grace"] = _duration(data["cancel_grace"], "cancel_grace", where)
    if "max_concurrent_runs" in data:
        changes["max_concurrent_runs"] = _positive_int(data["max_concurrent_runs"], "max_concurrent_runs", where)
    if "store_url" in data:
        changes.update(_store(data["store_url"], where))
    if "queue_url" in data:
        changes["queue_url"] = _queue(data["queue_url"], where)
    if "secret_key_file" in data:
        changes["secret_key_file"] = rel(data["secret_key_file"], "secret_key_file")
    if "sources" in data:
        changes["sources"] = _sources(data["sources"], where)
    for key in _LIVENESS_KEYS:
        if key in data:
            changes[key] = _duration(data[key], key, where)
    security = _section(data, "security", where)
    if "default_profile" in security:
        changes["default_profile"] = _string(security["default_profile"], "security.default_profile", where)
    server = _section(data, "server", where)
    if "bind" in server:
        changes["server_bind"] = _string(server["bind"], "server.bind", where)
    auth = _section(data, "auth", where)
    if "tokens" in auth:
        changes["tokens"] = file_tokens(auth["tokens"], where)
    return replace(config, **changes)


def _apply_env(config: FlwdConfig, env: Mapping[str, str]) -> FlwdConfig:
    changes: dict[str, Any] = {}
    if env.get("FLWD_JOBS_DIR"):
        changes["jobs_dirs"] = tuple(_home(p, env) for p in env["FLWD_JOBS_DIR"].split(os.pathsep) if p)
    if env.get("FLWD_DATA_DIR"):
        changes["data_dir"] = env["FLWD_DATA_DIR"]
    if env.get("FLWD_RUNTIME"):
        changes["runtime"] = _runtime(env["FLWD_RUNTIME"], "FLWD_RUNTIME")
    if env.get("FLWD_PROFILE"):
        changes["env_profile"] = env["FLWD_PROFILE"]
    if env.get("FLWD_POLICY_FILE"):
        changes["policy_file"] = env["FLWD_POLICY_FILE"]
    if env.get("FLWD_CANCEL_GRACE"):
        changes["cancel_grace"] = _duration(env["FLWD_CANCEL_GRACE"], "cancel_grace", "FLWD_CANCEL_GRACE")
    if env.get("FLWD_MAX_CONCURRENT_RUNS"):
        changes["max_concurrent_runs"] = _positive_int(
            env["FLWD_MAX_CONCURRENT_RUNS"], "max_concurrent_runs", "FLWD_MAX_CONCURRENT_RUNS")
    if env.get("FLWD_STORE_URL"):
        changes.update(_store(env["FLWD_STORE_URL"], "FLWD_STORE_URL"))
    for key in _LIVENESS_KEYS:
        variable = f"FLWD_{key.upper()}"
        if env.get(variable):
            changes[key] = _duration(env[variable], key, variable)
    if env.get("FLWD_QUEUE_URL"):
        changes["queue_url"] = _queue(env["FLWD_QUEUE_URL"], "FLWD_QUEUE_URL")
    if env.get("FLWD_BIND"):
        changes["server_bind"] = env["FLWD_BIND"]
    if env.get("FLWD_TOKENS"):
        changes["tokens"] = config.tokens + env_tokens(env["FLWD_TOKENS"])
    if env.get("FLWD_SERVER"):
        changes["server_url"] = env["FLWD_SERVER"]
    if env.get("FLWD_TOKEN"):
        changes["token"] = env["FLWD_TOKEN"]
    return replace(config, **changes)


def _home(path: str, env: Mapping[str, str]) -> str:
    """``~/jobs`` -> ``$HOME/jobs``: ``--jobs-dir=~/jobs`` reaches flwd unexpanded by the shell."""
    if path != "~" and not path.startswith("~/"):
        return path
    home = env.get("HOME") or os.path.expanduser("~")
    return home + path[1:]


def _apply_flags(config: FlwdConfig, flags: CliOverrides, env: Mapping[str, str]) -> FlwdConfig:
    changes: dict[str, Any] = {}
    if flags.jobs_dirs:
        changes["jobs_dirs"] = tuple(_home(p, env) for p in flags.jobs_dirs)
    if flags.data_dir:
        changes["data_dir"] = flags.data_dir
    if flags.runtime:
        changes["runtime"] = _runtime(flags.runtime, "--runtime")
    if flags.server:
        changes["server_url"] = flags.server
    if flags.token:
        changes["token"] = flags.token
    return replace(config, **changes)


_SOURCE_KEYS = ("name", "type", "ref", "trusted", "pull_policy")


def _sources(raw: object, where: str) -> tuple[tuple[str, str, bool, str, str], ...]:
    """``sources: [{name, type: oci, ref, trusted, pull_policy}]``; the rules of a source
    request (name, trust, registry) are checked when it is added, as for the CLI and API."""
    if not isinstance(raw, list):
        raise ConfigInvalidError(f"{where}: sources must be a list of mappings", field="sources")
    declared: list[tuple[str, str, bool, str, str]] = []
    for index, entry in enumerate(raw):
        at = f"sources[{index}]"
        if not isinstance(entry, dict):
            raise ConfigInvalidError(f"{where}: {at} must be a mapping with name and ref", field=at)
        unknown = sorted(str(k) for k in entry if k not in _SOURCE_KEYS)
        if unknown:
            raise ConfigInvalidError(f"{where}: {at}: unknown key {unknown[0]!r} (known: "
                                     f"{', '.join(_SOURCE_KEYS)})", field=f"{at}.{unknown[0]}")
        trusted = entry.get("trusted", False)
        if not isinstance(trusted, bool):
            raise ConfigInvalidError(f"{where}: {at}.trusted must be true or false",
                                     field=f"{at}.trusted")
        declared.append((_string(entry.get("name"), f"{at}.name", where),
                         _string(entry.get("ref"), f"{at}.ref", where), trusted,
                         _string(entry.get("pull_policy", "on-add"), f"{at}.pull_policy", where),
                         _string(entry.get("type", "oci"), f"{at}.type", where)))
    names = [d[0] for d in declared]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise ConfigInvalidError(f"{where}: sources: the name {duplicate!r} is declared twice",
                                 field="sources")
    return tuple(declared)


_LIVENESS_KEYS = ("heartbeat_interval", "worker_timeout")


def _check_liveness(config: FlwdConfig) -> None:
    """A worker must be able to heartbeat at least once within worker_timeout, or every run
    would be declared lost between two heartbeats."""
    if config.worker_timeout <= config.heartbeat_interval:
        raise ConfigInvalidError(
            f"worker_timeout ({config.worker_timeout:g}s) must be longer than "
            f"heartbeat_interval ({config.heartbeat_interval:g}s)", field="worker_timeout")


def _section(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigInvalidError(f"{where}: {key} must be a mapping", field=key)
    return value


def _string(value: object, key: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigInvalidError(f"{where}: {key} must be a non-empty string", field=key)
    return value.strip()


def _runtime(value: object, where: str) -> RuntimeKind:
    if isinstance(value, str) and value in tuple(RuntimeKind):
        return RuntimeKind(value)
    raise ConfigInvalidError(
        f"{where}: runtime must be one of {one_of(RuntimeKind)}, not {value!r}", field="runtime")


def _store(value: object, where: str) -> dict[str, Any]:
    """``store_url``: a ``postgresql://`` URL selects the PostgreSQL store (SPEC section 11)."""
    from flwd.adapters.pg_url import StoreUrlError, check_store_url  # no urllib for the rest

    text = _string(value, "store_url", where)
    try:
        return {"store": StoreKind.POSTGRESQL, "store_url": check_store_url(text)}
    except StoreUrlError as exc:
        raise ConfigInvalidError(f"{where}: {exc}", field="store_url") from None


def _queue(value: object, where: str) -> str:
    """``queue_url``: Celery's broker, ``redis://`` or ``amqp://`` (SPEC section 11)."""
    from flwd.adapters.queue_url import QueueUrlError, check_queue_url

    try:
        return check_queue_url(_string(value, "queue_url", where))
    except QueueUrlError as exc:
        raise ConfigInvalidError(f"{where}: {exc}", field="queue_url") from None


def _duration(value: object, key: str, where: str) -> float:
    try:
        return parse_duration(value, key)
    except Exception as exc:
        raise ConfigInvalidError(f"{where}: {key}: {exc}", field=key) from exc


def _positive_int(value: object, key: str, where: str) -> int:
    try:
        number = int(str(value))
    except ValueError:
        number = 0
    if number < 1 or isinstance(value, bool):
        raise ConfigInvalidError(f"{where}: {key} must be a positive integer", field=key)
    return number
