"""Errors of console pages as HTML pages (the API answers problem+json; a browser gets a page
with the same code and status), and the sign-in redirect."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any, Callable
from urllib.parse import urlencode, urlsplit

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.response import Redirect, Template

from flwd.domain.errors import (
    FlwdError,
    MethodNotAllowedError,
    RequestTooLargeError,
    RouteNotFoundError,
)
from flwd.entrypoints.http.problems import status_for
from flwd.entrypoints.web.session import NotSignedInError, session_principal

_log = logging.getLogger("flwd.http")
SIGN_IN = "/ui/signin"
_CODES = {404: RouteNotFoundError.code, 405: MethodNotAllowedError.code,
          413: RequestTooLargeError.code}  # the API's codes for the same refusals


def error_page(request: Request[Any, Any, Any], status: int, code: str, detail: str) -> Response[Any]:
    return Template(template_name="error.html", status_code=status, context={
        "status": status, "title": HTTPStatus(status).phrase, "code": code, "detail": detail,
        "me": shown_principal(request),
    })


def shown_principal(request: Request[Any, Any, Any]) -> Any:
    """Who the page header shows as signed in; nobody when the store cannot tell (the page
    already reports that error, it must not fail again while rendering it)."""
    try:
        return session_principal(request)
    except FlwdError:
        return None


def handle_not_signed_in(request: Request[Any, Any, Any], _exc: NotSignedInError) -> Response[Any]:
    """To sign-in, then back. A page's own htmx request (a table re-read every few seconds)
    sends the whole page there (``HX-Redirect``): htmx would follow a redirect itself and draw
    the sign-in page inside the table. The sign-in page keeps only console paths as ``next``."""
    if request.headers.get("hx-request") == "true":
        shown = urlsplit(request.headers.get("hx-current-url", ""))
        target = shown.path + ("?" + shown.query if shown.query else "")
        return Response(content=b"", status_code=200,
                        headers={"HX-Redirect": f"{SIGN_IN}?{urlencode({'next': target})}"})
    target = request.url.path
    if request.method == "GET" and request.url.query:
        target += "?" + request.url.query
    return Redirect(f"{SIGN_IN}?{urlencode({'next': target})}", status_code=303)


def handle_flwd_error(request: Request[Any, Any, Any], exc: FlwdError) -> Response[Any]:
    status = status_for(exc.code)
    if status >= 500:
        _log.error("%s %s failed: [%s] %s", request.method, request.url.path, exc.code, exc.detail)
        return error_page(request, status, exc.code, "internal error; see the server log")
    return error_page(request, status, exc.code, exc.detail)


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if exc.status_code >= 500:
        return handle_unexpected(request, exc)
    if exc.status_code == 403:  # the CSRF middleware's refusal
        return error_page(request, 403, "csrf.invalid",
                          "the form's CSRF token is missing or wrong: reload the page and try again")
    if exc.status_code == 404:
        return error_page(request, 404, RouteNotFoundError.code, "no such page")
    return error_page(request, exc.status_code, _CODES.get(exc.status_code, "request.invalid"),
                      str(exc.detail))


def console_or_api(api_handler: Callable[[Request[Any, Any, Any], HTTPException], Response[Any]],
                   headers: dict[str, str]) -> Any:
    """The app's handler of framework errors raised before any route is found (a path no
    route takes, a method none accepts): under ``/ui`` a console page with the console's
    *headers*, elsewhere *api_handler* (the API's problem document)."""

    def handle(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
        path = request.url.path
        if path == "/ui" or path.startswith("/ui/"):
            page = handle_http_exception(request, exc)
            page.headers.update(headers)
            return page
        return api_handler(request, exc)

    return handle


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    _log.exception("unexpected error in %s %s", request.method, request.url.path, exc_info=exc)
    return error_page(request, 500, "flwd.internal", "internal error; see the server log")


async def keep_html(response: Response[Any]) -> Response[Any]:
    """Overrides the API's ``after_request`` (which turns HTML 404s into problem documents)."""
    return response


HANDLERS: Any = {
    NotSignedInError: handle_not_signed_in,
    FlwdError: handle_flwd_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
