"""``flwd :workers [--json]`` in-process, over the real SQLite store's worker registry."""

from __future__ import annotations

import io as stdio
import json

from dependency_injector import providers

from flwd.adapters.fakes import FakeClock
from flwd.entrypoints.cli.main import main
from flwd.entrypoints.cli.render import Io
from flwd.entrypoints.container import Container
from tests.contracts.workers import worker


def cli(engine: Container, *argv: str) -> tuple[int, str, str]:
    out, err = stdio.StringIO(), stdio.StringIO()
    code = main(list(argv), Io(out=out, err=err), {"HOME": "/nonexistent"}, container=engine)
    return code, out.getvalue(), err.getvalue()


def test_workers_prints_each_live_worker_when_some_beat(engine: Container) -> None:
    engine.clock.override(providers.Object(FakeClock("2026-01-01T00:01:00.000Z")))
    engine.store().beat(worker("hostA:7", 55, "r1", "r2"), [])
    engine.store().beat(worker("hostB:9", 10), [])  # silent for 50 s: not live

    code, out, err = cli(engine, ":workers")

    assert (code, err) == (0, "")
    assert out == ("hostA:7  host=h1  queues=default,gpu  podman (rootless)  2/4 runs  last "
                   "heartbeat 2026-01-01T00:00:55.000Z (5.0s ago)\n")


def test_workers_prints_json_as_the_api_does_when_asked(engine: Container) -> None:
    engine.clock.override(providers.Object(FakeClock("2026-01-01T00:01:00.000Z")))
    engine.store().beat(worker("hostA:7", 59, rootless=False), [])

    code, out, _ = cli(engine, ":workers", "--json")

    assert code == 0
    assert json.loads(out) == {"workers": [{
        "worker_id": "hostA:7", "host": "h1", "queues": ["default", "gpu"], "runtime": "podman",
        "rootless": False, "concurrency": 4, "active_runs": [],
        "last_heartbeat": "2026-01-01T00:00:59.000Z", "heartbeat_age_seconds": 1.0}]}


def test_workers_says_none_are_live_when_the_registry_is_empty(engine: Container) -> None:
    assert cli(engine, ":workers") == (0, "no live workers\n", "")
