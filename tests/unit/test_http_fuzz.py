"""Garbage in, never a 5xx out: random bodies, headers and paths all get coded problems."""

from __future__ import annotations

import json
from typing import Any, Iterator
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from tests.unit.http_support import auth, close, fake_runtime, make_app, make_container

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
BODY_KEYS = st.sampled_from(["job", "job_id", "args", "requested_security_profile", "x", ""])
BODIES = st.one_of(
    st.binary(max_size=200),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(BODY_KEYS, JSON_VALUES, max_size=4).map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"job": st.sampled_from(["hello", "netty", "broken", "nope"]),
                           "args": st.dictionaries(st.sampled_from(["name", "level", "z"]),
                                                   JSON_VALUES, max_size=3)}
                          ).map(lambda v: json.dumps(v).encode()),
)
SEGMENTS = st.text(min_size=0, max_size=12).map(lambda t: quote(t, safe=""))
PATHS = st.tuples(
    st.sampled_from(["", "/jobs", "/runs", "/plans", "/healthz", "/metrics", "/schema", "/runs/x"]),
    st.lists(SEGMENTS, max_size=3),
    st.sampled_from(["", ":cancel", "/events", "?limit=-1", "?after=x", "?cursor=%00", "/"]),
).map(lambda p: p[0] + "".join("/" + s for s in p[1]) + p[2])


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient[Any]]:
    container = make_container(tmp_path_factory.mktemp("fuzz"), fake_runtime())
    with TestClient(make_app(container)) as client:
        yield client
    close(container)


def assert_coded(response: Any) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400 and response.request.method != "HEAD":
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"]


@FUZZ
@given(path=st.sampled_from(["/plans", "/runs"]), body=BODIES,
       content_type=st.sampled_from(["application/json", "text/plain", "", "multipart/form-data"]))
def test_post_never_5xx_when_body_is_garbage(client: TestClient[Any], path: str, body: bytes,
                                             content_type: str) -> None:
    headers = {**auth(), "Content-Type": content_type} if content_type else auth()

    assert_coded(client.post(path, content=body, headers=headers))


@FUZZ
@given(path=PATHS, method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]),
       token=st.sampled_from([None, "admin-token", "nope", ""]))
def test_any_path_never_5xx_when_path_or_method_is_unexpected(
    client: TestClient[Any], path: str, method: str, token: str | None
) -> None:
    assume(not path.startswith("//"))  # httpx refuses such URLs before sending anything
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    if path.endswith("/events") and method == "GET" and token == "admin-token":
        return  # an existing run's event stream would follow it; covered elsewhere

    assert_coded(client.request(method, path or "/", headers=headers))


@FUZZ
@given(value=st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=300))
def test_headers_never_5xx_when_idempotency_key_or_auth_is_garbage(client: TestClient[Any], value: str) -> None:
    runs = client.post("/runs", json={"job": "nope"}, headers={**auth(), "Idempotency-Key": value})
    jobs = client.get("/jobs", headers={"Authorization": value})

    assert_coded(runs)
    assert_coded(jobs)
