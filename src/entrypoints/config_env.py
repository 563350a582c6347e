"""FLWD_* variables and the global CLI flags: the settings they give over the file's."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Mapping

from flwd.entrypoints.config_fields import (
    LIVENESS_KEYS, broker_url, positive_int, runtime_kind, seconds, store_settings)
from flwd.entrypoints.tokens import TokenGrant, env_tokens

if TYPE_CHECKING:
    from flwd.entrypoints.config import CliOverrides


def env_settings(env: Mapping[str, str], tokens: tuple[TokenGrant, ...]) -> dict[str, Any]:
    """The ``FlwdConfig`` fields *env* sets (an empty variable sets nothing); FLWD_TOKENS
    adds to the file's *tokens*. Raises ConfigInvalidError naming the variable."""
    changes: dict[str, Any] = {}
    if env.get("FLWD_JOBS_DIR"):
        changes["jobs_dirs"] = tuple(_home(p, env) for p in env["FLWD_JOBS_DIR"].split(os.pathsep) if p)
    if env.get("FLWD_DATA_DIR"):
        changes["data_dir"] = env["FLWD_DATA_DIR"]
    if env.get("FLWD_RUNTIME"):
        changes["runtime"] = runtime_kind(env["FLWD_RUNTIME"], "FLWD_RUNTIME")
    if env.get("FLWD_PROFILE"):
        changes["env_profile"] = env["FLWD_PROFILE"]
    if env.get("FLWD_POLICY_FILE"):
        changes["policy_file"] = env["FLWD_POLICY_FILE"]
    if env.get("FLWD_CANCEL_GRACE"):
        changes["cancel_grace"] = seconds(env["FLWD_CANCEL_GRACE"], "cancel_grace", "FLWD_CANCEL_GRACE")
    if env.get("FLWD_MAX_CONCURRENT_RUNS"):
        changes["max_concurrent_runs"] = positive_int(
            env["FLWD_MAX_CONCURRENT_RUNS"], "max_concurrent_runs", "FLWD_MAX_CONCURRENT_RUNS")
    if env.get("FLWD_STORE_URL"):
        changes.update(store_settings(env["FLWD_STORE_URL"], "FLWD_STORE_URL"))
    for key in LIVENESS_KEYS:
        variable = f"FLWD_{key.upper()}"
        if env.get(variable):
            changes[key] = seconds(env[variable], key, variable)
    if env.get("FLWD_QUEUE_URL"):
        changes["queue_url"] = broker_url(env["FLWD_QUEUE_URL"], "FLWD_QUEUE_URL")
    if env.get("FLWD_BIND"):
        changes["server_bind"] = env["FLWD_BIND"]
    if env.get("FLWD_TOKENS"):
        changes["tokens"] = tokens + env_tokens(env["FLWD_TOKENS"])
    if env.get("FLWD_SERVER"):
        changes["server_url"] = env["FLWD_SERVER"]
    if env.get("FLWD_TOKEN"):
        changes["token"] = env["FLWD_TOKEN"]
    return changes


def flag_settings(flags: CliOverrides, env: Mapping[str, str]) -> dict[str, Any]:
    """The ``FlwdConfig`` fields the global CLI flags set (the last word: over FLWD_*)."""
    changes: dict[str, Any] = {}
    if flags.jobs_dirs:
        changes["jobs_dirs"] = tuple(_home(p, env) for p in flags.jobs_dirs)
    if flags.data_dir:
        changes["data_dir"] = flags.data_dir
    if flags.runtime:
        changes["runtime"] = runtime_kind(flags.runtime, "--runtime")
    if flags.server:
        changes["server_url"] = flags.server
    if flags.token:
        changes["token"] = flags.token
    return changes


def _home(path: str, env: Mapping[str, str]) -> str:
    """``~/jobs`` -> ``$HOME/jobs``: ``--jobs-dir=~/jobs`` reaches flwd unexpanded by the shell."""
    if path != "~" and not path.startswith("~/"):
        return path
    home = env.get("HOME") or os.path.expanduser("~")
    return home + path[1:]
