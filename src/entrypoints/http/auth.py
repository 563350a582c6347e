"""Bearer-token authentication and scope guards: a token grants only what its digest is configured for."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any, Iterable

from litestar.connection import ASGIConnection

from flwd.domain.errors import AuthForbiddenError, AuthUnauthenticatedError
from flwd.entrypoints.tokens import ALL_SCOPES, TokenGrant, token_digest

DEV_TOKEN = "dev-token"
_MAX_TOKEN_CHARS = 4096

@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """Who made a request: the matching grant's name and scopes."""

    name: str
    scopes: frozenset[str]


# who a request on the resident unix socket is: the user the server runs as
RESIDENT_OWNER = Principal(name="local", scopes=ALL_SCOPES)


def dev_grant() -> TokenGrant:
    """``--dev``: the well-known token ``dev-token`` with every scope (loopback only)."""
    return TokenGrant(name="dev", digest=token_digest(DEV_TOKEN), scopes=ALL_SCOPES)


class Authenticator:
    """Matches a bearer token's SHA-256 digest against every configured grant.

    Each grant is compared with ``hmac.compare_digest`` and the loop never stops early, so
    the time taken says nothing about which (if any) grant matched.
    """

    def __init__(self, grants: Iterable[TokenGrant]) -> None:
        self._grants = tuple(grants)

    def authenticate(self, authorization: str | None) -> Principal:
        return self.authenticate_digest(token_digest(_bearer_token(authorization)))

    def authenticate_digest(self, digest: str) -> Principal:
        """The grant whose token has SHA-256 *digest* (the web console's session keeps only
        the digest, never the token)."""
        found: TokenGrant | None = None
        for grant in self._grants:
            if hmac.compare_digest(digest, grant.digest) and found is None:
                found = grant
        if found is None:
            raise AuthUnauthenticatedError("the bearer token is not a configured API token")
        return Principal(name=found.name, scopes=found.scopes)


def _bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise AuthUnauthenticatedError("missing Authorization: Bearer TOKEN header")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > _MAX_TOKEN_CHARS:
        raise AuthUnauthenticatedError("the Authorization header must be 'Bearer TOKEN'")
    return token


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The request's principal (authenticating it now if no guard did yet)."""
    principal = connection.scope.get("state", {}).get("flwd_principal")
    if isinstance(principal, Principal):
        return principal
    if _on_resident_socket(connection):
        principal = RESIDENT_OWNER
    else:
        authenticator: Authenticator = connection.app.state.authenticator
        principal = authenticator.authenticate(connection.headers.get("authorization"))
    connection.scope.setdefault("state", {})["flwd_principal"] = principal
    return principal


def _on_resident_socket(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """Whether the request came through the resident unix socket: uvicorn names a unix
    listener ``(path, None)`` (a TCP one is always ``(host, port)``); the socket is 0600 and
    its connections were checked to come from this server's user (SO_PEERCRED)."""
    path = connection.app.state.settings.resident_path
    server = connection.scope.get("server")
    return bool(path) and isinstance(server, (tuple, list)) and len(server) == 2 \
        and server[1] is None and server[0] == path


def check_scope(principal: Principal, scope: str, why: str = "") -> None:
    if scope not in principal.scopes:
        reason = f" ({why})" if why else ""
        raise AuthForbiddenError(f"this token lacks the scope {scope}{reason}", scope=scope)


@dataclass(frozen=True, slots=True)
class ScopeGuard:
    """A Litestar guard: the request must carry a configured token holding *scope*. The OpenAPI
    document reads *scope* from here, so the security it shows is the one enforced.

    Async on purpose: Litestar runs a sync guard in a worker thread (a thread hop per guard
    per request); checking a digest is cheap enough for the event loop."""

    scope: str

    async def __call__(self, connection: ASGIConnection[Any, Any, Any, Any], _handler: Any) -> None:
        check_scope(principal_of(connection), self.scope)


def require(scope: str) -> ScopeGuard:
    """The guard requiring *scope* (see ``ScopeGuard``)."""
    return ScopeGuard(scope)


async def metrics_guard(connection: ASGIConnection[Any, Any, Any, Any], _handler: Any) -> None:
    """``/metrics`` is open when the server listens on loopback only, else needs runs:read."""
    if connection.app.state.settings.loopback:
        return
    check_scope(principal_of(connection), "runs:read")


def check_profile_scope(connection: ASGIConnection[Any, Any, Any, Any], profile: str | None) -> None:
    """Asking for the ``disabled`` profile through the API needs ``runs:admin`` (SPEC 8)."""
    if profile == "disabled":
        check_scope(principal_of(connection), "runs:admin", "asking for the disabled profile")
