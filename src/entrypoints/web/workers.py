"""The console's workers page (SPEC sections 11 and 12): the live workers, as ``GET /workers``."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.params import FromQuery
from litestar.response import Template

from flwd.entrypoints.http.deps import ListWorkersDep
from flwd.entrypoints.web.session import needs, session_principal
from flwd.entrypoints.workers_view import workers_view


class WorkerPages(Controller):
    path = "/workers"

    @get("/", guards=[needs("runs:read")], sync_to_thread=True)
    def workers(self, request: Request[Any, Any, Any], list_workers: ListWorkersDep,
                part: FromQuery[str | None] = None) -> Template:
        """``part=table``: only the table, which the page re-reads every few seconds."""
        context = {"me": session_principal(request), **workers_view(list_workers.live())}
        return Template(template_name="_workers_table.html" if part == "table" else "workers.html",
                        context=context)
