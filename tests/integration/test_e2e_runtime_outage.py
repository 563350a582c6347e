"""The runtime goes away mid-run (a proxy in front of its socket is cut: listener and every
connection closed, as when the daemon dies; the shared daemon itself is never touched): the run
ends ``error`` ``container.runtime.unavailable`` with no traceback, its secrets go at once, and
its container, which lives on in the runtime, is removed once the runtime answers again — by
the server that ran it, or by the next start for a CLI run. ``/healthz`` says degraded
meanwhile."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

from tests.integration.api_support import DEV, Server, start_server
from tests.integration.e2e_support import (  # noqa: F401 - fixtures
    IT_ROOT,
    Runtime,
    Sandbox,
    rt,
    secrets_dir,
)
from tests.integration.socket_proxy import SocketProxy, proxied

SLEEPER = """\
    executor: container
    image: alpine:3.20
    command: ["/bin/sh", "-c", "echo started; sleep 120"]
    args:
      - {name: token, type: string, format: secret, required: true}
    """
TOKEN = "t0ken-through-an-outage"
UNAVAILABLE = "container.runtime.unavailable"


@pytest.fixture
def outage(rt: Runtime) -> Iterator[tuple[Sandbox, SocketProxy]]:
    """A sandbox whose flwd reaches the runtime only through a proxy the test can cut."""
    IT_ROOT.mkdir(mode=0o755, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix=f"out-{rt.name}-", dir=IT_ROOT))
    base.chmod(0o755)
    with proxied(base, rt.socket) as proxy:
        box = Sandbox(base=base, runtime=Runtime(name=rt.name, socket=proxy.url))
        box.write_job("sleeper", SLEEPER)
        try:
            yield box, proxy
        finally:
            for run_id in box.run_ids:
                for name in rt.containers(run_id):
                    rt.cli("rm", "-f", name)
                shutil.rmtree(secrets_dir(run_id), ignore_errors=True)
            shutil.rmtree(base, ignore_errors=True)


def _eventually(check: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while not (value := check()):
        assert time.monotonic() < deadline, f"{what} within {seconds}s"
        time.sleep(0.5)
    return value


def _serve(box: Sandbox, rt: Runtime) -> Server:
    return start_server(box.base, ["--dev"], box.env({"FLWD_RUNTIME": rt.name,
                                                      "FLWD_CANCEL_GRACE": "2s"}))


def test_cli_run_ends_runtime_unavailable_when_runtime_goes_away(
        outage: tuple[Sandbox, SocketProxy], rt: Runtime) -> None:
    box, proxy = outage
    running = box.start("sleeper", "--token", TOKEN, "--json")
    run_id = running.read_until("run.output", timeout=60)["run_id"]

    proxy.cut()
    result = running.finish(timeout=60)

    assert result.code == 125, result.describe()
    assert f"error[{UNAVAILABLE}]" in result.err and "Traceback" not in result.err
    last = result.events()[-1]
    assert last["type"] == "run.finished" and last["data"]["code"] == UNAVAILABLE
    assert not secrets_dir(run_id).exists(), "the secrets directory outlived the run"

    proxy.restore()
    server = _serve(box, rt)  # the next start removes the container the outage left
    try:
        _eventually(lambda: rt.containers(run_id) == [], 60, "the container was not removed")
    finally:
        server.stop()


def _health(server: Server) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{server.url}/healthz", timeout=30).json()
    return body


def test_server_run_ends_runtime_unavailable_and_container_goes_when_runtime_returns(
        outage: tuple[Sandbox, SocketProxy], rt: Runtime) -> None:
    box, proxy = outage
    server = _serve(box, rt)
    try:
        with httpx.Client(base_url=server.url, headers=DEV, timeout=60) as client:
            run_id = client.post("/runs", json={"job": "sleeper",
                                                "args": {"token": TOKEN}}).json()["run_id"]
            box.run_ids.add(run_id)
            _eventually(lambda: client.get(f"/runs/{run_id}").json()["status"] == "running",
                        60, "the run never started")
            assert _health(server)["status"] == "ok"

            proxy.cut()
            ended = _eventually(lambda: (r := client.get(f"/runs/{run_id}").json())["finished_at"]
                                and r, 60, "the run did not end")
            degraded = _eventually(lambda: (h := _health(server))["status"] == "degraded" and h,
                                   30, "/healthz did not notice the outage")
            left = rt.containers(run_id)

            proxy.restore()
            _eventually(lambda: rt.containers(run_id) == [], 90, "the container was not removed")
            _eventually(lambda: _health(server)["status"] == "ok", 30, "/healthz stayed degraded")

        assert (ended["status"], ended["code"]) == ("error", UNAVAILABLE), ended
        assert degraded["runtime_problem"]["code"] == UNAVAILABLE
        assert left, "the container should outlive the outage until the runtime is back"
        assert not secrets_dir(run_id).exists()
    finally:
        server.stop()
    assert "Traceback" not in server.log.read_text(errors="replace")
