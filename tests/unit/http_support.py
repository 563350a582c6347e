"""Shared setup of the HTTP API tests: a container over tmp dirs with the FakeRuntime swapped in."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest
import uvicorn

from dependency_injector import providers
from litestar import Litestar
from litestar.testing import TestClient

from flwd.adapters.fake_addons import FakeAddonImages
from flwd.adapters.fake_signatures import FakeSignatureVerifier
from flwd.adapters.fake_runtime import FakeRuntime
from flwd.entrypoints.config import FlwdConfig
from flwd.entrypoints.tokens import ALL_SCOPES, TokenGrant, token_digest
from flwd.entrypoints.container import Container, build_container
from flwd.entrypoints.http.app import create_app
from flwd.entrypoints.http.settings import ServerSettings
from flwd.entrypoints.http.sse import StreamTiming
from flwd.ports.kinds import DispatchKind
from flwd.ports.runtime import OutputLine

ADMIN, READER, WRITER, JOBS_ONLY = "admin-token", "reader-token", "writer-token", "jobs-token"
FAST = StreamTiming(keepalive_seconds=0.2, poll_seconds=0.05)

JOBS = {
    "hello": """
executor: container
image: alpine:3.20
command: ["echo", "hello"]
args:
  - {name: name, type: string, required: true}
  - {name: level, type: integer, minimum: 1, maximum: 5}
""",
    "team/nightly": """
executor: container
image: alpine:3.20
description: nested id
""",
    "netty": """
executor: container
image: alpine:3.20
container: {network: bridge}
""",
    "broken": "executor: container\nargs: [\n",
}


def grants() -> tuple[TokenGrant, ...]:
    def grant(token: str, *scopes: str) -> TokenGrant:
        return TokenGrant(name=token, digest=token_digest(token), scopes=frozenset(scopes))

    return (
        grant(ADMIN, *ALL_SCOPES),
        grant(READER, "jobs:read", "runs:read"),
        grant(WRITER, "jobs:read", "runs:read", "runs:write"),
        grant(JOBS_ONLY, "jobs:read"),
    )


def auth(token: str = ADMIN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def write_jobs(root: Path) -> Path:
    for job_id, text in JOBS.items():
        directory = root / job_id
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "job.yaml").write_text(text)
    return root


def make_container(tmp: Path, runtime: FakeRuntime, *, max_concurrent: int = 4,
                   dispatch: DispatchKind = DispatchKind.LOCAL) -> Container:
    """*dispatch* ``none``: the container of ``flwd :serve --no-runtime``."""
    config = FlwdConfig(jobs_dirs=(str(write_jobs(tmp / "jobs")),), data_dir=str(tmp / "data"),
                        max_concurrent_runs=max_concurrent, cancel_grace=0.5)
    container = build_container(config, dispatch=dispatch)
    container.runtime.override(providers.Object(runtime))
    container.addon_images.override(providers.Object(FakeAddonImages()))
    container.signatures.override(providers.Object(FakeSignatureVerifier()))
    return container


def fake_runtime(*, run_seconds: float = 0.0, lines: tuple[str, ...] = ("hello Alice",)) -> FakeRuntime:
    return FakeRuntime(run_seconds=run_seconds,
                       output_lines=[OutputLine(stream="stdout", line=line) for line in lines])


def make_app(container: Container, **settings: Any) -> Litestar:
    settings.setdefault("grants", grants())
    settings.setdefault("timing", FAST)
    return create_app(container, server_settings=ServerSettings(**settings))


def close(container: Container) -> None:
    container.supervisor().shutdown(cancel=True)
    container.shutdown_resources()
    container.store().close()


def wait_finished(client: TestClient[Any], run_id: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run: dict[str, Any] = client.get(f"/runs/{run_id}", headers=auth()).json()
        if run["finished_at"] is not None or time.monotonic() > deadline:
            return run
        time.sleep(0.02)


def wait_status(client: TestClient[Any], run_id: str, status: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while client.get(f"/runs/{run_id}", headers=auth()).json()["status"] != status:
        assert time.monotonic() < deadline, f"run {run_id} never reached {status}"
        time.sleep(0.02)


def sse_messages(lines: Iterator[str]) -> Iterator[dict[str, str]]:
    """Parse an SSE body into messages ``{id, event, data, comment}``."""
    message: dict[str, str] = {}
    for line in lines:
        if line == "":
            if message:
                yield message
            message = {}
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        key = "comment" if field == "" else field
        message[key] = message.get(key, "") + value
    if message:
        yield message


def read_events(client: TestClient[Any], run_id: str, headers: dict[str, str] | None = None,
                query: str = "") -> list[dict[str, Any]]:
    """Every event message of the stream until the server closes it (after run.finished)."""
    with client.stream("GET", f"/runs/{run_id}/events{query}",
                       headers={**auth(), **(headers or {})}) as response:
        assert response.status_code == 200, response.read()
        return [
            {"id": int(m["id"]), "event": m["event"], "data": json.loads(m["data"])}
            for m in sse_messages(response.iter_lines()) if "data" in m
        ]


@contextmanager
def client_with_jobs(tmp: Path, jobs: dict[str, str], runtime: FakeRuntime | None = None
                     ) -> Iterator[tuple[Container, TestClient[Any]]]:
    """A TestClient over the usual jobs plus *jobs* (id -> job.yaml text), closed afterwards."""
    container = make_container(tmp, runtime or fake_runtime())
    for job_id, text in jobs.items():
        (tmp / "jobs" / job_id).mkdir(parents=True, exist_ok=True)
        (tmp / "jobs" / job_id / "job.yaml").write_text(text)
    with TestClient(make_app(container)) as client:
        yield container, client
    close(container)


@contextmanager
def served(app: Litestar) -> Iterator[str]:
    """*app* on a real uvicorn in a thread (the TestClient buffers streamed bodies); its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           lifespan="on", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def slow_server(tmp_path: Path) -> Iterator[str]:
    """A real server whose fake runtime's runs take 30 s: there is time to interrupt them."""
    container = make_container(tmp_path, fake_runtime(run_seconds=30))
    with served(make_app(container)) as base:
        yield base
    close(container)
