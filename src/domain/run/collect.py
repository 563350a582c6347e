"""Ending a run whose container exited while no flwd process followed it, as it really ended."""

from __future__ import annotations

from typing import Iterable, Iterator, Sequence

from flwd.domain.args.redact import Redactor
from flwd.domain.errors import FlwdError
from flwd.domain.model import RunStatus
from flwd.domain.run import events as ev
from flwd.ports.clock import Clock
from flwd.ports.runtime import ContainerRuntime, OutputLine
from flwd.ports.secrets import SecretWriter
from flwd.ports.store import EventRecord, RunRecord, RunStore


def recorded_lines(events: Iterable[EventRecord]) -> dict[str, int]:
    """How many output lines of each stream *events* already hold."""
    seen: dict[str, int] = {}
    for event in events:
        if event.type == ev.RUN_OUTPUT:
            stream = str(event.data.get("stream"))
            seen[stream] = seen.get(stream, 0) + 1
    return seen


def unrecorded(lines: Iterable[OutputLine], seen: dict[str, int]) -> Iterator[OutputLine]:
    """*lines* (a stream's whole log, from its start) past the first *seen* lines of each
    stream: a run's recorded output is a prefix of each stream, in order."""
    left = dict(seen)
    for line in lines:
        if left.get(line.stream, 0) > 0:
            left[line.stream] -= 1
            continue
        yield line


def ended_status(events: Sequence[EventRecord], exit_code: int) -> RunStatus:
    """The end flwd had already begun (a cancel or timeout it recorded before its process
    died) is kept; otherwise the exit code decides."""
    types = {e.type for e in events}
    if ev.RUN_CANCELED in types:
        return RunStatus.CANCELED
    if ev.RUN_TIMED_OUT in types:
        return RunStatus.TIMED_OUT
    return RunStatus.SUCCEEDED if exit_code == 0 else RunStatus.FAILED


class CollectExited:
    """Records the end of a ``running`` run whose container has exited with nobody following
    it (its flwd was killed, or the server was down): the exit code the runtime kept, the
    output lines not yet recorded (once each, in order per stream), then removes the
    container and the secrets directory. The container has exited, so its log is read to its
    end with no deadline: nothing it wrote is dropped. A runtime failure on the way ends the
    run ``error`` with the runtime's code.
    """

    def __init__(self, *, store: RunStore, runtime: ContainerRuntime, secrets: SecretWriter,
                 clock: Clock) -> None:
        self._store = store
        self._runtime = runtime
        self._secrets = secrets
        self._clock = clock

    def __call__(self, record: RunRecord, container_id: str) -> RunRecord:
        redactor = Redactor(self._secrets.recover(record.run_id))
        recorder = ev.RunRecorder(store=self._store, clock=self._clock, record=record,
                                  redact=redactor.redact_obj)
        started = self._clock.monotonic()
        events = self._store.events(record.run_id)
        exit_code: int | None = None
        code = detail = None
        try:
            exit_code = self._runtime.wait(container_id)  # exited: answers at once
            for line in unrecorded(self._runtime.output(container_id), recorded_lines(events)):
                recorder.emit(ev.RUN_OUTPUT, {"stream": line.stream, "line": line.line})
            status = ended_status(events, exit_code)
        except FlwdError as exc:
            status, code, detail = RunStatus.ERROR, exc.code, redactor.redact(exc.detail)
        except Exception as exc:  # noqa: BLE001 - the run must still end with run.finished
            status, code = RunStatus.ERROR, FlwdError.code
            detail = redactor.redact(f"{type(exc).__name__}: {exc}")
        finally:
            self._remove(container_id, record.run_id)
        recorder.finish(status.value, exit_code=exit_code, code=code, detail=detail,
                        duration_ms=int((self._clock.monotonic() - started) * 1000))
        return recorder.record

    def _remove(self, container_id: str, run_id: str) -> None:
        """Best effort: what is left is swept by the next reconcile, the run having ended."""
        try:
            self._runtime.remove(container_id)
        except FlwdError:
            pass
        try:
            self._secrets.remove(run_id)
        except FlwdError:
            pass
