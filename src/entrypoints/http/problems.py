"""Errors as RFC 9457 problem details: one table from error code to HTTP status, one renderer."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException

from flwd.domain.errors import (
    ArgsInvalidError,
    AuthForbiddenError,
    AuthUnauthenticatedError,
    FlwdError,
    MethodNotAllowedError,
    RequestInvalidError,
    RequestTooLargeError,
    RouteNotFoundError,
)

PROBLEM_MEDIA_TYPE = "application/problem+json"
_log = logging.getLogger("flwd.http")

#: Every FlwdError code, mapped to the HTTP status the API answers it with (SPEC section 8).
STATUS_FOR_CODE: dict[str, int] = {
    "flwd.internal": 500,
    "usage.invalid": 400,
    "request.invalid": 400,
    "auth.unauthenticated": 401,
    "auth.forbidden": 403,
    "job.not.found": 404,
    "run.not.found": 404,
    "route.not.found": 404,
    "method.not.allowed": 405,
    "run.not.active": 409,
    "run.lost": 409,
    "worker.lost": 409,
    "idempotency.conflict": 409,
    "container.name.conflict": 409,
    "request.too.large": 413,
    "spec.invalid": 422,
    "args.invalid": 422,
    "config.invalid": 422,
    "policy.denied": 422,
    "image.registry.not.allowed": 422,
    "policy.override.denied": 422,
    "policy.profile.denied": 422,
    "policy.ceiling.exceeded": 422,
    "runtime.rootful": 422,
    "runtime.limits.unenforced": 422,
    "image.signature.required": 422,
    "image.signature.invalid": 422,
    "container.runtime.unavailable": 422,
    "E_OCI": 422,
    "E_ADDON_MANIFEST": 422,
    "secret.key.missing": 503,
    "secret.key.invalid": 503,
    "secret.write.failed": 503,
    "run.workspace.failed": 503,
    "run.store.failed": 503,
    "store.unavailable": 503,
    "queue.unavailable": 503,
    "server.unreachable": 502,
    "run.output.incomplete": 502,
    "source.trust.required": 422,
    "source.exists": 409,
    "source.not.found": 404,
    "source.changed": 409,
}

#: Litestar's own exceptions (routing, body size, validation), by status, as flwd errors.
_FRAMEWORK_ERRORS: dict[int, type[FlwdError]] = {
    400: RequestInvalidError,
    401: AuthUnauthenticatedError,
    403: AuthForbiddenError,
    404: RouteNotFoundError,
    405: MethodNotAllowedError,
    413: RequestTooLargeError,
}

#: Context keys safe and useful to show to API clients.
_PUBLIC_CONTEXT = ("run_id", "decisions", "job", "field", "problems")  # problems: E_ADDON_MANIFEST


def status_for(code: str) -> int:
    return STATUS_FOR_CODE.get(code, 500)


def problem_body(code: str, status: int, detail: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"urn:flwd:error:{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    body.update({k: v for k, v in extra.items() if v not in (None, "", [], ())})
    return body


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(content=body, status_code=body["status"], media_type=PROBLEM_MEDIA_TYPE,
                    headers=headers)


def flwd_problem(exc: FlwdError) -> dict[str, Any]:
    status = status_for(exc.code)
    extra = {key: exc.context.get(key) for key in _PUBLIC_CONTEXT}
    if isinstance(exc, ArgsInvalidError):
        extra["errors"] = [{"arg": p.arg, "code": p.code, "message": p.message} for p in exc.problems]
    detail = exc.detail if status < 500 else "internal error; see the server log"
    return problem_body(exc.code, status, detail, **extra)


def _auth_headers(code: str) -> dict[str, str] | None:
    if code == AuthUnauthenticatedError.code:
        return {"WWW-Authenticate": 'Bearer realm="flwd"'}
    return None


def handle_flwd_error(request: Request[Any, Any, Any], exc: FlwdError) -> Response[Any]:
    body = flwd_problem(exc)
    if body["status"] >= 500:
        _log.error("%s %s failed: [%s] %s", request.method, request.url.path, exc.code, exc.detail)
    return problem_response(body, _auth_headers(exc.code))


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    error_class = _FRAMEWORK_ERRORS.get(exc.status_code)
    if error_class is None:
        if exc.status_code >= 500:
            return handle_unexpected(request, exc)
        error_class = RequestInvalidError
    detail = _framework_detail(exc)
    status = exc.status_code if exc.status_code in _FRAMEWORK_ERRORS else status_for(error_class.code)
    body = problem_body(error_class.code, status, detail)
    headers = dict(exc.headers or {})
    headers.update(_auth_headers(error_class.code) or {})
    return problem_response(body, headers or None)


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    _log.exception("unexpected error in %s %s", request.method, request.url.path, exc_info=exc)
    body = problem_body("flwd.internal", 500, "internal error; see the server log")
    return problem_response(body)


def _framework_detail(exc: HTTPException) -> str:
    detail = str(exc.detail or HTTPStatus(exc.status_code).phrase)
    extra = exc.extra
    if isinstance(extra, list):
        parts = []
        for item in extra[:10]:
            if isinstance(item, dict):
                key, message = item.get("key"), item.get("message")
                parts.append(f"{key}: {message}" if key else str(message))
        if parts:
            detail = f"{detail}: " + "; ".join(parts)
    return detail


def handle_too_deep(request: Request[Any, Any, Any], exc: RecursionError) -> Response[Any]:
    """A body nested deeper than the JSON decoder recurses is malformed, not a server fault."""
    return problem_response(problem_body(RequestInvalidError.code, 400,
                                         "the JSON body is nested too deeply"))


def handle_bad_encoding(request: Request[Any, Any, Any], exc: UnicodeDecodeError) -> Response[Any]:
    """A JSON body whose strings are not UTF-8 is malformed (the decoder raises this, not a
    DecodeError), not a server fault."""
    return problem_response(problem_body(RequestInvalidError.code, 400,
                                         f"the body is not valid UTF-8 (byte {exc.start})"))


async def replace_html_not_found(response: Response[Any]) -> Response[Any]:
    """``after_request`` hook: Litestar's OpenAPI router answers unknown ``/schema/*`` paths with
    an HTML page; every error of this API is a problem document instead. (Async: a sync hook
    would cost a worker-thread hop on every request.)"""
    media_type = getattr(response.media_type, "value", response.media_type)
    if response.status_code == 404 and str(media_type).startswith("text/html"):
        return problem_response(problem_body(RouteNotFoundError.code, 404, "Not Found"))
    return response


EXCEPTION_HANDLERS: dict[type[Exception], Any] = {
    FlwdError: handle_flwd_error,
    HTTPException: handle_http_exception,
    RecursionError: handle_too_deep,
    UnicodeDecodeError: handle_bad_encoding,
    Exception: handle_unexpected,
}
