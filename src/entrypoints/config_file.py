"""flwd.yaml: found per SPEC section 9, read (1 MiB at most, duplicate keys refused) and turned
into the settings it gives; every key must be known."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, Mapping

from flwd.domain.errors import ConfigInvalidError
from flwd.entrypoints.config_fields import (
    LIVENESS_KEYS, broker_url, non_empty, positive_int, runtime_kind, seconds, store_settings)
from flwd.entrypoints.config_paths import config_candidates
from flwd.entrypoints.tokens import file_tokens

_MAX_CONFIG_BYTES = 1 << 20


def find_config_file(explicit: str | None, env: Mapping[str, str]) -> Path | None:
    """*explicit* (``--config``), which must exist, else the first candidate found, else None."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigInvalidError(f"config file {explicit} does not exist", file=explicit)
        return path
    for name in config_candidates(env):
        if (candidate := Path(name)).is_file():
            return candidate
    return None


def read_yaml_mapping(path: Path, what: str = "config", *, allow_empty: bool = True) -> dict[str, Any]:
    """A YAML file's top-level mapping (empty file: {}, or config.invalid unless *allow_empty*);
    anything else is config.invalid."""
    from flwd.adapters.yaml_catalog import load_yaml_bytes  # the spec loader: duplicate keys refused

    try:
        if path.stat().st_size > _MAX_CONFIG_BYTES:
            raise ConfigInvalidError(f"{path}: {what} file is larger than 1 MiB", file=str(path))
        data = load_yaml_bytes(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigInvalidError(f"{path}: cannot read {what}: {exc}", file=str(path)) from exc
    if data is None:
        if not allow_empty:
            raise ConfigInvalidError(f"{path}: the {what} file is empty (write {{}} for no "
                                     f"rules, or leave it unconfigured)", file=str(path))
        return {}
    if not isinstance(data, dict):
        raise ConfigInvalidError(f"{path}: {what} must be a mapping", file=str(path))
    return data


def check_not_world_writable(path: Path, what: str) -> None:
    """config.invalid when any local user could change the *what* file at *path*: the file is
    writable by others, or its directory is (without the sticky bit that stops them replacing
    it). A missing file is left to the reader."""
    for target, sticky_ok in ((path, False), (path.absolute().parent, True)):
        try:
            mode = target.stat().st_mode
        except OSError:
            return
        if mode & stat.S_IWOTH and not (sticky_ok and mode & stat.S_ISVTX):
            raise ConfigInvalidError(
                f"{path}: the {what} file is unsafe: {target} is writable by every user, who "
                f"could rewrite it (chmod o-w {target})", file=str(path))


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


def file_settings(path: Path) -> dict[str, Any]:
    """The ``FlwdConfig`` fields the file at *path* sets; its relative paths are taken from
    the file's own directory. Raises ConfigInvalidError."""
    data = read_yaml_mapping(path)
    base = path.resolve().parent
    where = str(path)
    _check_keys(data, where)

    def rel(value: object, key: str) -> str:
        text = non_empty(value, key, where)
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
        changes["runtime"] = runtime_kind(data["runtime"], where)
    if "policy_file" in data:
        changes["policy_file"] = rel(data["policy_file"], "policy_file")
    if "cancel_grace" in data:
        changes["cancel_grace"] = seconds(data["cancel_grace"], "cancel_grace", where)
    if "max_concurrent_runs" in data:
        changes["max_concurrent_runs"] = positive_int(data["max_concurrent_runs"], "max_concurrent_runs", where)
    if "store_url" in data:
        changes.update(store_settings(data["store_url"], where))
    if "queue_url" in data:
        changes["queue_url"] = broker_url(data["queue_url"], where)
    if "secret_key_file" in data:
        changes["secret_key_file"] = rel(data["secret_key_file"], "secret_key_file")
    if "sources" in data:
        changes["sources"] = _sources(data["sources"], where)
    for key in LIVENESS_KEYS:
        if key in data:
            changes[key] = seconds(data[key], key, where)
    security = _section(data, "security", where)
    if "default_profile" in security:
        changes["default_profile"] = non_empty(security["default_profile"], "security.default_profile", where)
    server = _section(data, "server", where)
    if "bind" in server:
        changes["server_bind"] = non_empty(server["bind"], "server.bind", where)
    auth = _section(data, "auth", where)
    if "tokens" in auth:
        changes["tokens"] = file_tokens(auth["tokens"], where)
    return changes


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
        declared.append((non_empty(entry.get("name"), f"{at}.name", where),
                         non_empty(entry.get("ref"), f"{at}.ref", where), trusted,
                         non_empty(entry.get("pull_policy", "on-add"), f"{at}.pull_policy", where),
                         non_empty(entry.get("type", "oci"), f"{at}.type", where)))
    names = [d[0] for d in declared]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise ConfigInvalidError(f"{where}: sources: the name {duplicate!r} is declared twice",
                                 field="sources")
    return tuple(declared)


def _section(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigInvalidError(f"{where}: {key} must be a mapping", field=key)
    return value
