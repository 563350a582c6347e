"""A worker's side of cluster mode: take one run off the queue and execute it here.

The queue message carries only the run id and its sealed secrets; everything else comes from
the shared store and this host's catalog. The worker claims the run from the queue in one
store write before anything else, so a message delivered twice (late acknowledgement) or a
run canceled while queued never runs. A message whose run another worker holds before its
container started is not dropped but handed back for later (``MessageStillNeeded``): it may
be the only copy of the run's sealed secrets, needed should that worker be found lost. Then
the run is planned again here, from the stored arguments and the opened secrets, and
executed by the same ``RunSupervisor``/``ExecuteRun`` as single-host mode: hardening,
secrets as files, cancel, timeout, output, cleanup.
"""

from __future__ import annotations

import json
from typing import Mapping

from flwd.domain.args.redact import Redactor
from flwd.domain.errors import FlwdError
from flwd.domain.model import JobSpec, RunStatus
from flwd.domain.plan.use_cases import ListJobs, PlanJob, RunRequest
from flwd.domain.policy.profiles import raise_for_denials
from flwd.domain.run import events as ev
from flwd.domain.run.execution import QueuedRun
from flwd.domain.run.pending import PendingCleanup
from flwd.domain.run.start import check_planned_image
from flwd.domain.run.supervisor import RunSupervisor
from flwd.ports.clock import Clock
from flwd.ports.owner import QUEUED_OWNER
from flwd.ports.sealing import SecretSealer
from flwd.ports.store import RunRecord, RunStore


class MessageStillNeeded(Exception):
    """The message's run is held by a worker (this one included) whose container for it has
    not started: the message must come back later instead of being dropped. A broker
    delivers it again while that worker may still be alive (RabbitMQ does as soon as the
    worker's connection drops; Redis once its visibility timeout passes), and should the
    worker be found lost, the run is queued again and this message, with its secrets, is
    what runs it. Once the run's container has started, or the run has ended, the message
    is dropped."""


class TakeQueuedRun:
    """Executes the run a queue message names, in the calling thread (a worker's slot)."""

    def __init__(self, *, store: RunStore, jobs: ListJobs, plan: PlanJob, sealer: SecretSealer,
                 supervisor: RunSupervisor, clock: Clock, pending: PendingCleanup,
                 owner: str) -> None:
        self._store = store
        self._jobs = jobs
        self._plan = plan
        self._sealer = sealer
        self._supervisor = supervisor
        self._clock = clock
        self._pending = pending
        self._owner = owner

    def __call__(self, run_id: str, sealed: bytes | None) -> RunRecord | None:
        """The run as it ended here; None when it is not this worker's to run (unknown,
        ended, canceled while queued, or its container started elsewhere: a repeated
        delivery). Raises ``MessageStillNeeded`` when a worker holds the run before its
        container started. Store failures before the claim raise (``store.unavailable``):
        the message is delivered again."""
        record = self._store.get(run_id)
        if record is None or RunStatus(record.status).finished:
            return None
        claimed = self._store.claim(run_id, QUEUED_OWNER, self._owner)
        if claimed is None:
            held = self._store.get(run_id)
            if held is not None and message_still_needed(held):
                raise MessageStillNeeded(f"run {run_id} is held by {held.owner} and its "
                                         "container has not started")
            return None
        secrets: dict[str, bytes] = {}
        try:
            secrets = self._sealer.open(run_id, sealed) if sealed is not None else {}
            queued = self._prepare(claimed, secrets)
        except Exception as exc:  # noqa: BLE001 - a claimed run must end with run.finished
            return self._refuse(claimed, exc, secrets)
        return self._supervisor.run_here(queued)

    def _prepare(self, record: RunRecord, secrets: Mapping[str, bytes]) -> QueuedRun:
        """The run planned again on this host: its stored arguments with the opened secrets,
        its recorded profile, this host's job spec and policy bundle (a denial here ends it)."""
        job = self._jobs.find(record.job_id)
        request = RunRequest(job=record.job_id, args=_arguments(job, record.args, secrets),
                             requested_profile=record.profile)
        job, prepared = self._plan(request, record.run_id)
        raise_for_denials(prepared.plan.decisions)
        if job.origin is not None:  # an add-on re-pinned while the run waited: not what was checked
            check_planned_image(record.image, prepared.plan.image, record.job_id)
        return QueuedRun(record=record, job=job, prepared=prepared)

    def _refuse(self, record: RunRecord, exc: Exception,
                secrets: Mapping[str, bytes]) -> RunRecord:
        """The claimed run cannot be executed here: it ends ``error`` with the reason's code
        (its detail cleared of any secret value)."""
        redactor = Redactor(str(json.loads(value)) for value in secrets.values())
        recorder = ev.RunRecorder(store=self._store, clock=self._clock, record=record,
                                  redact=redactor.redact_obj)
        if isinstance(exc, FlwdError):
            code, detail = exc.code, exc.detail
        else:
            code, detail = FlwdError.code, f"{type(exc).__name__}: {exc}"
        self._pending.end_run(recorder, status=RunStatus.ERROR.value, code=code,
                              detail=redactor.redact(detail))
        return recorder.record


def message_still_needed(record: RunRecord) -> bool:
    """Whether a message for *record*, a run this worker could not claim, must come back
    later: the run is still active and has not reached ``running`` (a container of it may
    have been created, in which case the next delivery finds it running or ended)."""
    status = RunStatus(record.status)
    return not status.finished and status is not RunStatus.RUNNING


def _arguments(job: JobSpec, stored: Mapping[str, object],
               secrets: Mapping[str, bytes]) -> dict[str, object]:
    """The stored arguments (secrets there are placeholders) with the secrets' own values."""
    args = {name: value for name, value in stored.items()
            if not ((spec := job.arg(name)) is not None and spec.secret)}
    args.update({name: json.loads(value) for name, value in secrets.items()})
    return args
