"""The served OpenAPI document: Litestar's generated one, completed with what it cannot know.

Litestar documents a handler's success response and its own validation error. This module adds,
in one place and from one table, every error each route answers (``application/problem+json``,
status from ``problems.STATUS_FOR_CODE``), each route's real security (read from its guards, so
it cannot drift from what is enforced), the SSE stream's events, constraints the handlers check
themselves, links between operations, and the public path of the cancel action. Handlers carry
no per-route error declarations.
"""

from __future__ import annotations

import copy
from http import HTTPStatus
from typing import Any, Iterable, Mapping

from litestar import Litestar, Request
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.routes import HTTPRoute

from flwd.domain.model import RunStatus
from flwd.entrypoints.http.auth import ScopeGuard, metrics_guard
from flwd.entrypoints.http.problems import PROBLEM_MEDIA_TYPE, STATUS_FOR_CODE
from flwd.entrypoints.http.runs import CANCEL_ACTION, MAX_SEQ
from flwd.entrypoints.http.schemas import MAX_IDEMPOTENCY_KEY
from flwd.entrypoints.http.sources import REFRESH_ACTION, SOURCE_NAME_PATTERN, SOURCE_ROUTE

SCHEME = "bearer"
CANCEL_ROUTE = "/runs/{run_id}"
_ACTIONS = {CANCEL_ROUTE: CANCEL_ACTION, SOURCE_ROUTE: REFRESH_ACTION}
_AUTH = ("auth.unauthenticated", "auth.forbidden")
_BODY = ("request.invalid", "request.too.large")
_PLAN = ("job.not.found", "spec.invalid", "args.invalid")
# the run store cannot be read or written, or (PostgreSQL, store_url) does not answer (README)
_STORE = ("run.store.failed", "store.unavailable")
_POLICY = ("policy.denied", "image.registry.not.allowed", "policy.override.denied",
           "policy.profile.denied", "policy.ceiling.exceeded", "runtime.rootful",
           "runtime.limits.unenforced",
           "image.signature.required", "image.signature.invalid")  # add-on runs (section 10)

_SIGNATURES = ("image.signature.required", "image.signature.invalid")  # add and refresh

#: Every error code each operation can answer (SPEC section 8). The unit tests provoke each
#: status and check it is here; a route missing from this table fails the document's build.
ROUTE_ERRORS: dict[str, tuple[str, ...]] = {
    "GET /healthz": (),
    "GET /metrics": (*_AUTH, *_STORE),
    "GET /jobs": _AUTH,
    "GET /jobs/{job_id}": (*_AUTH, "job.not.found", "spec.invalid"),
    "POST /plans": (*_AUTH, *_BODY, *_PLAN),
    "POST /runs": (*_AUTH, *_BODY, *_PLAN, *_POLICY, "container.runtime.unavailable",
                   "idempotency.conflict", *_STORE,
                   "queue.unavailable", "secret.key.missing",  # cluster mode (SPEC section 11)
                   "E_OCI", "E_ADDON_MANIFEST",  # an on-run add-on's re-pull and re-pin (section 10)
                   "source.changed"),
    "GET /runs": (*_AUTH, "request.invalid", *_STORE),
    "GET /runs/{run_id}": (*_AUTH, "run.not.found", *_STORE),
    "GET /runs/{run_id}/events": (*_AUTH, "request.invalid", "run.not.found", *_STORE),
    "POST /runs/{run_id}:cancel": (*_AUTH, "run.not.found", "route.not.found", "run.not.active",
                                   *_STORE),
    # sources (SPEC section 10)
    "GET /sources": (*_AUTH, *_STORE),
    "GET /sources/{name}": (*_AUTH, "request.invalid", "source.not.found", "route.not.found",
                            *_STORE),
    "POST /sources": (*_AUTH, *_BODY, "source.trust.required", "source.exists",
                      "image.registry.not.allowed", "E_ADDON_MANIFEST", "E_OCI",
                      "container.runtime.unavailable", *_SIGNATURES, *_STORE),
    "DELETE /sources/{name}": (*_AUTH, "request.invalid", "source.not.found", "route.not.found",
                               *_STORE),
    "POST /sources/{name}:refresh": (*_AUTH, "request.invalid", "source.not.found",
                                     "route.not.found", "image.registry.not.allowed",
                                     "E_ADDON_MANIFEST", "E_OCI", "container.runtime.unavailable",
                                     *_SIGNATURES, *_STORE),
    "GET /workers": (*_AUTH, *_STORE),  # cluster mode's live workers (SPEC section 11)
}

#: Parameter constraints the handlers check themselves (Litestar drops ``ge`` on an optional
#: parameter and cannot see ``check_status_filter`` or ``_resume_point``).
_PARAMETERS: dict[tuple[str, str], dict[str, Any]] = {
    ("GET /runs", "status"): {"type": "string", "enum": [s.value for s in RunStatus]},
    **{(route, "name"): {"type": "string", "pattern": SOURCE_NAME_PATTERN}
       for route in ("GET /sources/{name}", "DELETE /sources/{name}",
                     "POST /sources/{name}:refresh")},
    ("POST /runs", "Idempotency-Key"): {  # check_idempotency_key: 1..255 once trimmed
        "type": "string", "pattern": f"^[ \\t]*[!-~]([ -~]{{0,{MAX_IDEMPOTENCY_KEY - 2}}}[!-~])?[ \\t]*$",
        "description": "a key of the client's choosing (printable ASCII); a retry with the "
                       "same key and body answers as the first request did"},
    ("GET /runs/{run_id}/events", "after"): {"type": "integer", "minimum": 0, "maximum": MAX_SEQ},
    ("GET /runs/{run_id}/events", "Last-Event-ID"): {
        "type": "string", "pattern": f"^[ \\t]*([0-9]{{1,{len(str(MAX_SEQ))}}}[ \\t]*)?$",
        "description": "the seq of the last event received; the stream resumes after it"},
}

#: One Server-Sent Event of ``GET /runs/{run_id}/events``, as schemathesis and OpenAPI 3.1
#: tooling read an SSE body: fields ``id``, ``event`` and ``data`` (the run event as JSON).
_SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["id", "event", "data"],
    "properties": {
        "id": {"type": "string", "pattern": "^[0-9]+$", "description": "the event's seq"},
        "event": {"type": "string", "description": "the event's type, e.g. run.output"},
        "data": {"type": "string", "contentMediaType": "application/json",
                 "contentSchema": {"$ref": "#/components/schemas/RunEvent"}},
    },
}

#: OpenAPI links: where a response's ids lead (clients and schemathesis' stateful phase follow them).
_RUN_ID_USERS = ("GET /runs/{run_id}", "GET /runs/{run_id}/events", "POST /runs/{run_id}:cancel")
_LINKS: dict[tuple[str, str], tuple[tuple[str, str, str], ...]] = {
    ("GET /jobs", "200"): (("GET /jobs/{job_id}", "job_id", "$response.body#/jobs/0/id"),),
    ("GET /runs", "200"): tuple((op, "run_id", "$response.body#/runs/0/run_id") for op in _RUN_ID_USERS),
    ("POST /runs", "202"): tuple((op, "run_id", "$response.body#/run_id") for op in _RUN_ID_USERS),
}

COMPONENT_SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "An RFC 9457 problem document; `code` is the stable flwd error code.",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": {"type": "string", "description": "urn:flwd:error:CODE"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "code": {"type": "string"},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ArgProblem"},
                       "description": "args.invalid: one entry per bad argument"},
            "run_id": {"type": "string"},
            "job": {"type": "string"},
            "field": {"type": "string"},
            "decisions": {"type": "array", "items": {"type": "object"},
                          "description": "policy denials: every policy decision of the plan"},
        },
    },
    "RunEvent": {
        "type": "object",
        "required": ["seq", "run_id", "type", "time", "data"],
        "properties": {"seq": {"type": "integer", "minimum": 1}, "run_id": {"type": "string"},
                       "type": {"type": "string"}, "time": {"type": "string"},
                       "data": {"type": "object"}},
    },
    "ArgProblem": {
        "type": "object",
        "required": ["arg", "code", "message"],
        "properties": {"arg": {"type": "string"}, "code": {"type": "string"},
                       "message": {"type": "string"}},
    },
}


class FlwdOpenApiJson(JsonRenderPlugin):
    """Serves the completed document (built once per app, on the first request for it)."""

    def __init__(self) -> None:
        super().__init__()
        self._rendered: bytes | None = None

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        if self._rendered is None:
            loopback = bool(request.app.state.settings.loopback)
            document = complete(openapi_schema, route_scopes(request.app), loopback=loopback)
            self._rendered = self.render_json(request, document)
        return self._rendered


def route_scopes(app: Litestar) -> dict[str, tuple[str, ...] | None]:
    """``"METHOD /path"`` -> the scopes its guards require; None for the ``/metrics`` guard."""
    found: dict[str, tuple[str, ...] | None] = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.include_in_schema or "OPTIONS" in handler.http_methods:
                continue
            for method in handler.http_methods:
                found[f"{method} {route.path_format}"] = _guard_scopes(handler)
    return found


def _guard_scopes(handler: HTTPRouteHandler) -> tuple[str, ...] | None:
    guards = handler.resolve_guards()
    if metrics_guard in guards:
        return None
    return tuple(guard.scope for guard in guards if isinstance(guard, ScopeGuard))


def complete(schema: Mapping[str, Any], scopes: Mapping[str, tuple[str, ...] | None], *,
             loopback: bool) -> dict[str, Any]:
    """A copy of Litestar's *schema* with errors, security, SSE and the cancel path filled in."""
    document = copy.deepcopy(dict(schema))
    paths: dict[str, Any] = document.setdefault("paths", {})
    _move_cancel(paths)
    components = document.setdefault("components", {})
    components.setdefault("schemas", {}).update(copy.deepcopy(COMPONENT_SCHEMAS))
    _run_body_rules(components["schemas"])
    operations = {f"{method.upper()} {path}": operation for path, item in paths.items()
                  for method, operation in item.items() if method != "parameters"}
    if set(operations) != set(ROUTE_ERRORS):
        odd = sorted(set(operations) ^ set(ROUTE_ERRORS))
        raise LookupError(f"ROUTE_ERRORS and the routes disagree on {odd}")
    for label, operation in operations.items():
        method, path = label.split(" ", 1)
        route = path.rpartition(":")[0] if path.rpartition(":")[0] in _ACTIONS else path
        codes = _describe_security(operation, scopes[f"{method} {route}"], ROUTE_ERRORS[label],
                                   loopback=loopback)
        _describe_errors(operation, codes)
        _describe_specifics(label, operation)
    _link(operations)
    return document


def _link(operations: Mapping[str, dict[str, Any]]) -> None:
    for (label, status), targets in _LINKS.items():
        links = operations[label]["responses"][status].setdefault("links", {})
        for target, parameter, expression in targets:
            operation_id = operations[target]["operationId"]
            links[operation_id] = {"operationId": operation_id,
                                   "parameters": {parameter: expression}}


def _describe_security(operation: dict[str, Any], scope: tuple[str, ...] | None,
                       codes: tuple[str, ...], *, loopback: bool) -> tuple[str, ...]:
    """Sets the operation's security; returns the error codes it can answer as bound now."""
    if scope is None:  # /metrics: open on loopback, runs:read elsewhere
        scope = () if loopback else ("runs:read",)
        codes = tuple(c for c in codes if c not in _AUTH) if loopback else codes
        operation["description"] = _METRICS_NOTE
    operation["security"] = [{SCHEME: list(scope)}] if scope else []
    if scope:
        operation.setdefault("description", f"Needs a token with the scope {', '.join(scope)}.")
    return codes


def _describe_errors(operation: dict[str, Any], codes: tuple[str, ...]) -> None:
    """Litestar's own error responses (its validation error, as application/json) give way to
    one problem+json response per status the operation answers."""
    responses = operation.setdefault("responses", {})
    for status in [s for s in responses if int(s) >= 400]:
        del responses[status]
    for status, status_codes in sorted(_by_status(codes).items()):
        responses[str(status)] = _problem_response(status, status_codes)


def _describe_specifics(label: str, operation: dict[str, Any]) -> None:
    responses = operation["responses"]
    for parameter in operation.get("parameters", []):
        patch = _PARAMETERS.get((label, parameter.get("name")))
        if patch:
            parameter["schema"] = patch
    if label.endswith("/events"):
        responses["200"]["content"] = {"text/event-stream": {"schema": _SSE_EVENT}}
    if label.startswith("POST /runs"):
        responses["202"].setdefault("headers", {})["Location"] = {
            "required": True, "description": "/runs/RUN_ID", "schema": {"type": "string"}}


_METRICS_NOTE = ("Open without a token while the server listens on loopback addresses only; "
                 "on any other address it needs a token with the scope runs:read. This document "
                 "describes this server as it is bound now.")


def _by_status(codes: Iterable[str]) -> dict[int, list[str]]:
    statuses: dict[int, list[str]] = {}
    for code in codes:
        statuses.setdefault(STATUS_FOR_CODE[code], []).append(code)
    return statuses


def _problem_response(status: int, codes: list[str]) -> dict[str, Any]:
    schema = {"allOf": [{"$ref": "#/components/schemas/Problem"}, {
        "type": "object",
        "properties": {"status": {"const": status}, "code": {"enum": codes}},
    }]}
    response: dict[str, Any] = {
        "description": f"{HTTPStatus(status).phrase}: {', '.join(codes)}",
        "content": {PROBLEM_MEDIA_TYPE: {"schema": schema}},
    }
    if "auth.unauthenticated" in codes:
        response["headers"] = {"WWW-Authenticate": {
            "required": True, "description": 'Bearer realm="flwd"', "schema": {"type": "string"}}}
    return response


def _run_body_rules(schemas: dict[str, Any]) -> None:
    """What ``RunBody`` enforces beyond its fields' types: no unknown field (msgspec's
    ``forbid_unknown_fields``), and a job named in ``job`` or ``job_id`` (``to_domain``);
    ``SourceBody`` has no unknown field either."""
    if "SourceBody" in schemas:
        schemas["SourceBody"]["additionalProperties"] = False
    body = schemas.get("RunBody")
    if body is not None:
        body["additionalProperties"] = False
        body["anyOf"] = [{"required": [name], "properties": {name: {"type": "string"}}}
                         for name in ("job", "job_id")]


def _move_cancel(paths: dict[str, Any]) -> None:
    """The action handlers under their public paths ``/runs/{run_id}:cancel`` and
    ``/sources/{name}:refresh`` (Litestar cannot route a segment that mixes a parameter and
    text)."""
    for route, action in _ACTIONS.items():
        item = paths.get(route, {})
        if "post" in item:
            paths[f"{route}:{action}"] = {"post": item.pop("post")}
            if "parameters" in item:
                paths[f"{route}:{action}"]["parameters"] = item["parameters"]
            if set(item) <= {"parameters"}:
                paths.pop(route)
