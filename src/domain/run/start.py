"""Starting a run, the one call the entrypoints make: record it, then hand it to the dispatcher.

The order is the same for every entrypoint and every mode (SPEC section 2): the job is found
and its spec read, the arguments validated, the plan made and its policy decided, the run
recorded; only then is the dispatcher (and through it the runtime) asked. So an unknown job,
a broken spec, bad arguments or a plan-level denial get their own codes even where no
runtime is reachable, and a run refused for want of one is recorded and ended ``error``,
never left half-recorded.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from flwd.domain.errors import FlwdError, RuntimeUnavailableError, SourceChangedError
from flwd.domain.model import RunStatus
from flwd.domain.plan.use_cases import RunRequest
from flwd.domain.run import events as ev
from flwd.domain.run.execution import QueuedRun
from flwd.domain.run.pending import PendingCleanup
from flwd.domain.run.use_cases import SubmitRun
from flwd.ports.clock import Clock
from flwd.ports.dispatch import RunDispatcher
from flwd.ports.events import EventListener
from flwd.ports.store import RunRecord, RunStore


@dataclass(frozen=True, slots=True, kw_only=True)
class StartedRun:
    """A run handed over for execution, or (``replayed``) the stored run that a repeated
    idempotent request names: that one is not started again."""

    record: RunRecord  # as recorded at submission (queued), or as stored when replayed
    replayed: bool = False
    ended: Future[RunRecord] = field(repr=False)
    dispatcher: RunDispatcher[Any] = field(repr=False)

    @property
    def run_id(self) -> str:
        return self.record.run_id

    def result(self, timeout: float | None = None) -> RunRecord:
        """The run as it ended (a replayed one: as it was stored); raises ``TimeoutError``
        when it has not ended within *timeout* seconds."""
        return self.ended.result(timeout)

    def cancel(self) -> bool:
        """Ask the run to stop gracefully; False when the dispatcher no longer holds it."""
        return self.dispatcher.cancel(self.run_id)

    def kill(self) -> bool:
        return self.dispatcher.kill(self.run_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class PreRun:
    """What the step before an add-on job's run did (SPEC section 10): the events to record
    once the run exists, and the pinned image whose signature it checked (``None``: no
    add-on job, nothing checked)."""

    events: Sequence[tuple[str, Mapping[str, object]]] = ()
    image: str | None = None


def _never() -> bool:
    return False


def check_planned_image(checked: str | None, planned: str, job_id: str) -> None:
    """``SourceChangedError`` when the add-on image a run was planned with is not the one
    its signature check (*checked*) saw: the source was re-pinned in between."""
    if checked is not None and planned != checked:
        raise SourceChangedError(
            f"the add-on of {job_id} was re-pinned to {planned} after this run's checks were "
            f"made on {checked}; start the run again", checked=checked, planned=planned)


class StartRun:
    """Submits a run (``SubmitRun``: plan, policy, record it queued) and hands it to the
    dispatcher, which executes it in this process or elsewhere.

    Raises what submission raises (``job.not.found``, ``args.invalid``, ``PolicyDeniedError``
    with the denied run's id in its context...), then what the dispatcher raises when it
    cannot take the run (``container.runtime.unavailable``...): that run is ended ``error``
    with the code first, and the error carries its id. A repeated idempotent request starts
    nothing: it answers with the stored run (``replayed``).
    """

    def __init__(self, *, submit: SubmitRun, dispatcher: RunDispatcher[QueuedRun],
                 store: RunStore, clock: Clock, pending: PendingCleanup,
                 pre_run: Callable[[RunRequest], PreRun] | None = None) -> None:
        self._submit = submit
        # add-on jobs (SPEC section 10): on-run re-pin and signature check, events to record
        self._pre_run = pre_run
        self._dispatcher = dispatcher
        self._store = store
        self._clock = clock
        self._pending = pending

    def __call__(self, request: RunRequest, *, idempotency_key: str | None = None,
                 listeners: Sequence[EventListener] = (),
                 stop_requested: Callable[[], bool] = _never) -> StartedRun:
        """*listeners* hear every event of the run in order: those recorded at submission
        first, then each one as it is recorded. ``stop_requested()``, asked just before the
        hand-over, true: the run is handed over canceled and ends without starting."""
        pre_run = self._pre_run(request) if self._pre_run is not None else PreRun()
        submitted = self._submit(request, idempotency_key)
        if not isinstance(submitted, RunRecord):
            for event_type, data in pre_run.events:
                self._store.append(submitted.record.run_id, event_type, data,
                                   self._clock.now_iso())
        if isinstance(submitted, RunRecord):
            done: Future[RunRecord] = Future()
            done.set_result(submitted)
            return StartedRun(record=submitted, replayed=True, ended=done,
                              dispatcher=self._dispatcher)
        for event in self._store.events(submitted.record.run_id):
            for listener in listeners:
                listener(event)
        try:
            check_planned_image(pre_run.image, submitted.record.image, submitted.record.job_id)
            ended = self._dispatcher.submit(submitted, listeners, canceled=stop_requested())
        except Exception as exc:
            self._refused(submitted, listeners, exc)
            raise
        return StartedRun(record=submitted.record, ended=ended, dispatcher=self._dispatcher)

    def _refused(self, queued: QueuedRun, listeners: Sequence[EventListener],
                 exc: Exception) -> None:
        """The dispatcher did not take *queued*: it ends ``error`` with the refusal's code (its
        ``run.finished`` heard by *listeners*; retried while the store refuses it), and the
        error names the run."""
        recorder = ev.RunRecorder(store=self._store, clock=self._clock, record=queued.record,
                                  redact=queued.prepared.redactor.redact_obj, listeners=listeners)
        if isinstance(exc, FlwdError):
            code, detail = exc.code, exc.detail
            exc.context["run_id"] = queued.record.run_id
        else:
            code, detail = FlwdError.code, f"{type(exc).__name__}: {exc}"
        self._pending.end_run(recorder, status=RunStatus.ERROR.value, code=code,
                              detail=queued.prepared.redactor.redact(detail))


class NoRuntimeDispatcher:
    """The ``RunDispatcher`` of a plan-only flwd (``:serve --no-runtime``): it takes no run.
    ``StartRun`` has validated, planned and recorded the run by then; it ends ``error``."""

    def __init__(self, *, detail: str) -> None:
        self._detail = detail

    def submit(self, queued: QueuedRun, listeners: Iterable[EventListener] = (), *,
               canceled: bool = False) -> Future[RunRecord]:
        raise RuntimeUnavailableError(self._detail)

    def cancel(self, run_id: str) -> bool:
        return False

    def kill(self, run_id: str) -> bool:
        return False
