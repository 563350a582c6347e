"""The ``Allow`` header of ``OPTIONS`` and 405 answers, as the public API has it."""

from __future__ import annotations

import re
from typing import Any

from litestar.routes import HTTPRoute

from flwd.entrypoints.http.runs import CANCEL_ACTION
from flwd.entrypoints.http.sources import REFRESH_ACTION

_RUN_PATH = re.compile(r"/runs/[^/]+")
_SOURCE_PATH = re.compile(r"/sources/[^/]+")


async def allow_public_methods(message: Any, scope: Any) -> None:
    """``before_send`` hook: ``/runs/ID`` and ``/runs/ID:cancel`` share one Litestar route, and
    the ``Allow`` of its automatic ``OPTIONS`` answer lists the methods of that route as first
    registered (``OPTIONS, POST``). Answer ``OPTIONS`` and 405 with the public methods of the
    path asked for instead: GET on ``/runs/ID``, POST on ``/runs/ID:cancel`` (and likewise
    GET and DELETE on ``/sources/NAME``, POST on ``/sources/NAME:refresh``)."""
    if message.get("type") != "http.response.start":
        return
    status = int(message["status"])
    headers = message.get("headers", [])
    if status == 405:
        allowed = b",".join(v for k, v in headers if k.lower() == b"allow").decode()
        methods = {m.strip() for m in allowed.split(",") if m.strip()}
    elif scope.get("method") == "OPTIONS" and status < 300:
        methods = {m for r in scope["app"].routes if isinstance(r, HTTPRoute)
                   and r.path_format == scope.get("path_template") for m in r.methods}
    else:
        return
    path = str(scope.get("path", ""))
    if _RUN_PATH.fullmatch(path):
        methods -= {"GET"} if path.endswith(":" + CANCEL_ACTION) else {"POST"}
    elif _SOURCE_PATH.fullmatch(path):  # /sources/NAME (GET, DELETE), /sources/NAME:refresh
        methods -= {"GET", "DELETE"} if path.endswith(":" + REFRESH_ACTION) else {"POST"}
    if methods:
        message["headers"] = [*[(k, v) for k, v in headers if k.lower() != b"allow"],
                              (b"allow", ", ".join(sorted(methods)).encode())]

