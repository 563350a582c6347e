"""Which adapter serves a port: the one list of kinds that configuration accepts, runtime
detection returns and the container selects on (one ``providers.Selector`` line per kind)."""

from __future__ import annotations

from enum import StrEnum


class RuntimeKind(StrEnum):
    """``runtime:`` in flwd.yaml, ``FLWD_RUNTIME``, ``--runtime``. ``auto`` is a setting only:
    detection turns it into one of the others before the container selects an adapter."""

    AUTO = "auto"
    PODMAN = "podman"
    DOCKER = "docker"


class StoreKind(StrEnum):
    """Where runs and events are kept: SQLite under data_dir, or PostgreSQL at ``store_url``."""

    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


class DispatchKind(StrEnum):
    """Where a recorded run goes to be executed (``RunDispatcher``): ``local``, this process's
    worker threads; ``none``, nowhere (``flwd :serve --no-runtime``, plan-only): runs are still
    validated, planned and recorded, then refused with ``container.runtime.unavailable``;
    ``queue``, cluster mode (``store_url`` and ``queue_url``): enqueued for a ``flwd :worker``."""

    LOCAL = "local"
    NONE = "none"
    QUEUE = "queue"


def one_of(kind: type[StrEnum]) -> str:
    """``auto, podman, docker``: the kinds, for error messages."""
    return ", ".join(member.value for member in kind)
