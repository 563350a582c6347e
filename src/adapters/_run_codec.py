"""Rules shared by every run store adapter: JSON shape of records, paging limits, cursors."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Mapping, Sequence

from flwd.domain.errors import FlwdError, RequestInvalidError, RunNotActiveError
from flwd.ports.store import EventRecord, RunRecord

MAX_LIMIT = 500
ACTIVE_STATUSES = ("queued", "pulling", "running")
# Every RunRecord field, in column order; args and decisions are JSON text.
COLUMNS = (
    "run_id", "job_id", "status", "profile", "created_at", "args", "decisions", "runtime",
    "image", "container_id", "started_at", "finished_at", "exit_code", "code", "detail",
    "idempotency_key", "request_digest", "owner", "origin",
)  # fmt: skip


def run_values(run: RunRecord) -> tuple[object, ...]:
    """*run* as column values (COLUMNS order); raises TypeError for what JSON cannot hold."""
    values: dict[str, object] = {name: getattr(run, name) for name in COLUMNS}
    values["status"] = str(run.status)
    values["args"] = dumps(dict(run.args))
    values["decisions"] = dumps([dict(d) for d in run.decisions])
    values["origin"] = dumps(dict(run.origin))
    return tuple(values[name] for name in COLUMNS)


def run_from_row(row: Sequence[Any]) -> RunRecord:
    values = dict(zip(COLUMNS, row))
    values["args"] = json.loads(values["args"])
    values["decisions"] = tuple(json.loads(values["decisions"]))
    values["origin"] = json.loads(values["origin"])
    return RunRecord(**values)


def event_from_row(row: Sequence[Any]) -> EventRecord:
    """``(run_id, seq, type, time, data)`` with data as JSON text."""
    return EventRecord(run_id=row[0], seq=row[1], type=row[2], time=row[3], data=json.loads(row[4]))


def check_same_run(run_id: str, run: RunRecord | None) -> None:
    """An ``append`` may only replace the row of the run it appends to."""
    if run is not None and run.run_id != run_id:
        raise FlwdError(f"run record {run.run_id} given for run {run_id}", run_id=run_id)


def check_still_active(run_id: str, status: str) -> None:
    """``run.finished`` is a run's last event (SPEC section 6): a process that records for a
    run another one has ended (a worker back after a sweeper ended its run ``worker.lost``)
    is refused with ``run.not.active`` and records nothing."""
    if status not in ACTIVE_STATUSES:
        raise RunNotActiveError(f"run {run_id} already ended {status}: nothing more is recorded",
                                run_id=run_id, status=status)


def dumps(value: object) -> str:
    """Compact JSON; raises TypeError for values a store cannot keep."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def roundtrip(value: Mapping[str, Any]) -> dict[str, Any]:
    """What a mapping looks like after a trip through the store (tuples become lists...)."""
    result: dict[str, Any] = json.loads(dumps(dict(value)))
    return result


def normalise(run: RunRecord) -> RunRecord:
    """*run* exactly as a store hands it back: plain strings, JSON-shaped args and decisions."""
    decisions = json.loads(dumps([dict(d) for d in run.decisions]))
    return run.evolve(
        status=str(run.status),
        args=roundtrip(run.args),
        decisions=tuple(decisions),
        origin=roundtrip(run.origin),
    )


def check_limit(limit: int) -> int:
    """Page size, capped at MAX_LIMIT; below 1 is ``request.invalid``."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise RequestInvalidError(f"limit must be a positive integer, got {limit!r}", limit=limit)
    return min(limit, MAX_LIMIT)


def encode_cursor(run: RunRecord) -> str:
    """An opaque cursor pointing just after *run* in newest-first order."""
    raw = dumps([run.created_at, run.run_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    """``(created_at, run_id)`` from a cursor; anything malformed is ``request.invalid``."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise RequestInvalidError("malformed cursor", cursor=cursor) from exc
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(part, str) for part in value)
    ):
        raise RequestInvalidError("malformed cursor", cursor=cursor)
    return value[0], value[1]


def list_filter(job_id: str | None, status: str | None, cursor: str | None,
                mark: str) -> tuple[str, list[object]]:
    """The ``WHERE`` clause (or "") and its parameters of a ``list`` query, newest first;
    *mark* is the driver's placeholder (``?`` or ``%s``)."""
    where: list[str] = []
    params: list[object] = []
    if job_id is not None:
        where.append(f"job_id = {mark}")
        params.append(job_id)
    if status is not None:
        where.append(f"status = {mark}")
        params.append(str(status))
    if cursor is not None:
        created_at, run_id = decode_cursor(cursor)
        where.append(f"(created_at < {mark} OR (created_at = {mark} AND run_id < {mark}))")
        params += [created_at, created_at, run_id]
    return (f" WHERE {' AND '.join(where)}" if where else ""), params


def page(runs: Sequence[RunRecord], limit: int) -> tuple[tuple[RunRecord, ...], str | None]:
    """The first *limit* of *runs* (fetched ``limit + 1``) and the cursor to the next page."""
    kept = tuple(runs[:limit])
    return kept, (encode_cursor(kept[-1]) if len(runs) > limit else None)
