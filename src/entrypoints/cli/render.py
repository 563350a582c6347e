"""What the CLI prints: errors, job listings, plans, runs and live events."""

from __future__ import annotations

import json
import re
import sys
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence, TextIO

from flwd.domain.errors import ArgsInvalidError, FlwdError
from flwd.entrypoints.cli.progress import PullProgressLine

if TYPE_CHECKING:
    from flwd.entrypoints.cli.secret_source import SecretInput


@dataclass(slots=True)
class Io:
    """The CLI's two streams, and where secrets are read from besides the command line
    (files, standard input, a prompt), injectable so tests capture and script them."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    secrets: SecretInput = field(default_factory=lambda: _terminal_input())


def _terminal_input() -> SecretInput:
    from flwd.entrypoints.cli.secret_source import TerminalInput

    return TerminalInput()


SPEC_WARNING = "spec.key.unknown"  # a warning code, not an error: the job still runs


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=False, default=str)


def print_error(io: Io, code: str, detail: str, problems: Sequence[Mapping[str, str]] = ()) -> None:
    """``error[CODE]: message`` on stderr, plus one line per argument problem."""
    io.err.write(f"error[{code}]: {one_line(detail)}\n")
    for problem in problems:
        io.err.write(f"  --{problem['arg']}: {problem['code']}: {one_line(problem['message'])}\n")
    io.err.flush()


# What could break a line or move the cursor: C0/C1 controls, DEL, Unicode line and paragraph
# separators, bidirectional overrides and isolates
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def printable(text: str) -> str:
    """*text* with control characters escaped (``\\n``, ``\\x1b``, ``\\u2028``): a value from a
    job spec or a caller cannot forge lines in a plan or a listing, nor rewrite the terminal."""
    return _UNPRINTABLE.sub(_escape, text)


def one_line(text: str) -> str:
    """*text* with its line breaks folded, so each error or listing entry stays one line
    (a YAML parser's message, for one, spans several)."""
    return printable(" ".join(part.strip() for part in str(text).splitlines() if part.strip()))


def print_flwd_error(io: Io, exc: FlwdError) -> None:
    problems: list[dict[str, str]] = []
    if isinstance(exc, ArgsInvalidError):
        problems = [{"arg": p.arg, "code": p.code, "message": p.message} for p in exc.problems]
    print_error(io, exc.code, exc.detail, problems)


def print_jobs(io: Io, listing: Mapping[str, Any], as_json: bool) -> None:
    if as_json:
        io.out.write(dumps(listing) + "\n")
        return
    rows = [(job["id"], job.get("name") or job.get("description") or "") for job in listing["jobs"]]
    width = max((len(r[0]) for r in rows), default=2)
    for job_id, text in rows:
        io.out.write(printable(f"{job_id:<{width}}  {text}".rstrip()) + "\n")
    for job in listing["jobs"]:
        print_spec_warnings(io, job["id"], job.get("warnings") or ())
    for bad in listing["invalid"]:
        io.out.write(f"{bad['id']:<{width}}  INVALID: {one_line(bad['reason'])}\n")
    if not rows and not listing["invalid"]:
        io.err.write("no jobs found (set --jobs-dir, FLWD_JOBS_DIR or jobs_dir in flwd.yaml)\n")


def print_spec_warnings(io: Io, job_id: str, warnings: Sequence[str]) -> None:
    """What the job's spec had that flwd ignored, on stderr (stdout stays the plan or run)."""
    for warning in warnings:
        io.err.write(f"warning[{SPEC_WARNING}]: job {job_id}: {warning}\n")


def print_plan(io: Io, plan: Mapping[str, Any], as_json: bool) -> None:
    if as_json:
        io.out.write(dumps(plan) + "\n")
        return
    lines = [
        f"job:      {plan['job_id']}",
        f"image:    {plan['image']}",
        f"command:  {' '.join(plan['command']) if plan.get('command') else '(image default)'}",
        f"profile:  {plan['profile']}",
        f"allowed:  {_allowed(plan.get('decisions', []))}",
        f"timeout:  {_seconds(plan.get('timeout_seconds'))}",
        f"pull:     {plan.get('pull_policy') or 'if-not-present'}",
        f"queue:    {plan.get('queue') or 'default'}",
        "container:",
    ]
    container = plan.get("container") or plan.get("settings") or {}
    for key, value in container.items():
        lines.append(f"  {key}: {_text(value)}")
    lines.append("arguments:")
    for key, value in (plan.get("args") or {}).items():
        lines.append(f"  {key}={value if isinstance(value, str) else dumps(value)}")
    lines.append("mounts:")
    for mount in plan.get("mounts", []):
        mode = "ro" if mount.get("read_only") else "rw"
        lines.append(f"  {mount.get('target')} ({mode}, {mount.get('source')})")
    lines.append("environment:")
    for key, value in (plan.get("env") or {}).items():
        lines.append(f"  {key}={value}")
    if plan.get("secret_files"):
        lines.append("secret files: " + ", ".join(f"/run/secrets/{n}" for n in plan["secret_files"]))
    lines.append("decisions:")
    for d in plan.get("decisions", []):
        lines.append(f"  {d['decision']:<5} {d['subject']}: {d['code']} - {d['reason']}")
    io.out.write("\n".join(map(printable, lines)) + "\n")


def _text(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(_text, value)) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_text(v)}" for k, v in value.items()) or "-"
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _allowed(decisions: Sequence[Mapping[str, Any]]) -> str:
    denied = list(dict.fromkeys(d["code"] for d in decisions if d.get("decision") == "deny"))
    return f"no (denied: {', '.join(denied)})" if denied else "yes"


def _seconds(value: object) -> str:
    return "none" if value is None else f"{value:g}s" if isinstance(value, (int, float)) else str(value)


def print_runs(io: Io, runs: Sequence[Mapping[str, Any]], as_json: bool) -> None:
    if as_json:
        io.out.write(dumps(list(runs)) + "\n")
        return
    for run in runs:
        exit_text = "" if run.get("exit_code") is None else f" exit={run['exit_code']}"
        code = f" [{run['code']}]" if run.get("code") else ""
        status = f"{run['status']} (orphaned)" if run.get("orphaned") else run["status"]
        io.out.write(f"{run['run_id']}  {run['job_id']:<24} {status:<9}{exit_text}{code}  "
                     f"{run.get('created_at', '')}\n")


class EventPrinter:
    """Prints events as they happen: the job's output live, or every event as NDJSON."""

    def __init__(self, io: Io, *, as_json: bool, show_progress: bool | None = None) -> None:
        self._io = io
        self._json = as_json
        self._lock = threading.Lock()
        shown = io.err.isatty() if show_progress is None else show_progress
        self._progress = PullProgressLine(io.err) if shown else None

    def __call__(self, event: Any) -> None:
        record = event.as_dict() if hasattr(event, "as_dict") else dict(event)
        with self._lock:
            try:
                self._print(record)
            except (OSError, ValueError):
                pass  # a closed pipe must not break the run

    def _print(self, record: Mapping[str, Any]) -> None:
        if self._json:
            self._io.out.write(dumps(record) + "\n")
            self._io.out.flush()
            return
        kind, data = record["type"], record.get("data") or {}
        if kind == "run.output":
            self._end_progress()
            stream = self._io.err if data.get("stream") == "stderr" else self._io.out
            stream.write(f"{data.get('line', '')}\n")
            stream.flush()
        elif kind == "image.pull":
            self._pull(data)
        elif kind == "run.finished":
            self._end_progress()  # an error that ends a pull is printed on a line of its own
        elif kind == "policy.decision" and data.get("decision") == "warn":
            self._end_progress()
            self._io.err.write(f"warning[{data.get('code')}]: {one_line(str(data.get('reason')))}\n")
        elif kind in ("run.canceled", "run.timed_out"):
            self._end_progress()
            what = "canceled" if kind == "run.canceled" else "timed out"
            self._io.err.write(f"flwd: run {record['run_id']} {what}, stopping the container\n")

    def _pull(self, data: Mapping[str, Any]) -> None:
        if self._progress is not None:
            self._progress.show(data)

    def _end_progress(self) -> None:
        if self._progress is not None:
            self._progress.end()
