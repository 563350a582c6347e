"""A runtime slow to send the output, or whose attach connection breaks, loses no output (SPEC
section 6, lossless): through a proxy that holds back every attach's and log read's output longer
than the drain once waited after the exit, and one that cuts the attach while the job runs."""

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
    output = _succeeded_output(sandbox, rt, slow_logs, "slow-logs", SCRIPT)

    assert slow_logs.delayed > 0, "the proxy held back no output"
    assert output == {"stdout": ["out-1", "out-2", "out-last"], "stderr": ["err-1", "err-2"]}


CUT_AFTER = 100  # bytes of attached output passed on before the connection is cut
LINES = 60
RUNNING_SCRIPT = f"""\
i=1
while [ "$i" -le {LINES} ]; do
  echo "out $i"
  echo "err $i" >&2
  sleep 0.05
  i=$((i + 1))
done
printf 'out last'
"""




def test_run_keeps_every_line_once_when_the_attach_breaks_while_the_job_runs(
        sandbox: Sandbox, rt: Runtime, cutting: dict[str, DelayingProxy]) -> None:
    cut_attach = cutting["running"]
    output = _succeeded_output(sandbox, rt, cut_attach, "cut-attach", RUNNING_SCRIPT)

    assert cut_attach.cut > 0, "the proxy cut no attach"
    assert output == {"stdout": [f"out {i}" for i in range(1, LINES + 1)] + ["out last"],
                      "stderr": [f"err {i}" for i in range(1, LINES + 1)]}


# Two lines of 3 bytes, each its own 12-byte frame (a pause between them): the connection ends
# cleanly at a frame boundary, and the job writes on for a moment and exits well within the
# second Podman is given to record an exit after its output closed.
CLEAN_CUT_AFTER = 24
ENDING_SCRIPT = """\
echo one
sleep 0.4
echo two
sleep 0.3
echo three
echo err-three >&2
echo four
sleep 0.1
printf 'last'
"""


@pytest.fixture(scope="module")
def cutting(rt: Runtime) -> Iterator[dict[str, DelayingProxy]]:
    """Proxies that cut the attach: while the job runs on, and just before it exits."""
    proxies = {"running": DelayingProxy(rt.socket, 0.2, cut_after=CUT_AFTER),
               "clean": DelayingProxy(rt.socket, 0.0, match=(b"/attach",),
                                      cut_after=CLEAN_CUT_AFTER)}
    yield proxies
    for proxy in proxies.values():
        proxy.close()


def test_run_keeps_every_line_once_when_the_attach_ends_cleanly_just_before_the_exit(
        sandbox: Sandbox, rt: Runtime, cutting: dict[str, DelayingProxy]) -> None:
    clean_cut = cutting["clean"]
    output = _succeeded_output(sandbox, rt, clean_cut, "clean-cut", ENDING_SCRIPT)

    assert clean_cut.cut > 0, "the proxy cut no attach"
    assert output == {"stdout": ["one", "two", "three", "four", "last"], "stderr": ["err-three"]}


def _succeeded_output(sandbox: Sandbox, rt: Runtime, proxy: DelayingProxy, name: str,
                      script: str) -> dict[str, list[str]]:
    """Run *script* through *proxy*; check it succeeded; its output lines per stream."""
    job = sandbox.write_job(unique(name), """\
        executor: container
        image: alpine:3.20
        script: main.sh
        """, {"main.sh": script})

    result = sandbox.flwd(job, "--json", env={**rt.env, **_at(rt, proxy)}, timeout=180)

    finished = json.loads(result.out.splitlines()[-1])
    assert result.code == 0, result.describe()
    assert (finished["type"], finished["data"]["status"]) == ("run.finished", "succeeded")
    return _output(result.out)


def _at(rt: Runtime, proxy: DelayingProxy) -> dict[str, str]:
    return {"CONTAINER_HOST" if rt.name == "podman" else "DOCKER_HOST": proxy.url}
