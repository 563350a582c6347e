"""The console's session cookie and CSRF token, and the keys behind them.

The session lives in the browser: an AES-256-GCM sealed cookie (Litestar's client-side session
backend) holding only the token's digest. Its key and the CSRF token's HMAC key are derived
from the configured secret key (``FLWD_SECRET_KEY`` / ``secret_key_file``, SPEC 11) by
HKDF-SHA256 with one label per purpose, never the key itself: every replica that shares the
key reads the others' cookies, and a restart signs nobody out. Without a key both are random
per process, as on a single host: a restart, or another replica, asks to sign in again.
"""

from __future__ import annotations

import binascii
import secrets
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.exceptions import SerializationException
from litestar.middleware.session.client_side import ClientSideSessionBackend, CookieBackendConfig

from flwd.domain.sessions import SESSION_SECONDS  # idle time: each signed-in response renews it
from flwd.ports.sealing import SecretKey

SESSION_COOKIE = "flwd_session"
CSRF_COOKIE = "flwd_csrf"
COOKIE_PATH = "/ui"
SESSION_INFO = b"flwd console session cookie v1: AES-256-GCM"
CSRF_INFO = b"flwd console CSRF token v1: HMAC-SHA256"


@dataclass(frozen=True, slots=True)
class ConsoleKeys:
    """The session cookie's AES key and the CSRF HMAC secret; ``shared`` when derived from the
    configured secret key (the same on every replica), not drawn at random for this process."""

    session: bytes = field(repr=False)
    csrf: str = field(repr=False)
    shared: bool


def console_keys(key: SecretKey | None) -> ConsoleKeys:
    if key is None:
        return ConsoleKeys(session=secrets.token_bytes(32), csrf=secrets.token_hex(32),
                           shared=False)
    return ConsoleKeys(session=_derive(key, SESSION_INFO), csrf=_derive(key, CSRF_INFO).hex(),
                       shared=True)


def _derive(key: SecretKey, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(
        key.text.encode())


class SealedCookieBackend(ClientSideSessionBackend):
    """Litestar's cookie backend, but a cookie it cannot read (another key, expired, altered,
    or malformed in a way Litestar does not expect) is simply no session, never a 500."""

    def __deepcopy__(self, _memo: dict[int, Any]) -> SealedCookieBackend:
        """Litestar deep-copies a Router's middleware when registering it; the AES-GCM cipher
        cannot be copied and needs not be (nothing here changes after construction)."""
        return self

    async def load_from_connection(self, connection: ASGIConnection[Any, Any, Any, Any]
                                   ) -> dict[str, Any]:
        try:
            return await super().load_from_connection(connection)
        except (InvalidTag, binascii.Error, SerializationException, ValueError, TypeError,
                KeyError, IndexError):
            return {}


@dataclass
class SealedCookieConfig(CookieBackendConfig):
    _backend_class = SealedCookieBackend


def session_config(keys: ConsoleKeys) -> SealedCookieConfig:
    """HttpOnly, SameSite=Strict, under ``/ui`` (``Secure`` is added over TLS by the plugin)."""
    return SealedCookieConfig(secret=keys.session, key=SESSION_COOKIE, max_age=SESSION_SECONDS,
                              path=COOKIE_PATH, httponly=True, samesite="strict", secure=False)


def csrf_config(keys: ConsoleKeys) -> CSRFConfig:
    return CSRFConfig(secret=keys.csrf, cookie_name=CSRF_COOKIE, cookie_path=COOKIE_PATH,
                      cookie_httponly=True, cookie_samesite="strict")
