"""Shared setup of the web console tests: the API's app with the console plugin, over a fake
runtime, and helpers to sign in and post forms with the page's CSRF token."""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from litestar import Litestar
from litestar.testing import TestClient

from flwd.adapters.fake_runtime import FakeRuntime
from flwd.entrypoints.container import Container
from flwd.entrypoints.http.app import create_app
from flwd.entrypoints.http.settings import ServerSettings
from flwd.entrypoints.tokens import TokenGrant
from flwd.entrypoints.web.plugin import ConsolePlugin
from flwd.ports.sealing import SecretKey
from tests.unit.http_support import FAST, close, fake_runtime, grants, make_container

SECRET_VALUE = "s3cr3t-Zq8-value"
EVERY_TYPE = """
executor: container
image: alpine:3.20
command: ["true"]
args:
  - {name: who, type: string, required: true, description: Who to greet, pattern: "[A-Za-z]+"}
  - {name: count, type: integer, minimum: 1, maximum: 5, default: 2}
  - {name: ratio, type: number, maximum: 1.5}
  - {name: loud, type: boolean, default: true}
  - {name: colour, type: string, enum: [red, green]}
  - {name: tags, type: array, items: string}
  - {name: sizes, type: array, items: integer, enum: [1, 2, 3]}
  - {name: extra, type: object}
  - {name: api_token, type: string, format: secret, required: true}
"""
_CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


def console_app(container: Container, secret_key: SecretKey | None = None,
                tokens: tuple[TokenGrant, ...] | None = None) -> Litestar:
    """*secret_key*: as ``flwd :serve`` gives the configured one; *tokens*: the grants
    (default: ``http_support.grants()``)."""
    settings = ServerSettings(grants=grants() if tokens is None else tokens, timing=FAST)
    return create_app(container, server_settings=settings,
                      plugins=[ConsolePlugin(container.console_sessions(),
                                             secret_key=secret_key)])


@contextmanager
def console(tmp: Path, runtime: FakeRuntime | None = None,
            jobs: dict[str, str] | None = None) -> Iterator[TestClient[Any]]:
    container = make_container(tmp, runtime or fake_runtime())
    for job_id, text in {"every": EVERY_TYPE, **(jobs or {})}.items():
        (tmp / "jobs" / job_id).mkdir(parents=True, exist_ok=True)
        (tmp / "jobs" / job_id / "job.yaml").write_text(text)
    with TestClient(console_app(container)) as client:
        yield client
    close(container)


def csrf_of(page: str) -> str:
    found = _CSRF.search(page)
    assert found, "the page has no CSRF token"
    return found.group(1)


def sign_in(client: TestClient[Any], token: str) -> Any:
    page = client.get("/ui/signin")
    return client.post("/ui/signin", data={"token": token, "_csrf_token": csrf_of(page.text),
                                           "next": "/ui/jobs"}, follow_redirects=False)


def post_form(client: TestClient[Any], path: str, fields: list[tuple[str, str]],
              page_path: str | None = None) -> Any:
    """POST *fields* (repeatable) to *path* with the CSRF token of the page at *page_path*."""
    token = csrf_of(client.get(page_path or path).text)
    return client.post(path, content=_encode([*fields, ("_csrf_token", token)]),
                       headers={"Content-Type": "application/x-www-form-urlencoded"},
                       follow_redirects=False)


def _encode(fields: list[tuple[str, str]]) -> bytes:
    from urllib.parse import urlencode

    return urlencode(fields).encode()
