"""Cross-site request forgery defences beside Litestar's double-submit CSRF cookie.

SameSite=Strict keeps the session cookie from other *sites*, but a page of the same site
(another port of the same host, a sibling subdomain) is sent it, and cookies are not isolated
by port: such a page can set a CSRF cookie of its own choosing under ``/ui`` and post the
matching token, which the double-submit check alone accepts. So a state-changing request is
also refused when the browser says it came from another origin (``Sec-Fetch-Site``), and a
signed-in session accepts only the CSRF cookie issued with it at sign-in (the session keeps
its digest), for browsers that send no fetch metadata.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, Mapping

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.exceptions import PermissionDeniedException
from litestar.middleware import MiddlewareProtocol
from litestar.middleware.csrf import generate_csrf_token
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from flwd.entrypoints.web.cookies import COOKIE_PATH, CSRF_COOKIE

CSRF_BINDING = "csrf"  # the session's key holding its CSRF cookie's digest
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
OWN_ORIGIN = frozenset({"same-origin", "none"})  # "none": typed or bookmarked by the user


def csrf_binding(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def fresh_csrf_cookie(secret: str) -> tuple[Cookie, str]:
    """A new CSRF cookie for a new session, and the digest the session keeps of it."""
    token = generate_csrf_token(secret=secret)
    cookie = Cookie(key=CSRF_COOKIE, value=token, path=COOKIE_PATH, httponly=True,
                    samesite="strict")
    return cookie, csrf_binding(token)


def forged(scope: Scope) -> bool:
    """Whether a state-changing request is a forgery the CSRF token cannot tell: sent from a
    page of another origin, or carrying a CSRF cookie its session was not issued with."""
    if scope.get("method", "GET") in SAFE_METHODS:
        return False
    connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope)
    site = connection.headers.get("sec-fetch-site")
    if site is not None and site.lower() not in OWN_ORIGIN:
        return True
    session = scope.get("session")
    bound = session.get(CSRF_BINDING) if isinstance(session, Mapping) else None
    if not isinstance(bound, str):
        return False  # no session (signing in), or one from before bindings: no principal
    return not hmac.compare_digest(bound, csrf_binding(connection.cookies.get(CSRF_COOKIE, "")))


class ForgeryMiddleware(MiddlewareProtocol):
    """Refuses forged state-changing requests (403, shown as ``csrf.invalid``); between the
    session middleware (whose session it reads) and Litestar's CSRF middleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and forged(scope):
            raise PermissionDeniedException("CSRF verification failed")
        await self.app(scope, receive, send)
