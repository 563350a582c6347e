"""``store_url`` for PostgreSQL: checked without importing psycopg, shown without its password."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit, urlunsplit

SCHEMES = ("postgresql", "postgres")
# Query parameters whose value is a secret (libpq's connection keywords).
_SECRET_PARAMS = frozenset({"password", "sslpassword"})


class StoreUrlError(ValueError):
    """Why a ``store_url`` cannot be a PostgreSQL connection URL."""


def check_store_url(url: str) -> str:
    """*url* stripped, when it is a ``postgresql://`` URL libpq can take; else StoreUrlError
    (whose message never carries the password)."""
    text = url.strip()
    refuse_control_characters(text, "store_url", StoreUrlError)
    try:
        parts = urlsplit(text)
        port = parts.port  # ValueError when not a number in 0-65535
        query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as exc:
        raise StoreUrlError(f"store_url {redact(text)} is malformed: {_reason(exc)}") from None
    if parts.scheme.lower() not in SCHEMES:
        raise StoreUrlError(
            f"store_url must start with postgresql:// (or postgres://), not {redact(text)}")
    if port == 0:
        raise StoreUrlError(f"store_url {redact(text)} has port 0")
    if parts.fragment:
        raise StoreUrlError(f"store_url {redact(text)} must not have a #fragment")
    if not (parts.hostname or any(key == "host" for key, _ in query)):
        raise StoreUrlError(f"store_url {redact(text)} names no host (postgresql://HOST/DB)")
    return text


def refuse_control_characters(text: str, key: str, error: type[ValueError]) -> None:
    """A URL setting with a control character raises *error* naming *key* (never the URL)."""
    if any(ord(ch) < 0x20 or ch == "\x7f" for ch in text):
        raise error(f"{key} must not contain control characters")


def redact(url: str) -> str:
    """*url* with any password replaced by ``***``, for messages and logs."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            user, sep, _password = userinfo.partition(":")
            netloc = f"{user}{':***' if sep else ''}@{hostport}"
        query = "&".join(
            f"{key}={'***' if key in _SECRET_PARAMS else value}"
            for key, value in parse_qsl(parts.query, keep_blank_values=True)
        )
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:
        return "<unparsable URL>"


def _reason(exc: ValueError) -> str:
    text = str(exc)
    return "bad port" if "port" in text.lower() else "bad syntax"
