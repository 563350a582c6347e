"""A runtime slow to answer log reads loses no output (SPEC section 6, lossless): through a
proxy that holds back every ``/logs`` answer longer than the drain once waited after the exit."""

from __future__ import annotations

import json
from typing import Iterator

import pytest

from tests.integration.delay_proxy import DelayingProxy
from tests.integration.e2e_support import (  # noqa: F401 - fixtures
    Runtime,
    Sandbox,
    rt,
    sandbox,
    unique,
)

LOG_DELAY = 6.0  # the drain used to stop waiting 5 s after the exit, read in flight or not
SCRIPT = """\
echo out-1
echo err-1 >&2
echo out-2
echo err-2 >&2
printf 'out-last'
"""


@pytest.fixture(scope="module")
def slow_logs(rt: Runtime) -> Iterator[DelayingProxy]:
    proxy = DelayingProxy(rt.socket, LOG_DELAY)
    yield proxy
    proxy.close()


def _output(out: str) -> dict[str, list[str]]:
    streams: dict[str, list[str]] = {"stdout": [], "stderr": []}
    for line in out.splitlines():
        event = json.loads(line)
        if event["type"] == "run.output":
            streams[event["data"]["stream"]].append(event["data"]["line"])
    return streams


def test_run_keeps_every_line_when_each_log_read_answers_late(
        sandbox: Sandbox, rt: Runtime, slow_logs: DelayingProxy) -> None:
    job = sandbox.write_job(unique("slow-logs"), """\
        executor: container
        image: alpine:3.20
        script: main.sh
        """, {"main.sh": SCRIPT})

    result = sandbox.flwd(job, "--json", env={**rt.env, **_at(rt, slow_logs)}, timeout=180)

    finished = json.loads(result.out.splitlines()[-1])
    assert slow_logs.delayed > 0, "the proxy held back no log read"
    assert result.code == 0, result.describe()
    assert (finished["type"], finished["data"]["status"]) == ("run.finished", "succeeded")
    assert _output(result.out) == {"stdout": ["out-1", "out-2", "out-last"],
                                   "stderr": ["err-1", "err-2"]}


def _at(rt: Runtime, proxy: DelayingProxy) -> dict[str, str]:
    return {"CONTAINER_HOST" if rt.name == "podman" else "DOCKER_HOST": proxy.url}
