"""Finding a run's message among kombu's unacknowledged Redis entries (``[message, exchange,
routing_key]``, a Celery protocol 2 task), without opening its sealed secrets."""

from __future__ import annotations

import base64
import json

import pytest

from flwd.adapters.celery_queue import TASK_NAME
from flwd.adapters.kombu_redeliver import run_of


def entry(args: object, task: str = TASK_NAME, encoding: str | None = "base64") -> bytes:
    body = json.dumps([args, {}, {"callbacks": None}])
    message = {"body": base64.b64encode(body.encode()).decode() if encoding else body,
               "headers": {"task": task, "id": "t1"},
               "properties": {"body_encoding": encoding, "delivery_tag": "d1"}}
    return json.dumps([message, "lossy", "lossy"]).encode()


def test_the_run_id_is_read_when_the_entry_is_a_flwd_run_message() -> None:
    assert run_of(entry(["r1", "c2VhbGVk"]), TASK_NAME) == "r1"
    assert run_of(entry(["r2", None], encoding=None), TASK_NAME) == "r2"


@pytest.mark.parametrize("raw", [
    entry(["r1", None], task="other.task"),
    entry([]),
    entry([42, None]),
    b"not json",
    json.dumps([{"body": "!!!", "headers": {"task": TASK_NAME},
                 "properties": {"body_encoding": "base64"}}, "", ""]).encode(),
])
def test_no_run_id_is_read_when_the_entry_is_something_else(raw: bytes) -> None:
    assert run_of(raw, TASK_NAME) is None
