"""Signing in to the console: a token checked as the API checks it, a sealed session cookie
(see ``cookies``) that keeps only the token's digest and a session id, and the guard each page
declares with the scope it needs. Sign-out records the id as ended in the run store
(``ConsoleSessions``), so a copy of the cookie is refused on every replica."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import anyio.to_thread
from litestar.connection import ASGIConnection

from flwd.domain.errors import AuthUnauthenticatedError
from flwd.domain.sessions import ConsoleSessions, new_session_id
from flwd.entrypoints.http.auth import Authenticator, Principal, check_scope
from flwd.entrypoints.tokens import token_digest
from flwd.entrypoints.web.forgery import CSRF_BINDING

_PRINCIPAL_STATE = "flwd_principal"  # where the API's auth looks for the request's principal
_DIGEST = "digest"
_ID = "sid"
_CSRF = CSRF_BINDING


class NotSignedInError(Exception):
    """No session (or one whose token is no longer configured): the page sends to sign-in."""


def start_session(connection: ASGIConnection[Any, Any, Any, Any], token: str,
                  csrf_binding: str) -> Principal:
    """Check *token* like a bearer token; on success a new session, replacing whatever the
    request came with, holds its digest (the token itself stays in no cookie and no store), a
    fresh random session id (nothing of the old session, so nothing to fixate) and the digest
    of the CSRF cookie issued with it (see ``forgery``). Raises ``AuthUnauthenticatedError``."""
    authenticator: Authenticator = connection.app.state.authenticator
    if not token or len(token) > 4096:
        raise AuthUnauthenticatedError("that is not a configured API token")
    digest = token_digest(token)
    principal = authenticator.authenticate_digest(digest)
    # the whole session, never merged into the old
    connection.set_session({_DIGEST: digest, _ID: new_session_id(), _CSRF: csrf_binding})
    return principal


def end_session(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Record the session's id as ended, then clear the cookie. Raises ``RunStoreError`` when
    the store cannot record it: the session was not ended, and the cookie stays."""
    session: object = connection.scope.get("session")
    session_id = session.get(_ID) if isinstance(session, Mapping) else None
    if isinstance(session_id, str):
        _sessions(connection).end(session_id)
    connection.clear_session()


def _sessions(connection: ASGIConnection[Any, Any, Any, Any]) -> ConsoleSessions:
    sessions: ConsoleSessions = connection.app.state.console_sessions
    return sessions


def session_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """Who the session belongs to, re-checked against the configured grants and the ended
    sessions on every request. An ended session is cleared (its cookie is not renewed).
    Raises ``RunStoreError`` when the store cannot tell whether it was ended."""
    known = connection.scope.get("state", {}).get(_PRINCIPAL_STATE)
    if isinstance(known, Principal):
        return known
    session: object = connection.scope.get("session")
    if not isinstance(session, Mapping):
        return None
    digest, session_id = session.get(_DIGEST), session.get(_ID)
    if not isinstance(digest, str) or not isinstance(session_id, str) \
            or not isinstance(session.get(_CSRF), str):
        return None  # (a cookie from before session ids or CSRF bindings: sign in again)
    if _sessions(connection).ended(session_id):
        connection.clear_session()
        return None
    authenticator: Authenticator = connection.app.state.authenticator
    try:
        principal = authenticator.authenticate_digest(digest)
    except AuthUnauthenticatedError:
        return None
    connection.scope.setdefault("state", {})[_PRINCIPAL_STATE] = principal
    return principal


def session_ended(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """Whether the request's session has been signed out since the request began (on any
    replica): a long response, a live stream, asks again now and then. Raises
    ``RunStoreError`` when the store cannot tell."""
    session: object = connection.scope.get("session")
    session_id = session.get(_ID) if isinstance(session, Mapping) else None
    return not isinstance(session_id, str) or _sessions(connection).ended(session_id)


@dataclass(frozen=True, slots=True)
class PageGuard:
    """A page or action needs a signed-in session whose token holds *scope* (the API's scope
    for the same thing); otherwise nothing of the page is rendered."""

    scope: str

    async def __call__(self, connection: ASGIConnection[Any, Any, Any, Any], _handler: Any) -> None:
        # the store lookup (is the session ended?) off the event loop; later calls in the same
        # request find the principal in the request's state
        principal = await anyio.to_thread.run_sync(session_principal, connection)
        if principal is None:
            raise NotSignedInError()
        check_scope(principal, self.scope)


def needs(scope: str) -> PageGuard:
    return PageGuard(scope)

