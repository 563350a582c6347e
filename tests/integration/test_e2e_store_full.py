"""A data dir that fills up mid-run (a small tmpfs made here, as root): the run stops and ends
``error`` ``run.store.failed`` with no traceback, exit 125, no container and no secrets left;
once space is freed the run is recorded as ended (the server's own retry, or the next start's
reconcile for a CLI that had exited).

Docker only: a mount made now is not visible inside the rootless Podman service's mount
namespace, which was set up when that (shared) service started, so Podman could not mount the
run directory from the tmpfs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.integration.api_support import DEV, Server, start_server
from tests.integration.e2e_support import IT_ROOT, Runtime, Sandbox, runtime_for, secrets_dir

pytestmark = pytest.mark.docker

# Floods the store with output (one WAL commit per line) until the 1 MiB data dir is full, then
# keeps running: the container must be stopped by flwd, not end by itself.
CHATTY = """\
    executor: container
    image: alpine:3.20
    command: ["/bin/sh", "-c", "i=0; while [ $i -lt 5000 ]; do echo \\"line $i $(printf '%080d' 0)\\"; i=$((i+1)); done; sleep 120"]
    args:
      - {name: token, type: string, format: secret, required: true}
    """
TOKEN = "t0ken-in-a-full-store"
STORE_FAILED = "run.store.failed"


@pytest.fixture
def rt(request: pytest.FixtureRequest) -> Runtime:
    return runtime_for("docker", request)


@pytest.fixture
def full(rt: Runtime) -> Iterator[Sandbox]:
    """A sandbox whose data dir is a 1 MiB tmpfs; unmounted and removed afterwards, with any
    container and secrets directory its runs left (the test fails on those first)."""
    IT_ROOT.mkdir(mode=0o755, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix=f"full-{rt.name}-", dir=IT_ROOT))
    base.chmod(0o755)
    box = Sandbox(base=base, runtime=rt)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(box.data)],
                   check=True)
    box.write_job("chatty", CHATTY)
    try:
        yield box
    finally:
        for run_id in box.run_ids:
            for name in rt.containers(run_id):
                rt.cli("rm", "-f", name)
            shutil.rmtree(secrets_dir(run_id), ignore_errors=True)
        subprocess.run(["umount", "-l", str(box.data)], check=False)
        shutil.rmtree(base, ignore_errors=True)


def _free_space(box: Sandbox) -> None:
    subprocess.run(["mount", "-o", "remount,size=64m", str(box.data)], check=True)


def _stored(box: Sandbox, run_id: str) -> dict[str, Any]:
    """The run as the store holds it (read by a separate `flwd :runs`, not by a server)."""
    return next(r for r in box.runs() if r["run_id"] == run_id)


def test_cli_run_ends_store_failed_and_leaves_nothing_when_data_dir_fills(full: Sandbox,
                                                                        rt: Runtime) -> None:
    result = full.flwd("chatty", "--token", TOKEN, timeout=120)
    (run,) = full.runs()
    run_id = run["run_id"]

    assert result.code == 125, result.describe()
    assert f"error[{STORE_FAILED}]" in result.err and "Traceback" not in result.err
    assert TOKEN not in result.err + result.out
    assert rt.containers(run_id) == [], "the container was left behind"
    assert not secrets_dir(run_id).exists(), "the secrets directory was left behind"

    _free_space(full)
    server = start_server(full.base, ["--dev"], full.env({"FLWD_RUNTIME": rt.name}))
    try:
        ended = _stored(full, run_id)
    finally:
        server.stop()
    assert ended["status"] == "error" and ended["finished_at"], ended


def _wait_stored_end(box: Sandbox, run_id: str, seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        run = _stored(box, run_id)
        if run["finished_at"] or time.monotonic() > deadline:
            return run
        time.sleep(1)


def _events(server: Server, run_id: str, after: int = 0) -> list[dict[str, Any]]:
    """Every SSE message until the server closes the stream (bounded by the client timeout)."""
    messages, message = [], {}
    with httpx.Client(base_url=server.url, headers=DEV, timeout=120) as client:
        with client.stream("GET", f"/runs/{run_id}/events",
                           headers={"Last-Event-ID": str(after)}) as response:
            for line in response.iter_lines():
                if line == "" and "data" in message:
                    messages.append({"event": message.get("event"),
                                     "data": json.loads(message["data"])})
                    message = {}
                field, _, value = line.partition(":")
                if field:
                    message[field] = value.strip()
    return messages


def test_server_run_ends_store_failed_and_is_recorded_when_space_is_freed(full: Sandbox,
                                                                           rt: Runtime) -> None:
    server = start_server(full.base, ["--dev"], full.env({"FLWD_RUNTIME": rt.name,
                                                          "FLWD_CANCEL_GRACE": "2s"}))
    try:
        with httpx.Client(base_url=server.url, headers=DEV, timeout=60) as client:
            posted = client.post("/runs", json={"job": "chatty", "args": {"token": TOKEN}})
            assert posted.status_code == 202, posted.text
            run_id = posted.json()["run_id"]
            full.run_ids.add(run_id)
            streamed = _events(server, run_id)
            shown = client.get(f"/runs/{run_id}").json()
            refused = client.post("/runs", json={"job": "chatty", "args": {"token": TOKEN}})

        assert streamed[-1]["event"] == "run.finished", streamed[-3:]
        assert streamed[-1]["data"]["data"]["code"] == STORE_FAILED
        assert (shown["status"], shown["code"]) == ("error", STORE_FAILED)
        assert refused.status_code == 503 and refused.json()["code"] == STORE_FAILED
        assert rt.containers(run_id) == [] and not secrets_dir(run_id).exists()

        _free_space(full)
        ended = _wait_stored_end(full, run_id, 90)
        assert (ended["status"], ended["code"]) == ("error", STORE_FAILED), ended
    finally:
        assert server.stop() == 0, server.log.read_text(errors="replace")
    assert "Traceback" not in server.log.read_text(errors="replace")
