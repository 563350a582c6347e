"""A run's events as HTML fragments, for the run page and its live stream (htmx's SSE
extension swaps each message's data into the element listening for its event name)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence

from litestar.response import ServerSentEventMessage
from markupsafe import Markup

from flwd.domain.model import RunStatus
from flwd.domain.run import events as ev
from flwd.ports.store import EventRecord, RunRecord

OUTPUT, EVENT, SUMMARY, DONE = "output", "event", "summary", "done"
# Characters of one output line a console page shows: a job writing lines of megabytes would
# otherwise make a run page (500 lines) hundreds of megabytes of HTML, and the server several
# times that while rendering it. The store and the API's events keep every line whole.
SHOWN_CHARS = 16_384
_STATUS_OF = {ev.IMAGE_PULL: RunStatus.PULLING.value, ev.RUN_STARTED: RunStatus.RUNNING.value}


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """The run's state as the page's summary box shows it."""

    run_id: str
    status: str
    exit_code: int | None = None
    duration_ms: int | None = None
    code: str | None = None
    detail: str | None = None

    @property
    def active(self) -> bool:
        return not RunStatus(self.status).finished

    @property
    def duration(self) -> str:
        if self.duration_ms is None:
            return ""
        seconds = self.duration_ms / 1000
        return f"{seconds:.1f} s" if seconds < 120 else f"{int(seconds // 60)} min {int(seconds % 60)} s"


def summary_of(record: RunRecord) -> Summary:
    return Summary(run_id=record.run_id, status=record.status, exit_code=record.exit_code,
                   duration_ms=_duration_ms(record), code=record.code, detail=record.detail)


def output_line(event: EventRecord) -> Markup:
    stream = "err" if event.data.get("stream") == "stderr" else "out"
    line = str(event.data.get("line", ""))
    if len(line) <= SHOWN_CHARS:
        return Markup('<div class="ln {}" data-seq="{}">{}</div>').format(stream, event.seq, line)
    return Markup('<div class="ln {}" data-seq="{}">{}<span class="cut"> … {:,} more characters '
                  '(the whole line is in the API\'s events)</span></div>').format(
        stream, event.seq, line[:SHOWN_CHARS], len(line) - SHOWN_CHARS)


def event_item(event: EventRecord) -> Markup:
    return Markup('<li><time datetime="{0}">{1}</time> <code>{2}</code> {3}</li>').format(
        event.time, event.time[11:19], event.type, describe(event.type, event.data))


def describe(kind: str, data: Mapping[str, Any]) -> str:
    """One line about an event that is not output."""
    if kind == ev.POLICY_DECISION:
        return f"{data.get('decision')} {data.get('code')}: {data.get('reason')}"
    if kind == ev.RUN_FINISHED:
        parts = [str(data.get("status"))]
        if data.get("exit_code") is not None:
            parts.append(f"exit code {data.get('exit_code')}")
        if data.get("code"):
            parts.append(f"[{data.get('code')}] {data.get('detail') or ''}")
        return ", ".join(parts)
    compact = {k: v for k, v in data.items() if v not in (None, "", [], {})}
    return json.dumps(compact, ensure_ascii=False, default=str)[:300] if compact else ""


class LiveRender:
    """Renders each streamed event; keeps the summary up to date from the events themselves
    (no store read per event). *summary_html* draws the summary box."""

    def __init__(self, summary: Summary, summary_html: Any) -> None:
        self._summary = summary
        self._summary_html = summary_html

    def opening(self) -> ServerSentEventMessage:
        """The summary as the stream found it: the page was drawn from earlier reads, and a
        state change between them (a run started while the page loaded) may be older than
        the stream's first event, so the stream says where the run is before anything else."""
        return ServerSentEventMessage(data=self._summary_html(self._summary), event=SUMMARY)

    def __call__(self, event: EventRecord) -> Sequence[ServerSentEventMessage]:
        if event.type == ev.RUN_OUTPUT:
            return (ServerSentEventMessage(data=output_line(event), event=OUTPUT, id=event.seq),)
        messages = [ServerSentEventMessage(data=event_item(event), event=EVENT)]
        changed = self._advance(event)
        if changed:
            messages.append(ServerSentEventMessage(data=self._summary_html(self._summary),
                                                   event=SUMMARY))
        if event.type == ev.RUN_FINISHED:
            messages.append(ServerSentEventMessage(data="finished", event=DONE))
        messages[-1].id = event.seq  # one id per event: a reconnect resumes after it
        return messages

    def _advance(self, event: EventRecord) -> bool:
        now = self._summary
        data = event.data
        if event.type == ev.RUN_FINISHED:
            self._summary = Summary(run_id=now.run_id, status=str(data.get("status")),
                                    exit_code=data.get("exit_code"),
                                    duration_ms=data.get("duration_ms"), code=data.get("code"),
                                    detail=data.get("detail"))
            return True
        status = _STATUS_OF.get(event.type)
        if status is not None and status != now.status and now.active:
            self._summary = Summary(run_id=now.run_id, status=status)
            return True
        return False


def split_window(events: Iterable[EventRecord]) -> tuple[list[Markup], list[Markup]]:
    """A page of events as output lines and other events."""
    lines, others = [], []
    for event in events:
        if event.type == ev.RUN_OUTPUT:
            lines.append(output_line(event))
        else:
            others.append(event_item(event))
    return lines, others


def _duration_ms(record: RunRecord) -> int | None:
    # from the request, as run.finished's duration_ms counts (pull included)
    start = record.created_at
    if not record.finished_at or not start:
        return None
    try:
        delta = datetime.fromisoformat(record.finished_at) - datetime.fromisoformat(start)
    except ValueError:
        return None
    return max(0, int(delta.total_seconds() * 1000))


