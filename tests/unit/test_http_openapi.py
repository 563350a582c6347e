"""The served OpenAPI document describes what the API really answers: every error status each
route returns (as problem+json), and each route's security as it is enforced."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from flwd.adapters.sqlite_store import SqliteRunStore

from flwd.entrypoints.tokens import TokenGrant, token_digest
from flwd.entrypoints.http.openapi import ROUTE_ERRORS, complete, route_scopes
from flwd.entrypoints.http.problems import PROBLEM_MEDIA_TYPE, STATUS_FOR_CODE
from tests.unit.http_support import (
    JOBS_ONLY,
    READER,
    WRITER,
    auth,
    close,
    fake_runtime,
    grants,
    make_app,
    make_container,
    sse_messages,
    wait_finished,
)

RUNS_ONLY = "runs-only-token"
NONE: dict[str, str] = {}
HELLO = {"job": "hello", "args": {"name": "Alice"}}

#: (operation, method, path, headers, body): one request per error each route can answer.
#: ``{run}`` is a finished run's id. Bodies that are bytes are sent as they are.
ADDON_REF = "localhost:5000/addons/tools:1"
MOVING_REF = "localhost:5000/addons/moving:1"
SOURCE = {"name": "tools", "ref": ADDON_REF, "trusted": True}
ADDON = {"apiVersion": "flwd.addon/v1", "kind": "AddOn", "metadata": {"name": "tools", "version": "1"},
         "jobs": [{"id": "hello", "command": ["/bin/echo", "hi"]}]}

PROVOKED: list[tuple[str, str, str, dict[str, str], Any]] = [
    ("GET /metrics", "GET", "/metrics", NONE, None),
    ("GET /metrics", "GET", "/metrics", auth(JOBS_ONLY), None),
    ("GET /jobs", "GET", "/jobs", NONE, None),
    ("GET /jobs", "GET", "/jobs", auth(RUNS_ONLY), None),
    ("GET /jobs/{job_id}", "GET", "/jobs/hello", NONE, None),
    ("GET /jobs/{job_id}", "GET", "/jobs/hello", auth(RUNS_ONLY), None),
    ("GET /jobs/{job_id}", "GET", "/jobs/nope", auth(), None),
    ("GET /jobs/{job_id}", "GET", "/jobs/broken", auth(), None),
    ("POST /plans", "POST", "/plans", auth(), b"{not json"),
    ("POST /plans", "POST", "/plans", auth(), {"job": "hello", "extra": 1}),
    ("POST /plans", "POST", "/plans", NONE, HELLO),
    ("POST /plans", "POST", "/plans", auth(RUNS_ONLY), HELLO),
    ("POST /plans", "POST", "/plans", auth(READER), {**HELLO, "requested_security_profile": "disabled"}),
    ("POST /plans", "POST", "/plans", auth(), {"job": "nope"}),
    ("POST /plans", "POST", "/plans", auth(), b'{"job": "' + b"x" * 5000 + b'"}'),
    ("POST /plans", "POST", "/plans", auth(), {"job": "hello", "args": {"level": 9}}),
    ("POST /plans", "POST", "/plans", auth(), {"job": "broken"}),
    ("POST /runs", "POST", "/runs", auth(), {"job": "hello", "job_id": "other"}),
    ("POST /runs", "POST", "/runs", NONE, HELLO),
    ("POST /runs", "POST", "/runs", auth(READER), HELLO),
    ("POST /runs", "POST", "/runs", auth(), {"job": "nope"}),
    ("POST /runs", "POST", "/runs", {**auth(), "Idempotency-Key": "k"}, {"job": "hello", "args": {"name": "B"}}),
    ("POST /runs", "POST", "/runs", auth(), b"[" * 5000),
    ("POST /runs", "POST", "/runs", auth(), {"job": "hello"}),
    ("POST /runs", "POST", "/runs", auth(), {"job": "netty"}),
    ("GET /runs", "GET", "/runs?limit=0", auth(), None),
    ("GET /runs", "GET", "/runs?status=bogus", auth(), None),
    ("GET /runs", "GET", "/runs", NONE, None),
    ("GET /runs", "GET", "/runs", auth(JOBS_ONLY), None),
    ("GET /runs/{run_id}", "GET", "/runs/{run}", NONE, None),
    ("GET /runs/{run_id}", "GET", "/runs/{run}", auth(JOBS_ONLY), None),
    ("GET /runs/{run_id}", "GET", "/runs/nope", auth(), None),
    ("GET /runs/{run_id}/events", "GET", "/runs/{run}/events?after=-1", auth(), None),
    ("GET /runs/{run_id}/events", "GET", "/runs/{run}/events?after=" + "9" * 19, auth(), None),
    ("GET /runs/{run_id}/events", "GET", "/runs/{run}/events", {**auth(), "Last-Event-ID": "x"}, None),
    ("GET /runs/{run_id}/events", "GET", "/runs/{run}/events", NONE, None),
    ("GET /runs/{run_id}/events", "GET", "/runs/{run}/events", auth(JOBS_ONLY), None),
    ("GET /runs/{run_id}/events", "GET", "/runs/nope/events", auth(), None),
    ("POST /runs/{run_id}:cancel", "POST", "/runs/{run}:cancel", NONE, None),
    ("POST /runs/{run_id}:cancel", "POST", "/runs/{run}:cancel", auth(READER), None),
    ("POST /runs/{run_id}:cancel", "POST", "/runs/nope:cancel", auth(), None),
    ("POST /runs/{run_id}:cancel", "POST", "/runs/:cancel", auth(), None),
    ("POST /runs/{run_id}:cancel", "POST", "/runs/{run}:cancel", auth(), None),
    ("GET /sources", "GET", "/sources", NONE, None),
    ("GET /sources", "GET", "/sources", auth(RUNS_ONLY), None),
    ("GET /sources/{name}", "GET", "/sources/tools", NONE, None),
    ("GET /sources/{name}", "GET", "/sources/tools", auth(RUNS_ONLY), None),
    ("GET /sources/{name}", "GET", "/sources/a%20b", auth(), None),
    ("GET /sources/{name}", "GET", "/sources/nope", auth(), None),
    ("POST /sources", "POST", "/sources", NONE, SOURCE),
    ("POST /sources", "POST", "/sources", auth(WRITER), SOURCE),
    ("POST /sources", "POST", "/sources", auth(), b"{not json"),
    ("POST /sources", "POST", "/sources", auth(), {**SOURCE, "ref": "x" * 5000}),
    ("POST /sources", "POST", "/sources", auth(), {**SOURCE, "trusted": False}),
    ("POST /sources", "POST", "/sources", auth(), SOURCE),
    ("DELETE /sources/{name}", "DELETE", "/sources/nope", NONE, None),
    ("DELETE /sources/{name}", "DELETE", "/sources/nope", auth(WRITER), None),
    ("DELETE /sources/{name}", "DELETE", "/sources/a%20b", auth(), None),
    ("DELETE /sources/{name}", "DELETE", "/sources/nope", auth(), None),
    ("POST /sources/{name}:refresh", "POST", "/sources/tools:refresh", NONE, None),
    ("POST /sources/{name}:refresh", "POST", "/sources/tools:refresh", auth(WRITER), None),
    ("POST /sources/{name}:refresh", "POST", "/sources/a%20b:refresh", auth(), None),
    ("POST /sources/{name}:refresh", "POST", "/sources/nope:refresh", auth(), None),
    ("POST /sources/{name}:refresh", "POST", "/sources/moving:refresh", auth(), None),
    ("GET /workers", "GET", "/workers", NONE, None),
    ("GET /workers", "GET", "/workers", auth(JOBS_ONLY), None),
]


def _grants() -> tuple[TokenGrant, ...]:
    return (*grants(), TokenGrant(name="runs-only", digest=token_digest(RUNS_ONLY),
                                  scopes=frozenset({"runs:read", "runs:write"})))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient[Any], str]]:
    """A server bound beyond loopback (``/metrics`` then needs a token), with one finished run
    made with ``Idempotency-Key: k``."""
    container = make_container(tmp_path_factory.mktemp("openapi"), fake_runtime())
    app = make_app(container, grants=_grants(), loopback=False, max_body_bytes=4096)
    container.signature_check.override(providers.Object(lambda image, digest: ()))
    images = container.addon_images()
    images.publish(ADDON_REF, ADDON)
    images.publish(MOVING_REF, ADDON)
    with TestClient(app) as client:
        for body in (SOURCE, {"name": "moving", "ref": MOVING_REF, "trusted": True}):
            assert client.post("/sources", json=body, headers=auth()).status_code == 201
        images.publish(MOVING_REF, None)  # its refresh finds no manifest: E_ADDON_MANIFEST
        run = client.post("/runs", json=HELLO, headers={**auth(), "Idempotency-Key": "k"}).json()
        wait_finished(client, run["run_id"])
        yield client, run["run_id"]
    close(container)


def document(client: TestClient[Any]) -> dict[str, Any]:
    response = client.get("/schema/openapi.json", headers=auth())
    assert response.status_code == 200, response.text
    schema: dict[str, Any] = response.json()
    return schema


def operation(doc: dict[str, Any], label: str) -> dict[str, Any]:
    method, path = label.split(" ", 1)
    found: dict[str, Any] = doc["paths"][path][method.lower()]
    return found


def send(client: TestClient[Any], method: str, path: str, headers: dict[str, str], body: Any) -> Any:
    if isinstance(body, bytes):
        return client.request(method, path, headers={**headers, "Content-Type": "application/json"},
                              content=body)
    return client.request(method, path, headers=headers, json=body)


def assert_problem_matches_schema(body: dict[str, Any], doc: dict[str, Any], schema: dict[str, Any]) -> None:
    problem = doc["components"]["schemas"]["Problem"]
    assert schema["allOf"][0] == {"$ref": "#/components/schemas/Problem"}
    assert set(problem["required"]) <= set(body)
    for key, value in body.items():
        expected = problem["properties"].get(key, {}).get("type")
        python = {"string": str, "integer": int, "array": list, "object": dict}.get(expected or "")
        assert python is None or isinstance(value, python), (key, value)
    limits = schema["allOf"][1]["properties"]
    assert body["status"] == limits["status"]["const"]
    assert body["code"] in limits["code"]["enum"], (body["code"], limits["code"]["enum"])
    for item in body.get("errors", []):
        assert set(item) == {"arg", "code", "message"}


def test_every_error_a_route_answers_is_documented_as_problem_json_when_provoked(
    served: tuple[TestClient[Any], str],
) -> None:
    client, run_id = served
    doc = document(client)
    seen: dict[str, set[int]] = {}

    for label, method, path, headers, body in PROVOKED:
        response = send(client, method, path.replace("{run}", run_id), headers, body)

        assert response.status_code >= 400, (label, path, response.text)
        documented = operation(doc, label)["responses"].get(str(response.status_code))
        assert documented is not None, (label, response.status_code, response.text)
        assert list(documented["content"]) == [PROBLEM_MEDIA_TYPE]
        assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
        assert_problem_matches_schema(response.json(), doc, documented["content"][PROBLEM_MEDIA_TYPE]["schema"])
        seen.setdefault(label, set()).add(response.status_code)

    # ... and the requests above reach every documented error status but the store's 503.
    for label in ROUTE_ERRORS:
        statuses = {int(s) for s in operation(doc, label)["responses"] if int(s) >= 400} - {503}
        assert statuses == seen.get(label, set()), label


def test_every_error_response_in_the_document_is_problem_json_with_its_codes(
    served: tuple[TestClient[Any], str],
) -> None:
    doc = document(served[0])

    for label, codes in ROUTE_ERRORS.items():
        responses = operation(doc, label)["responses"]
        errors = {s: r for s, r in responses.items() if int(s) >= 400}
        assert {STATUS_FOR_CODE[c] for c in codes} == {int(s) for s in errors}, label
        for status, response in errors.items():
            schema = response["content"][PROBLEM_MEDIA_TYPE]["schema"]
            assert list(response["content"]) == [PROBLEM_MEDIA_TYPE], label
            assert set(schema["allOf"][1]["properties"]["code"]["enum"]) == {
                c for c in codes if STATUS_FOR_CODE[c] == int(status)}
            assert ("WWW-Authenticate" in response.get("headers", {})) == (status == "401")


def test_a_route_needs_a_token_exactly_when_the_document_says_so(
    served: tuple[TestClient[Any], str],
) -> None:
    client, run_id = served
    doc = document(client)

    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            url = re.sub(r"\{[a-z_]+\}", run_id if path.startswith("/runs") else "hello", path)
            stream = path.endswith("/events")
            response = client.request(method.upper(), url + ("?follow=false" if stream else ""))

            needs_token = op["security"] != []
            assert (response.status_code == 401) == needs_token, (method, path, response.text)
            if needs_token:
                assert op["security"] == [{"bearer": [op["security"][0]["bearer"][0]]}]
                granted = client.request(method.upper(), url, headers=auth(JOBS_ONLY))
                scope = op["security"][0]["bearer"][0]
                assert (granted.status_code == 403) == (scope != "jobs:read"), (path, scope)


def test_metrics_is_documented_open_and_is_open_when_bound_to_loopback(tmp_path: Path) -> None:
    container = make_container(tmp_path, fake_runtime())
    with TestClient(make_app(container, loopback=True)) as client:
        metrics = operation(document(client), "GET /metrics")
        response = client.get("/metrics")
    close(container)

    assert response.status_code == 200
    assert metrics["security"] == []
    assert not {"401", "403"} & set(metrics["responses"])
    assert "loopback" in metrics["description"]


def test_metrics_is_documented_as_needing_runs_read_when_bound_beyond_loopback(
    served: tuple[TestClient[Any], str],
) -> None:
    client, _ = served
    metrics = operation(document(client), "GET /metrics")

    assert metrics["security"] == [{"bearer": ["runs:read"]}]
    assert {"401", "403"} <= set(metrics["responses"])
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=auth(READER)).status_code == 200


def test_events_are_documented_as_the_stream_they_are_when_a_run_is_followed(
    served: tuple[TestClient[Any], str],
) -> None:
    client, run_id = served
    doc = document(client)
    with client.stream("GET", f"/runs/{run_id}/events?follow=false", headers=auth()) as response:
        messages = [m for m in sse_messages(response.iter_lines()) if "data" in m]

    stream = operation(doc, "GET /runs/{run_id}/events")["responses"]["200"]["content"]
    assert list(stream) == ["text/event-stream"]
    assert response.headers["content-type"].startswith("text/event-stream")
    event_schema = stream["text/event-stream"]["schema"]
    run_event = doc["components"]["schemas"]["RunEvent"]
    assert messages
    for message in messages:
        assert set(event_schema["required"]) <= set(message)
        assert re.fullmatch(event_schema["properties"]["id"]["pattern"], message["id"])
        assert set(run_event["required"]) == set(json.loads(message["data"]))
    assert operation(doc, "POST /runs")["responses"]["202"]["headers"]["Location"]["required"]


def test_links_lead_from_listed_ids_to_existing_operations_when_the_schema_is_read(
    served: tuple[TestClient[Any], str],
) -> None:
    doc = document(served[0])
    ids = {op["operationId"] for item in doc["paths"].values()
           for method, op in item.items() if method != "parameters"}

    run_links = operation(doc, "GET /runs")["responses"]["200"]["links"]
    job_links = operation(doc, "GET /jobs")["responses"]["200"]["links"]
    assert {link["operationId"] for link in run_links.values()} == {
        operation(doc, label)["operationId"] for label in
        ("GET /runs/{run_id}", "GET /runs/{run_id}/events", "POST /runs/{run_id}:cancel")}
    assert {link["operationId"] for link in job_links.values()} <= ids
    assert [link["parameters"] for link in job_links.values()] == [{"job_id": "$response.body#/jobs/0/id"}]


def test_document_build_fails_when_a_route_has_no_error_entry(tmp_path: Path) -> None:
    container = make_container(tmp_path, fake_runtime())
    app = make_app(container)
    schema = app.openapi_schema.to_schema()
    schema["paths"]["/new"] = {"get": {"responses": {"200": {}}}}
    scopes = {**route_scopes(app), "GET /new": ("jobs:read",)}
    close(container)

    complete(app.openapi_schema.to_schema(), route_scopes(app), loopback=True)
    with pytest.raises(LookupError, match=r"disagree on \['GET /new'\]"):
        complete(schema, scopes, loopback=True)


def test_store_failures_are_documented_503_problems_when_the_store_cannot_open(tmp_path: Path) -> None:
    container = make_container(tmp_path, fake_runtime())
    container.store.override(providers.Object(SqliteRunStore(tmp_path)))  # a directory: unusable
    with TestClient(make_app(container, loopback=False)) as client:
        doc = document(client)
        for label, codes in ROUTE_ERRORS.items():
            if "run.store.failed" not in codes:
                continue
            method, path = label.split(" ", 1)
            url = path.replace("{run_id}", "r1").replace("{name}", "tools")
            body = {"/runs": HELLO, "/sources": SOURCE}.get(url) if method == "POST" else None
            response = client.request(method, url, headers=auth(), json=body)

            assert response.status_code == 503, (label, response.text)
            documented = operation(doc, label)["responses"]["503"]["content"][PROBLEM_MEDIA_TYPE]
            assert_problem_matches_schema(response.json(), doc, documented["schema"])
    close(container)


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("OPTIONS", "/runs/abc", "GET, OPTIONS"),
    ("OPTIONS", "/runs/abc:cancel", "OPTIONS, POST"),
    ("DELETE", "/runs/abc", "GET, OPTIONS"),
    ("DELETE", "/runs/abc:cancel", "OPTIONS, POST"),
    ("OPTIONS", "/runs", "GET, OPTIONS, POST"),
])
def test_allow_lists_the_public_methods_when_a_run_path_is_asked(
    served: tuple[TestClient[Any], str], method: str, path: str, allow: str,
) -> None:
    response = served[0].request(method, path, headers=auth())

    assert response.headers["allow"] == allow


@pytest.mark.parametrize("key", ["", " ", "\x7f", "é", "k" * 256, "k", " k-1 ", "a b", "k" * 255])
def test_the_documented_idempotency_key_is_exactly_the_key_the_server_accepts(
    served: tuple[TestClient[Any], str], key: str,
) -> None:
    client, _ = served
    parameters = operation(document(client), "POST /runs")["parameters"]
    (schema,) = [p["schema"] for p in parameters if p["name"] == "Idempotency-Key"]
    headers: dict[str, str | bytes] = {**auth(), "Idempotency-Key": key.encode("latin-1")}

    response = client.post("/runs", json={"job": "nope"}, headers=headers)

    documented = re.fullmatch(schema["pattern"], key) is not None
    assert (response.json()["code"] != "request.invalid") == documented, (key, response.text)
