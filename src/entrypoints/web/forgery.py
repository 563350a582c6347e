"""Cross-site request forgery defences beside Litestar's double-submit CSRF cookie.

SameSite=Strict keeps the session cookie from other *sites*, but a page of the same site
(another port of the same host, a sibling subdomain) is sent it, and cookies are not isolated
by port: such a page can set a CSRF cookie of its own choosing under ``/ui`` and post the
matching token, which the double-submit check alone accepts. So a state-changing request is
refused when the browser says it came from another origin (``Sec-Fetch-Site``), and a session
counts only together with the CSRF cookie issued with it at sign-in (the session keeps its
digest), for browsers that send no fetch metadata: with any other CSRF cookie (planted, or
a new one after the browser dropped its own on restart) the request is not signed in.
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


def from_other_origin(scope: Scope) -> bool:
    """A state-changing request the browser says a page of another origin sent."""
    if scope.get("method", "GET") in SAFE_METHODS:
        return False
    site = ASGIConnection[Any, Any, Any, Any](scope).headers.get("sec-fetch-site")
    return site is not None and site.lower() not in OWN_ORIGIN


def unbound_session(scope: Scope) -> bool:
    """A session whose CSRF cookie is not the one issued with it (or one from before
    bindings, which ``session_principal`` refuses anyway)."""
    session = scope.get("session")
    if not isinstance(session, Mapping) or not session:
        return False
    bound = session.get(CSRF_BINDING)
    cookie = ASGIConnection[Any, Any, Any, Any](scope).cookies.get(CSRF_COOKIE, "")
    return not isinstance(bound, str) or not hmac.compare_digest(bound, csrf_binding(cookie))


class ForgeryMiddleware(MiddlewareProtocol):
    """Between the session middleware (whose session it reads) and Litestar's CSRF
    middleware: refuses a state-changing request from another origin (403, shown as
    ``csrf.invalid``), and drops a session that came with another CSRF cookie than its own
    (the request goes on signed out, and the session cookie is cleared)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            if from_other_origin(scope):
                raise PermissionDeniedException("CSRF verification failed")
            if unbound_session(scope):
                scope["session"] = {}
        await self.app(scope, receive, send)
