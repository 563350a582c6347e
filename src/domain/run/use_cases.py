"""Run use cases the entrypoints call: submit, cancel, look up runs."""

from __future__ import annotations

from typing import Any, Callable, Mapping

from flwd.domain.run import events as ev
from flwd.domain.errors import (
    IdempotencyConflictError,
    PolicyDeniedError,
    RequestInvalidError,
    RunNotActiveError,
    RunNotFoundError,
    RunStoreError,
    RuntimeUnavailableError,
)
from flwd.domain.run.execution import QueuedRun
from flwd.domain.run.pending import PendingCleanup
from flwd.domain.model import Decision, RunStatus, Verdict
from flwd.domain.policy.profiles import raise_for_denials
from flwd.domain.run.reconcile import ReconcileRuns, orphaned
from flwd.domain.plan.use_cases import PlanJob, RunRequest
from flwd.ports.clock import Clock, IdSource
from flwd.ports.dispatch import RunDispatcher
from flwd.ports.owner import RunOwners
from flwd.ports.store import RunPage, RunRecord, RunStore


class SubmitRun:
    """Records a new run as queued (``run.created`` plus its ``policy.decision`` events).

    A plan with a denial is recorded too, ended ``error`` with the deny's code, and the
    matching ``PolicyDeniedError`` is raised: no container ever exists for it.
    """

    def __init__(self, *, plan: PlanJob, store: RunStore, clock: Clock, ids: IdSource,
                 pending: PendingCleanup, owner: str = "") -> None:
        self._plan = plan
        self._pending = pending
        self._owner = owner
        self._store = store
        self._clock = clock
        self._ids = ids

    def __call__(self, request: RunRequest, idempotency_key: str | None = None) -> QueuedRun | RunRecord:
        """A fresh QueuedRun, or the existing RunRecord for a repeated idempotent request."""
        digest = self._plan.fingerprint(request)
        if idempotency_key:
            existing = self._store.find_by_idempotency_key(idempotency_key)
            if existing is not None:
                # None: a run recorded before fingerprints left secrets out (its digest was
                # cleared); the key alone names it, so it is answered as stored.
                if existing.request_digest not in (None, digest):
                    raise IdempotencyConflictError(
                        "Idempotency-Key was already used with a different request",
                        run_id=existing.run_id,
                    )
                _replay_denial(existing)
                return existing
        run_id = self._ids.new_run_id()
        job, prepared = self._plan(request, run_id)
        plan = prepared.plan
        record = RunRecord(
            run_id=run_id,
            job_id=job.id,
            status=RunStatus.QUEUED.value,
            profile=plan.profile.value,
            created_at=self._clock.now_iso(),
            args=dict(plan.args),
            decisions=tuple(d.as_dict() for d in plan.decisions),
            image=plan.image,
            idempotency_key=idempotency_key,
            request_digest=digest,
            owner=self._owner,
            origin=job.origin.as_dict() if job.origin is not None else {},
        )
        created: dict[str, object] = {"job_id": job.id, "profile": plan.profile.value,
                                      "image": plan.image, "args": dict(plan.args)}
        if plan.origin is not None:  # an add-on job: where it came from (SPEC section 10)
            created["origin"] = plan.origin.as_dict()
        try:
            self._store.create(record, ev.RUN_CREATED, created)
        except IdempotencyConflictError:
            # Another request with the same key won the race: answer as it was answered.
            existing = self._store.find_by_idempotency_key(idempotency_key or "")
            if existing is not None and existing.request_digest == digest:
                return existing
            raise
        recorder = ev.RunRecorder(store=self._store, clock=self._clock, record=record,
                                  redact=prepared.redactor.redact_obj)
        try:
            for decision in plan.decisions:
                recorder.emit(ev.POLICY_DECISION, decision.as_dict())
        except RunStoreError as exc:  # recorded as created: it must not stay queued forever
            self._pending.end_run(recorder, status=RunStatus.ERROR.value, code=exc.code,
                                  detail=exc.detail)
            raise
        if plan.denied:
            self._deny(recorder, plan.denied[0].code, plan.decisions)
        return QueuedRun(record=recorder.record, job=job, prepared=prepared)

    def _deny(self, recorder: ev.RunRecorder, code: str, decisions: Any) -> None:
        try:
            raise_for_denials(decisions)
        except Exception as exc:
            detail = getattr(exc, "detail", str(exc))
            recorder.finish(RunStatus.ERROR.value, code=code, detail=detail)
            exc.context["run_id"] = recorder.run_id  # type: ignore[attr-defined]
            raise


def _replay_denial(existing: RunRecord) -> None:
    """A repeated request that was refused before reaching a runtime (a policy denial at
    submission, no runtime to take it) is answered with the same refusal as the first time,
    not with the stored run."""
    if existing.status != RunStatus.ERROR or existing.runtime:
        return
    decisions = [_decision(d) for d in existing.decisions]
    if any(d.decision is Verdict.DENY for d in decisions):
        try:
            raise_for_denials(decisions)
        except PolicyDeniedError as exc:
            exc.context["run_id"] = existing.run_id
            raise
    if existing.code == RuntimeUnavailableError.code and existing.started_at is None:
        raise RuntimeUnavailableError(existing.detail or "no container runtime is reachable",
                                      run_id=existing.run_id)


def stored_run(store: RunStore, run_id: str) -> RunRecord:
    """The stored run *run_id*; ``run.not.found`` when there is none."""
    record = store.get(run_id)
    if record is None:
        raise RunNotFoundError(f"no run {run_id}", run_id=run_id)
    return record


def _decision(data: Mapping[str, str]) -> Decision:
    return Decision(subject=data["subject"], decision=Verdict(data["decision"]),
                    code=data["code"], reason=data["reason"])


class CancelRun:
    """Asks an active run to stop: in this process directly, in another one through the store.

    A run whose owning process died (a CLI killed mid-run) has nobody to hear that request:
    this process adopts it (*orphans*, built only then), which stops its container
    gracefully and ends it ``canceled``.
    """

    def __init__(self, *, store: RunStore, supervisor: RunDispatcher[Any], clock: Clock,
                 owners: RunOwners, orphans: Callable[[], ReconcileRuns]) -> None:
        self._store = store
        self._supervisor = supervisor
        self._clock = clock
        self._owners = owners
        self._orphans = orphans

    def __call__(self, run_id: str) -> RunRecord:
        record = stored_run(self._store, run_id)
        if RunStatus(record.status).finished:
            raise RunNotActiveError(f"run {run_id} already ended {record.status}", run_id=run_id)
        if not self._supervisor.cancel(run_id):
            self._store.append(run_id, ev.RUN_CANCEL_REQUESTED, {}, self._clock.now_iso())
            if orphaned(record, self._owners):
                self._orphans().adopt_orphan(run_id)
        return self._store.get(run_id) or record


class QueryRuns:
    """Read side: one run, a page of runs, a run's events."""

    def __init__(self, *, store: RunStore, pending: PendingCleanup) -> None:
        self._store = store
        self._pending = pending

    def get(self, run_id: str) -> RunRecord:
        """The run as stored, or as it ended when the store refused its end (still retried)."""
        return self._pending.as_known(stored_run(self._store, run_id))

    def unrecorded_end(self, run_id: str) -> RunRecord | None:
        """The run as it ended, while the store refuses to record that end."""
        return self._pending.unrecorded(run_id)

    def page(self, *, job_id: str | None = None, status: str | None = None,
             limit: int = 50, cursor: str | None = None) -> RunPage:
        """Newest first; an unknown *status* is ``request.invalid`` (not an empty page)."""
        statuses = tuple(s.value for s in RunStatus)
        if status is not None and status not in statuses:
            raise RequestInvalidError(f"status must be one of {', '.join(statuses)}",
                                      field="status")
        return self._store.list(job_id=job_id, status=status, limit=limit, cursor=cursor)

    def events(self, run_id: str, after_seq: int = 0, limit: int | None = None) -> list[Any]:
        self.get(run_id)
        return list(self._store.events(run_id, after_seq=after_seq, limit=limit))

    def events_before(self, run_id: str, before_seq: int | None = None,
                      limit: int = 500) -> list[Any]:
        """The last *limit* events before *before_seq* (None: the latest), in seq order."""
        last = 2**63 - 1 if before_seq is None else before_seq
        return list(self._store.events_before(run_id, last, max(1, limit)))
