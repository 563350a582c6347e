"""``queue_url`` for Celery's broker: checked without importing Celery, shown without its password."""

from __future__ import annotations

from urllib.parse import urlsplit

from flwd.adapters.pg_url import redact, refuse_control_characters

SCHEMES = ("redis", "rediss", "amqp", "amqps")


class QueueUrlError(ValueError):
    """Why a ``queue_url`` cannot be a broker URL flwd takes."""


def check_queue_url(url: str) -> str:
    """*url* stripped, when it is a ``redis://`` or ``amqp://`` URL (or their TLS forms);
    else QueueUrlError (whose message never carries the password)."""
    text = url.strip()
    refuse_control_characters(text, "queue_url", QueueUrlError)
    try:
        parts = urlsplit(text)
        port = parts.port  # ValueError when not a number in 0-65535
    except ValueError:
        raise QueueUrlError(f"queue_url {redact(text)} is malformed") from None
    if parts.scheme.lower() not in SCHEMES:
        raise QueueUrlError(f"queue_url must start with redis:// or amqp:// (or rediss://, "
                            f"amqps://), not {redact(text)}")
    if port == 0:
        raise QueueUrlError(f"queue_url {redact(text)} has port 0")
    if not parts.hostname:
        raise QueueUrlError(f"queue_url {redact(text)} names no host (redis://HOST:PORT/0)")
    return text


__all__ = ["SCHEMES", "QueueUrlError", "check_queue_url", "redact"]
