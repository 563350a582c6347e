"""Request bodies whose JSON strings are not UTF-8 are ``request.invalid`` (400), not a 500 (SPEC 8)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from litestar.testing import TestClient

from tests.unit.http_support import auth, close, fake_runtime, make_app, make_container


@pytest.fixture()
def client(tmp_path: Path) -> Iterator[TestClient[Any]]:
    container = make_container(tmp_path, fake_runtime())
    with TestClient(make_app(container)) as client:
        yield client
    close(container)


@pytest.mark.parametrize("path", ["/runs", "/plans"])
def test_body_is_400_request_invalid_when_a_json_string_is_not_utf8(
        client: TestClient[Any], path: str) -> None:
    body = b'{"job": "hello", "args": {"name": "\xff\xfe"}}'

    response = client.post(path, content=body,
                           headers={**auth(), "Content-Type": "application/json"})

    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "request.invalid"
