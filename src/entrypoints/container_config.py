"""What ``Container.config`` holds: the flat provider configuration of a ``FlwdConfig``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flwd.entrypoints.config import FlwdConfig
from flwd.ports.kinds import DispatchKind, StoreKind


def config_dict(config: FlwdConfig, *, profile_override: str | None = None,
                catalog_rescan_seconds: float = 0.0,
                dispatch: DispatchKind | None = None) -> dict[str, Any]:
    """The flat provider configuration for *config* (every key present: strict mode).
    *dispatch* None: ``queue`` in cluster mode (store_url and queue_url), else ``local``."""
    data = config.data_path
    if dispatch is None:
        dispatch = DispatchKind.QUEUE if config.cluster else DispatchKind.LOCAL
    return {
        "jobs_dirs": [str(Path(os.path.expanduser(d))) for d in config.jobs_dirs],
        "data_dir": str(data),
        "db_path": str(data / "flwd.db"),
        "runs_dir": str(data / "runs"),
        "runtime": config.runtime,
        "store": config.store,
        "store_url": config.store_url,
        "queue_url": config.queue_url,
        "store_shared": config.store is not StoreKind.SQLITE,
        "cluster": config.cluster,
        "secret_key": config.secret_key,
        "env_profile": config.env_profile,
        "default_profile": profile_override or config.default_profile,
        "policy_file": config.policy_file,
        "cancel_grace": config.cancel_grace,
        "max_concurrent_runs": config.max_concurrent_runs,
        "catalog_rescan_seconds": catalog_rescan_seconds,
        "dispatch": dispatch.value,
        "heartbeat_interval": config.heartbeat_interval,
        "worker_timeout": config.worker_timeout,
    }
