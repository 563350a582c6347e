"""Console pages of runs: the list (filters, pages, live states), one run (its tail, live output
over SSE, decisions, events, cancel) and the pages of its earlier events."""

from __future__ import annotations

import time
from typing import Annotated, Any, AsyncIterator

import anyio.to_thread
from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, HeaderParameter, QueryParameter
from litestar.response import Redirect, ServerSentEvent, ServerSentEventMessage, Template
from litestar.utils.scope.state import ScopeState
from markupsafe import Markup

from flwd.domain.errors import FlwdError, RunNotActiveError
from flwd.entrypoints.http.deps import CancelRunDep, HubDep, QueryRunsDep, SettingsDep
from flwd.entrypoints.http.runs import resume_point
from flwd.entrypoints.http.schemas import RUN_STATUSES, check_status_filter
from flwd.entrypoints.http.sse import STREAM_PAGE, follow_run
from flwd.entrypoints.web.form import prefill_query
from flwd.entrypoints.web.session import needs, session_ended, session_principal
from flwd.entrypoints.web.stream import DONE, LiveRender, Summary, split_window, summary_of

PAGE_SIZE = 25
TAIL = 500  #: events a run page shows at once; earlier ones are a link away
MAX_SEQ = 10**18 - 1


class RunPages(Controller):
    path = "/runs"

    @get("/", guards=[needs("runs:read")], sync_to_thread=True)
    def runs(self, request: Request[Any, Any, Any], query_runs: QueryRunsDep,
             job: Annotated[str | None, QueryParameter(max_length=512)] = None,
             status: FromQuery[str | None] = None,
             cursor: Annotated[str | None, QueryParameter(max_length=1024)] = None,
             part: FromQuery[str | None] = None) -> Template:
        """The list; ``part=table`` is only its table (what the page re-reads every few seconds
        to show states changing)."""
        job = (job or "").strip() or None
        status = check_status_filter(status or None)
        page = query_runs.page(job_id=job, status=status, limit=PAGE_SIZE, cursor=cursor or None)
        context = {"me": session_principal(request), "runs": [summary_row(r) for r in page.runs],
                   "next_cursor": page.next_cursor, "job": job or "", "status": status or "",
                   "cursor": cursor or "", "statuses": RUN_STATUSES}
        name = "_runs_table.html" if part == "table" else "runs.html"
        return Template(template_name=name, context=context)

    @get("/{run_id:str}", guards=[needs("runs:read")], sync_to_thread=True)
    def run(self, request: Request[Any, Any, Any], query_runs: QueryRunsDep, run_id: FromPath[str],
            before: Annotated[int | None, QueryParameter(ge=1, le=MAX_SEQ)] = None) -> Template:
        """The run's last ``TAIL`` events (or those before *before*): a run of 10,000 lines
        is never sent whole; a "show earlier" link pages back."""
        record = query_runs.get(run_id)
        window = query_runs.events_before(run_id, before, limit=TAIL)
        lines, others = split_window(window)
        first = window[0].seq if window else 0
        last = window[-1].seq if window else 0
        principal = session_principal(request)
        return Template(template_name="run.html", context={
            "me": principal, "run": record, "summary": summary_of(record),
            "lines": lines, "events": others, "earlier": first > 1, "first_seq": first,
            "live": before is None, "last_seq": last,
            "can_cancel": principal is not None and "runs:write" in principal.scopes,
            "again": prefill_query(record.args),
        })

    @get("/{run_id:str}/stream", guards=[needs("runs:read")])
    async def stream(self, request: Request[Any, Any, Any], query_runs: QueryRunsDep, hub: HubDep,
                     settings: SettingsDep, run_id: FromPath[str],
                     last_event_id: Annotated[str | None, HeaderParameter(name="Last-Event-ID")] = None,
                     after: Annotated[int | None, QueryParameter(ge=0)] = None) -> ServerSentEvent:
        """The run's events after *after* as HTML fragments: the API's event stream (same
        follow code, same hub), rendered for the page."""
        record = await anyio.to_thread.run_sync(query_runs.get, run_id)
        engine = request.app.template_engine
        summary_template = engine.get_template("_summary.html")  # type: ignore[union-attr]
        principal = session_principal(request)
        can_cancel = principal is not None and "runs:write" in principal.scopes

        def summary_html(summary: Summary) -> str:
            return str(summary_template.render(summary=summary, can_cancel=can_cancel,
                                               csrf_input=_csrf_input(request)))

        render = LiveRender(summary_of(record), summary_html)
        events = follow_run(
            run_id, resume_point(last_event_id, after),
            read_events=lambda rid, seq: query_runs.events(rid, after_seq=seq, limit=STREAM_PAGE),
            read_run=query_runs.get, hub=hub, timing=settings.timing,
            read_unrecorded=query_runs.unrecorded_end, render=render)
        return ServerSentEvent(_while_signed_in(request, render.opening(), events,
                                                settings.timing.keepalive_seconds),
                               headers={"X-Accel-Buffering": "no", "Cache-Control": "no-store"})

    @post("/{run_id:str}/cancel", guards=[needs("runs:write")], sync_to_thread=True)
    def cancel(self, cancel_run: CancelRunDep, run_id: FromPath[str]) -> Redirect:
        try:
            cancel_run(run_id)
        except RunNotActiveError:
            pass  # it ended meanwhile: its page says how
        return Redirect(f"/ui/runs/{run_id}", status_code=303)


async def _while_signed_in(request: Request[Any, Any, Any], first: ServerSentEventMessage,
                           rest: AsyncIterator[ServerSentEventMessage],
                           every: float) -> AsyncIterator[ServerSentEventMessage]:
    """*first*, then *rest* as long as the session is not signed out: asked at most every
    *every* seconds (the keep-alive interval, so an idle stream asks too). A signed-out
    session's stream ends with ``done`` (the page stops reconnecting); a store that cannot
    tell ends it without (a reconnect asks again)."""
    yield first
    asked = time.monotonic()
    try:
        async for message in rest:
            if time.monotonic() - asked >= every:
                asked = time.monotonic()
                try:
                    ended = await anyio.to_thread.run_sync(session_ended, request)
                except FlwdError:
                    return
                if ended:
                    yield ServerSentEventMessage(data="signed out", event=DONE)
                    return
            yield message
    finally:
        await rest.aclose()  # type: ignore[attr-defined]


def summary_row(record: Any) -> dict[str, Any]:
    summary = summary_of(record)
    return {"run_id": record.run_id, "job_id": record.job_id, "status": record.status,
            "created_at": record.created_at, "exit_code": record.exit_code,
            "duration": summary.duration, "active": summary.active}


def _csrf_input(request: Request[Any, Any, Any]) -> Markup:
    token = ScopeState.from_scope(request.scope).csrf_token
    return Markup('<input type="hidden" name="_csrf_token" value="{}">').format(token or "")
