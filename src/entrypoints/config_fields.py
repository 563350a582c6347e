"""One configuration value from its text: the checks flwd.yaml and the FLWD_* variables share,
each refusing with config.invalid naming *where* the value came from (a file or a variable)."""

from __future__ import annotations

from typing import Any

from flwd.domain.errors import ConfigInvalidError
from flwd.domain.spec.quantity import parse_duration
from flwd.ports.kinds import RuntimeKind, StoreKind, one_of

# cluster mode's worker liveness (SPEC section 11): durations, FLWD_<KEY> in the environment
LIVENESS_KEYS = ("heartbeat_interval", "worker_timeout")


def non_empty(value: object, key: str, where: str) -> str:
    """*value* stripped; anything but a non-blank string is config.invalid."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigInvalidError(f"{where}: {key} must be a non-empty string", field=key)
    return value.strip()


def runtime_kind(value: object, where: str) -> RuntimeKind:
    """``auto``, ``podman`` or ``docker``."""
    if isinstance(value, str) and value in tuple(RuntimeKind):
        return RuntimeKind(value)
    raise ConfigInvalidError(
        f"{where}: runtime must be one of {one_of(RuntimeKind)}, not {value!r}", field="runtime")


def store_settings(value: object, where: str) -> dict[str, Any]:
    """``store_url``: a ``postgresql://`` URL selects the PostgreSQL store (SPEC section 11)."""
    from flwd.adapters.pg_url import StoreUrlError, check_store_url  # no urllib for the rest

    text = non_empty(value, "store_url", where)
    try:
        return {"store": StoreKind.POSTGRESQL, "store_url": check_store_url(text)}
    except StoreUrlError as exc:
        raise ConfigInvalidError(f"{where}: {exc}", field="store_url") from None


def broker_url(value: object, where: str) -> str:
    """``queue_url``: Celery's broker, ``redis://`` or ``amqp://`` (SPEC section 11)."""
    from flwd.adapters.queue_url import QueueUrlError, check_queue_url

    try:
        return check_queue_url(non_empty(value, "queue_url", where))
    except QueueUrlError as exc:
        raise ConfigInvalidError(f"{where}: {exc}", field="queue_url") from None


def seconds(value: object, key: str, where: str) -> float:
    """A positive duration (``90``, ``45s``, ``1h30m``) in seconds."""
    try:
        return parse_duration(value, key)
    except Exception as exc:
        raise ConfigInvalidError(f"{where}: {key}: {exc}", field=key) from exc


def positive_int(value: object, key: str, where: str) -> int:
    """An integer of at least 1 (a YAML boolean is not one)."""
    try:
        number = int(str(value))
    except ValueError:
        number = 0
    if number < 1 or isinstance(value, bool):
        raise ConfigInvalidError(f"{where}: {key} must be a positive integer", field=key)
    return number
