"""``/runs``: submit, list, look up, follow (SSE) and cancel runs."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter
from litestar.response import ServerSentEvent

from flwd.domain.errors import PolicyDeniedError, RequestInvalidError, RouteNotFoundError
from flwd.entrypoints.http.auth import check_profile_scope, require
from flwd.entrypoints.http.deps import (
    CancelRunDep,
    HubDep,
    MetricsDep,
    QueryRunsDep,
    SettingsDep,
    StartRunDep,
)
from flwd.entrypoints.http.schemas import (
    RunBody,
    RunPageView,
    check_idempotency_key,
    check_status_filter,
)
from flwd.entrypoints.http.sse import STREAM_PAGE, follow_run
from flwd.entrypoints.views import run_view
from flwd.ports.store import RunRecord

CANCEL_ACTION = "cancel"
MAX_SEQ = 10**18 - 1  #: the largest event seq a client may resume after


class RunsController(Controller):
    path = "/runs"
    tags = ["runs"]

    @post("/", status_code=202, sync_to_thread=True, guards=[require("runs:write")],
          summary="Submit a run; it proceeds in the background")
    def submit(
        self,
        request: Request[Any, Any, Any],
        start_run: StartRunDep,
        hub: HubDep,
        metrics: MetricsDep,
        data: JSONBody[RunBody],
        idempotency_key: Annotated[str | None, HeaderParameter(name="Idempotency-Key")] = None,
    ) -> Response[dict[str, Any]]:
        run_request = data.to_domain()
        check_profile_scope(request, run_request.requested_profile)
        key = check_idempotency_key(idempotency_key)
        try:
            started = start_run(run_request, idempotency_key=key, listeners=[hub, metrics])
        except PolicyDeniedError as exc:
            metrics.count_denial(exc.code)
            raise
        return _accepted(started.record)

    @get("/", sync_to_thread=True, guards=[require("runs:read")], summary="List runs, newest first")
    def list_runs(
        self,
        query_runs: QueryRunsDep,
        job: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=1024)] = None,
    ) -> RunPageView:
        page = query_runs.page(
            job_id=job, status=check_status_filter(status), limit=limit, cursor=cursor)
        return RunPageView(runs=[run_view(r) for r in page.runs], next_cursor=page.next_cursor)

    @get("/{run_id:str}", sync_to_thread=True, guards=[require("runs:read")], summary="One run")
    def get_run(self, query_runs: QueryRunsDep, run_id: FromPath[str]) -> dict[str, Any]:
        return run_view(query_runs.get(run_id))

    @get("/{run_id:str}/events", guards=[require("runs:read")],
         summary="The run's events as Server-Sent Events; resumes after Last-Event-ID")
    async def events(
        self,
        query_runs: QueryRunsDep,
        hub: HubDep,
        settings: SettingsDep,
        run_id: FromPath[str],
        last_event_id: Annotated[str | None, HeaderParameter(name="Last-Event-ID")] = None,
        after: Annotated[int | None, QueryParameter(ge=0)] = None,
        follow: Annotated[bool, QueryParameter(
            description="false: only the events stored so far, then close")] = True,
    ) -> ServerSentEvent:
        await anyio.to_thread.run_sync(query_runs.get, run_id)  # 404 before the stream starts
        stream = follow_run(
            run_id, resume_point(last_event_id, after),
            read_events=lambda rid, seq: query_runs.events(rid, after_seq=seq, limit=STREAM_PAGE),
            read_run=query_runs.get, hub=hub, timing=settings.timing, follow=follow,
            read_unrecorded=query_runs.unrecorded_end,
        )
        return ServerSentEvent(stream, headers={"X-Accel-Buffering": "no"})

    @post("/{run_id:str}", status_code=202, sync_to_thread=True, guards=[require("runs:write")],
          summary="POST /runs/{run_id}:cancel - cancel an active run")
    def cancel(self, cancel_run: CancelRunDep, run_id: FromPath[str]) -> Response[dict[str, Any]]:
        target, _, action = run_id.rpartition(":")
        if action != CANCEL_ACTION or not target:
            raise RouteNotFoundError(f"no endpoint POST /runs/{run_id}; cancel is POST /runs/ID:cancel")
        return _accepted(cancel_run(target))


def _accepted(record: RunRecord) -> Response[dict[str, Any]]:
    return Response(run_view(record), status_code=202,
                    headers={"Location": f"/runs/{record.run_id}"})


def resume_point(last_event_id: str | None, after: int | None) -> int:
    if last_event_id is not None and last_event_id.strip():
        text = last_event_id.strip()
        if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_SEQ)):
            raise RequestInvalidError("Last-Event-ID must be an event seq number",
                                      field="Last-Event-ID")
        return int(text)
    if after is not None and after > MAX_SEQ:  # beyond SQLite's INTEGER the read would fail
        raise RequestInvalidError(f"after must be an event seq number (at most {MAX_SEQ})",
                                  field="after")
    return after or 0
