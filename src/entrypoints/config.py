"""Configuration: the effective settings (flwd.yaml looked up per SPEC section 9, FLWD_*
variables and flags on top: ``config_file``, ``config_env``) and the checks across them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

from flwd.domain.errors import ConfigInvalidError
from flwd.entrypoints.config_env import env_settings, flag_settings
from flwd.entrypoints.config_file import file_settings, find_config_file
from flwd.entrypoints.tokens import TokenGrant
from flwd.ports.kinds import RuntimeKind, StoreKind
from flwd.ports.sealing import SecretKey


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
    path = find_config_file(overrides.config, env)
    config = FlwdConfig()
    if path is not None:
        config = replace(config, **file_settings(path))
    config = replace(config, **env_settings(env, config.tokens))
    config = replace(config, **flag_settings(overrides, env))
    if config.queue_url and not config.store_url:
        raise ConfigInvalidError("queue_url needs store_url: workers read the runs they take "
                                 "from the shared PostgreSQL store", field="queue_url")
    _check_liveness(config)
    if config.secret_key_file or env.get("FLWD_SECRET_KEY") or env.get("FLWD_SECRET_KEY_FILE"):
        from flwd.entrypoints.secret_key import resolve_secret_key  # cluster mode only

        config = replace(config, secret_key=resolve_secret_key(config.secret_key_file, env))
    return config


def _check_liveness(config: FlwdConfig) -> None:
    """A worker must be able to heartbeat at least once within worker_timeout, or every run
    would be declared lost between two heartbeats."""
    if config.worker_timeout <= config.heartbeat_interval:
        raise ConfigInvalidError(
            f"worker_timeout ({config.worker_timeout:g}s) must be longer than "
            f"heartbeat_interval ({config.heartbeat_interval:g}s)", field="worker_timeout")
