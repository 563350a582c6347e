"""The CLI's remote backend: the same commands against a `flwd :serve` over HTTP (stdlib only)."""

from __future__ import annotations

import http.client
import json
import time
import uuid
from typing import Any, Callable, Iterator
from urllib.parse import quote, urlencode, urlsplit

from flwd.domain.args.contract import check_args
from flwd.domain.errors import (
    ArgProblem,
    ArgsInvalidError,
    FlwdError,
    PolicyDeniedError,
    RemoteServerError,
    all_error_classes,
)
from flwd.domain.run.events import RUN_FINISHED
from flwd.domain.model import JobSpec, RunStatus
from flwd.entrypoints.cli.render import EventPrinter, Io
from flwd.entrypoints.views import job_from_view
from flwd.ports.store import EventRecord, RunRecord

# opens a connection (not yet connected) with the given timeout
Connector = Callable[[float | None], http.client.HTTPConnection]
_TIMEOUT = 30.0
_RECONNECT_SECONDS = 1.0
# after a Ctrl-C cut POST /runs short: how hard to try to learn (and cancel) the run it started
_RESUBMIT_ATTEMPTS = 3
_RESUBMIT_TIMEOUT = 3.0
_RESUBMIT_PAUSE = 0.5
# the remote counterpart of the local "canceling (Ctrl-C again to kill)": there is no remote kill
_CANCELING = "\nflwd: canceling on the server (Ctrl-C again to stop waiting)\n"


class RemoteBackend:
    """Talks to a flwd server; output and exit codes match the local backend."""

    def __init__(self, url: str, token: str | None, io: Io,
                 connect: Connector | None = None) -> None:
        """*connect* (timeout → connection) replaces TCP/TLS to *url*'s host: the resident
        local server's unix socket (``cli.resident_client``)."""
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if connect is None and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise RemoteServerError(f"--server must be an http(s) URL, not {url!r}")
        self._parts = parts
        self._prefix = parts.path.rstrip("/") if connect is None else ""
        self._token = token
        self._io = io
        self._connect = connect or self._tcp

    def close(self) -> None:
        """Connections are per request; nothing to release."""

    # --- commands -----------------------------------------------------------------

    def list_jobs(self) -> dict[str, Any]:
        return dict(self._json("GET", "/jobs"))

    def get_job(self, job_id: str) -> JobSpec:
        return job_from_view(self._json("GET", "/jobs/" + quote(job_id, safe="/")))

    def plan(self, job: JobSpec, args: dict[str, object], profile: str | None) -> dict[str, Any]:
        return dict(self._json("POST", "/plans", self._body(job, args, profile)))

    def run(self, job: JobSpec, args: dict[str, object], profile: str | None, *,
            printer: EventPrinter, detach: bool) -> RunRecord:
        """Ctrl-C (or SIGTERM/SIGHUP) once: the server cancels the run and this waits for its
        end, as locally; twice: stop waiting (there is no remote kill)."""
        from flwd.entrypoints.cli.signals import stop_signals_interrupt

        body = self._body(job, args, profile)
        key = uuid.uuid4().hex  # one per invocation: the same request again names the same run
        with stop_signals_interrupt():
            try:
                record = self._submit(body, key, _TIMEOUT)
            except KeyboardInterrupt:
                return self._cancel_unanswered(body, key, printer)
            except PolicyDeniedError as exc:
                self._show_denied(exc, printer)
                raise
            if detach:
                return record
            return self._watch(record, printer, interrupted=False)

    def runs(self, job: str | None, status: str | None) -> list[dict[str, Any]]:
        query = {k: v for k, v in (("job", job), ("status", status), ("limit", "100")) if v}
        return list(self._json("GET", "/runs?" + urlencode(query))["runs"])

    def logs(self, run_id: str, follow: bool, printer: Callable[[Any], None]) -> RunRecord:
        if follow:
            for event in self._stream(run_id, after=0):
                printer(event)
        else:
            for event in self._events(run_id, after=0, follow=False):
                printer(event)
        return _record(self._json("GET", f"/runs/{quote(run_id)}"))

    def cancel(self, run_id: str) -> dict[str, Any]:
        return dict(self._json("POST", f"/runs/{quote(run_id)}:cancel"))

    def workers(self) -> list[dict[str, Any]]:
        return list(self._json("GET", "/workers")["workers"])

    # --- helpers ------------------------------------------------------------------

    def request_json(self, method: str, path: str, body: Any = None) -> Any:
        """One API call's JSON answer (``:sources``); a problem raises its coded error."""
        return self._json(method, path, body)

    def _body(self, job: JobSpec, args: dict[str, object], profile: str | None) -> dict[str, Any]:
        values = check_args(job.args, args, from_text=True, job=job.id)
        body: dict[str, Any] = {"job": job.id, "args": values}
        if profile:
            body["requested_security_profile"] = profile
        return body

    def _submit(self, body: dict[str, Any], key: str, timeout: float) -> RunRecord:
        return _record(self._json("POST", "/runs", body, headers={"Idempotency-Key": key},
                                  timeout=timeout))

    def _show_denied(self, exc: PolicyDeniedError, printer: EventPrinter) -> None:
        """A run denied by policy is recorded, as locally: its events are shown."""
        denied_run = exc.context.get("run_id")
        try:
            if isinstance(denied_run, str) and denied_run:
                for event in self._events(denied_run, after=0, follow=False):
                    printer(event)
        except KeyboardInterrupt:
            pass  # the run has ended already; the denial is the answer, as locally

    def _cancel_unanswered(self, body: dict[str, Any], key: str,
                           printer: EventPrinter) -> RunRecord:
        """Ctrl-C before POST /runs was answered: the server may have started the run all the
        same. The same request with the same Idempotency-Key names that run (or records it
        now), which is then canceled and watched to its end like any interrupted run."""
        self._io.err.write(_CANCELING)
        try:
            record = self._resubmit(body, key)
        except KeyboardInterrupt:
            self._io.err.write("\nflwd: stopped waiting; a run the server may have started is "
                               "not canceled (flwd :runs lists it)\n")
            return _record({"run_id": "", "job_id": body["job"],  # exits 130, as canceled
                            "status": RunStatus.CANCELED.value})
        except PolicyDeniedError as exc:
            self._show_denied(exc, printer)
            raise
        return self._watch(record, printer, interrupted=True)

    def _resubmit(self, body: dict[str, Any], key: str) -> RunRecord:
        """POST /runs again, a bounded number of times with a short timeout."""
        failure = RemoteServerError("no attempt made")
        for attempt in range(_RESUBMIT_ATTEMPTS):
            if attempt:
                time.sleep(_RESUBMIT_PAUSE)
            try:
                return self._submit(body, key, _RESUBMIT_TIMEOUT)
            except RemoteServerError as exc:
                failure = exc
        raise RemoteServerError(
            f"interrupted before the server answered, and then {failure.detail}; a run it may "
            "have started is not canceled (flwd :runs lists it)") from failure

    def _watch(self, record: RunRecord, printer: EventPrinter, *,
               interrupted: bool) -> RunRecord:
        """Print the run's events until run.finished and answer how it ended. Ctrl-C asks the
        server to cancel it and keeps watching; a second one stops watching. *interrupted*: a
        first Ctrl-C came before the run was known; its line is printed, its cancel not sent."""
        after, cancel = 0, interrupted
        while True:
            try:
                if cancel:
                    cancel = False
                    self._cancel_quietly(record.run_id)
                for event in self._stream(record.run_id, after):
                    after = event.seq
                    printer(event)
                    if event.type == RUN_FINISHED:
                        return _finished(record, event)
            except KeyboardInterrupt:
                if interrupted:
                    return self._stop_waiting(record)
                interrupted = cancel = True
                self._io.err.write(_CANCELING)

    def _cancel_quietly(self, run_id: str) -> None:
        try:
            self.cancel(run_id)
        except FlwdError:
            pass  # already finished, or the server is gone: the event stream says which

    def _stop_waiting(self, record: RunRecord) -> RunRecord:
        """What a second Ctrl-C answers: canceled, for the exit code (130), though the run may
        still be ending on the server (there is no remote kill)."""
        self._io.err.write(f"\nflwd: stopped waiting; run {record.run_id} may still be ending "
                           "on the server\n")
        return record.evolve(status=RunStatus.CANCELED.value, code=None, detail=None)

    def _stream(self, run_id: str, after: int) -> Iterator[EventRecord]:
        """The run's events after seq *after* until run.finished, across dropped connections."""
        while True:
            for event in self._events(run_id, after):
                after = event.seq
                yield event
                if event.type == RUN_FINISHED:
                    return
            time.sleep(_RECONNECT_SECONDS)

    def _events(self, run_id: str, after: int, follow: bool = True) -> Iterator[EventRecord]:
        headers = {"Accept": "text/event-stream", "Last-Event-ID": str(after)}
        path = f"/runs/{quote(run_id)}/events" + ("" if follow else "?follow=false")
        conn, response = self._request("GET", path, None, headers, timeout=None)
        try:
            if response.status >= 400:
                raise _error(response.status, response.read())
            data: list[str] = []
            for raw in response:
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if line.startswith("data:"):
                    data.append(line[5:].lstrip())
                elif not line and data:
                    yield _event(json.loads("\n".join(data)))
                    data = []
        finally:
            conn.close()

    def _json(self, method: str, path: str, body: Any = None, *,
              headers: dict[str, str] | None = None, timeout: float = _TIMEOUT) -> Any:
        conn, response = self._request(method, path, body,
                                       {"Accept": "application/json", **(headers or {})}, timeout)
        try:
            payload = response.read()
        finally:
            conn.close()
        if response.status >= 400:
            raise _error(response.status, payload)
        return json.loads(payload) if payload else {}

    def _request(self, method: str, path: str, body: Any, headers: dict[str, str],
                 timeout: float | None = _TIMEOUT) -> tuple[http.client.HTTPConnection,
                                                            http.client.HTTPResponse]:
        conn = self._connect(timeout)
        headers = dict(headers)
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, self._prefix + path, body=payload, headers=headers)
            return conn, conn.getresponse()
        except OSError as exc:
            conn.close()
            raise RemoteServerError(
                f"cannot reach flwd server at {self._parts.geturl()}: {exc}") from exc

    def _tcp(self, timeout: float | None) -> http.client.HTTPConnection:
        parts = self._parts
        kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        return kind(parts.hostname or "", parts.port, timeout=timeout)


_CLASSES = {cls.code: cls for cls in all_error_classes()}


def _error(status: int, payload: bytes) -> FlwdError:
    """The server's problem+json as the same coded error the local engine would raise."""
    try:
        problem = json.loads(payload)
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    code = str(problem.get("code") or "server.unreachable")
    detail = str(problem.get("detail") or problem.get("title") or f"HTTP {status}")
    if code == ArgsInvalidError.code:
        problems = [ArgProblem(arg=str(p.get("arg", "")), code=str(p.get("code", "")),
                               message=str(p.get("message", "")))
                    for p in problem.get("errors") or [] if isinstance(p, dict)]
        return ArgsInvalidError(problems, job=str(problem.get("job", "")))
    context = {"status": status, "run_id": problem.get("run_id")}
    cls = _CLASSES.get(code)
    if cls is None:
        error = FlwdError(detail, **context)
        error.code = code  # type: ignore[misc]  # an unknown code from a newer server
        return error
    return cls(detail, **context)


def _event(data: dict[str, Any]) -> EventRecord:
    return EventRecord(run_id=str(data.get("run_id", "")), seq=int(data.get("seq", 0)),
                       type=str(data.get("type", "")), time=str(data.get("time", "")),
                       data=data.get("data") or {})


def _finished(record: RunRecord, event: EventRecord) -> RunRecord:
    """*record* as its run.finished event ended it (no request after the end: nothing left
    for a late Ctrl-C to cut short)."""
    data = event.data
    return record.evolve(status=str(data.get("status", "")), exit_code=data.get("exit_code"),
                         code=data.get("code"), detail=data.get("detail"),
                         finished_at=event.time)


def _record(run: dict[str, Any]) -> RunRecord:
    return RunRecord(
        run_id=str(run["run_id"]), job_id=str(run.get("job_id", "")),
        status=str(run.get("status", "")), profile=str(run.get("profile", "")),
        created_at=str(run.get("created_at", "")), args=run.get("args") or {},
        decisions=tuple(run.get("decisions") or ()), image=str(run.get("image", "")),
        started_at=run.get("started_at"), finished_at=run.get("finished_at"),
        exit_code=run.get("exit_code"), code=run.get("code"), detail=run.get("detail"),
    )
