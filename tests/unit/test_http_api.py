"""The API's read endpoints, plans, auth and problem details, over the fake runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from litestar.testing import TestClient

from flwd.adapters.fake_runtime import FakeRuntime
from flwd.entrypoints.container import Container
from tests.unit.http_support import (
    JOBS_ONLY,
    READER,
    WRITER,
    auth,
    close,
    fake_runtime,
    make_app,
    make_container,
)

PROBLEM = "application/problem+json"


@pytest.fixture
def runtime() -> FakeRuntime:
    return fake_runtime()


@pytest.fixture
def container(tmp_path: Path, runtime: FakeRuntime) -> Iterator[Container]:
    container = make_container(tmp_path, runtime)
    yield container
    close(container)


@pytest.fixture
def client(container: Container) -> Iterator[TestClient[Any]]:
    with TestClient(make_app(container)) as client:
        yield client


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["type"] == f"urn:flwd:error:{code}"
    assert body["status"] == status
    assert body["title"] and isinstance(body["detail"], str)
    return body


# --- healthz, jobs, plans ------------------------------------------------------------


def test_healthz_reports_runtime_without_token_when_runtime_enabled(client: TestClient[Any]) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "runtime": {"name": "fake", "version": "1.0",
                                                           "rootless": True}}


def test_healthz_reports_null_runtime_when_started_without_runtime(container: Container) -> None:
    with TestClient(make_app(container, runtime_enabled=False)) as client:
        response = client.get("/healthz")

    assert response.json() == {"status": "ok", "runtime": None}


def test_healthz_is_degraded_when_runtime_unreachable(container: Container, runtime: FakeRuntime) -> None:
    runtime.unavailable = True

    with TestClient(make_app(container)) as client:
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "runtime": None, "runtime_problem": {
        "code": "container.runtime.unavailable", "detail": "fake runtime is unavailable"}}


def test_jobs_lists_valid_and_invalid_jobs_when_token_has_jobs_read(client: TestClient[Any]) -> None:
    response = client.get("/jobs", headers=auth(JOBS_ONLY))

    assert response.status_code == 200
    body = response.json()
    assert {job["id"] for job in body["jobs"]} == {"hello", "team/nightly", "netty"}
    assert [bad["id"] for bad in body["invalid"]] == ["broken"]


def test_job_detail_shows_args_when_id_contains_slash(client: TestClient[Any]) -> None:
    nested = client.get("/jobs/team/nightly", headers=auth())
    hello = client.get("/jobs/hello", headers=auth())

    assert nested.status_code == 200 and nested.json()["description"] == "nested id"
    assert [a["name"] for a in hello.json()["args"]] == ["name", "level"]


def test_job_detail_is_404_when_job_unknown(client: TestClient[Any]) -> None:
    assert_problem(client.get("/jobs/no/such", headers=auth()), 404, "job.not.found")


def test_job_detail_is_422_spec_invalid_when_spec_broken(client: TestClient[Any]) -> None:
    assert_problem(client.get("/jobs/broken", headers=auth()), 422, "spec.invalid")


def test_plan_returns_plan_dict_when_args_valid(client: TestClient[Any], runtime: FakeRuntime) -> None:
    response = client.post("/plans", json={"job_id": "hello", "args": {"name": "Alice"}},
                           headers=auth(JOBS_ONLY))

    assert response.status_code == 200
    plan = response.json()
    assert plan["job_id"] == "hello" and plan["profile"] == "secure"
    assert plan["env"]["ARG_NAME"] == "Alice"
    assert runtime.created == []


def test_plan_lists_every_arg_problem_when_args_invalid(client: TestClient[Any]) -> None:
    response = client.post("/plans", json={"job": "hello", "args": {"level": "9", "x": 1}},
                           headers=auth())

    body = assert_problem(response, 422, "args.invalid")
    assert {(e["arg"], e["code"]) for e in body["errors"]} == {
        ("name", "required"), ("level", "type"), ("x", "unknown")}


def test_run_is_422_range_when_an_argument_is_too_long_for_the_environment(
        client: TestClient[Any]) -> None:
    response = client.post("/runs", json={"job": "hello", "args": {"name": "x" * 140_000}},
                           headers=auth())

    body = assert_problem(response, 422, "args.invalid")
    assert [(e["arg"], e["code"]) for e in body["errors"]] == [("name", "range")]
    assert client.get("/runs", headers=auth()).json()["runs"] == []


def test_jobs_carry_spec_warnings_when_a_spec_has_an_unknown_key(
        client: TestClient[Any], tmp_path: Path) -> None:
    typo = tmp_path / "jobs" / "typo"
    typo.mkdir()
    (typo / "job.yaml").write_text("executor: container\nimage: alpine:3.20\ntimout: 10m\n")
    warning = "unknown key 'timout' ignored; did you mean 'timeout'?"

    listed = client.get("/jobs", headers=auth()).json()["jobs"]
    one = client.get("/jobs/typo", headers=auth()).json()

    assert [job["warnings"] for job in listed if job["id"] == "typo"] == [[warning]]
    assert one["warnings"] == [warning] and one["timeout_seconds"] is None
    assert all(job["warnings"] == [] for job in listed if job["id"] != "typo")


def test_plan_shows_denial_without_raising_when_job_needs_a_relaxation(client: TestClient[Any]) -> None:
    response = client.post("/plans", json={"job": "netty", "args": {}}, headers=auth())

    assert response.status_code == 200
    assert response.json()["allowed"] is False


# --- auth ----------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic YWRtaW4=", "Bearer", "bearer  "])
def test_requests_are_401_with_challenge_when_token_missing_or_unknown(
    client: TestClient[Any], header: str | None
) -> None:
    headers = {"Authorization": header} if header is not None else {}

    response = client.get("/jobs", headers=headers)

    assert_problem(response, 401, "auth.unauthenticated")
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path", "token"), [
    ("GET", "/runs", JOBS_ONLY),
    ("POST", "/runs", READER),
    ("POST", "/runs/x:cancel", READER),
    ("GET", "/runs/x/events", JOBS_ONLY),
])
def test_requests_are_403_when_token_lacks_scope(
    client: TestClient[Any], method: str, path: str, token: str
) -> None:
    response = client.request(method, path, headers=auth(token), json={"job": "hello"})

    assert_problem(response, 403, "auth.forbidden")


def test_disabled_profile_is_403_when_token_lacks_runs_admin(client: TestClient[Any]) -> None:
    body = {"job": "hello", "args": {"name": "A"}, "requested_security_profile": "disabled"}

    run = client.post("/runs", json=body, headers=auth(WRITER))
    plan = client.post("/plans", json=body, headers=auth(WRITER))
    admin = client.post("/plans", json=body, headers=auth())

    assert_problem(run, 403, "auth.forbidden")
    assert_problem(plan, 403, "auth.forbidden")
    assert admin.status_code in (200, 422) and admin.json().get("code") != "auth.forbidden"


# --- problems for malformed requests ------------------------------------------------


@pytest.mark.parametrize("content", [
    b"{not json", b"[]", b'"text"', b'{"job": 5}', b'{"job": "hello", "args": []}',
    b'{"job": "hello", "args": "x"}', b'{"job": "hello", "extra": 1}', b"{}",
    b'{"job": "hello", "job_id": "other"}', b'{"job": "hello", "requested_security_profile": "lax"}',
    b'{"job": "hello", "args": {"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
    b'{"job": "hello", "args": {"level": ' + b"9" * 5000 + b"}}",
])
def test_post_bodies_are_400_request_invalid_when_malformed(client: TestClient[Any], content: bytes) -> None:
    for path in ("/plans", "/runs"):
        response = client.post(path, content=content, headers=auth())

        assert_problem(response, 400, "request.invalid")


def test_post_body_is_413_when_larger_than_a_mebibyte(client: TestClient[Any]) -> None:
    content = b'{"job": "hello", "args": {"name": "' + b"a" * (1 << 20) + b'"}}'

    response = client.post("/plans", content=content, headers=auth())

    assert_problem(response, 413, "request.too.large")


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=x", "status=weird", "cursor=%%%"])
def test_run_list_is_400_when_query_invalid(client: TestClient[Any], query: str) -> None:
    assert_problem(client.get(f"/runs?{query}", headers=auth()), 400, "request.invalid")


def test_unknown_route_and_method_are_coded_problems(client: TestClient[Any]) -> None:
    assert_problem(client.get("/nope", headers=auth()), 404, "route.not.found")
    assert_problem(client.delete("/jobs", headers=auth()), 405, "method.not.allowed")
    assert_problem(client.post("/runs/abc:explode", headers=auth()), 404, "route.not.found")


def test_unknown_run_is_404_run_not_found(client: TestClient[Any]) -> None:
    assert_problem(client.get("/runs/nope", headers=auth()), 404, "run.not.found")
    assert_problem(client.get("/runs/nope/events", headers=auth()), 404, "run.not.found")
    assert_problem(client.post("/runs/nope:cancel", headers=auth()), 404, "run.not.found")


# --- metrics and schema --------------------------------------------------------------


def test_metrics_open_on_loopback_and_count_requests(client: TestClient[Any]) -> None:
    client.get("/jobs", headers=auth())

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'flwd_runs{state="succeeded"} 0' in response.text
    assert 'flwd_http_requests_total{method="GET",route="/jobs",status="200"} 1' in response.text


def test_metrics_need_runs_read_when_bound_beyond_loopback(container: Container) -> None:
    with TestClient(make_app(container, loopback=False)) as client:
        anonymous = client.get("/metrics")
        jobs_only = client.get("/metrics", headers=auth(JOBS_ONLY))
        reader = client.get("/metrics", headers=auth(READER))

    assert_problem(anonymous, 401, "auth.unauthenticated")
    assert_problem(jobs_only, 403, "auth.forbidden")
    assert reader.status_code == 200


def test_openapi_document_lists_every_endpoint_with_cancel_path(client: TestClient[Any]) -> None:
    response = client.get("/schema/openapi.json", headers=auth())
    anonymous = client.get("/schema/openapi.json")

    assert_problem(anonymous, 401, "auth.unauthenticated")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert set(paths) == {"/healthz", "/metrics", "/jobs", "/jobs/{job_id}", "/plans", "/runs",
                          "/runs/{run_id}", "/runs/{run_id}/events", "/runs/{run_id}:cancel",
                          "/sources", "/sources/{name}", "/sources/{name}:refresh",
                          "/workers"}
    assert "post" not in paths["/runs/{run_id}"]
