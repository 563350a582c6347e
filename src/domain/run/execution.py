"""The run use case: from a queued run to a finished one, always cleaning up after itself."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from flwd.domain.run import events as ev
from flwd.domain.plan.container_spec import build_container_spec
from flwd.domain.run.control import BackgroundCall, RunControl
from flwd.domain.errors import FlwdError
from flwd.domain.run.follow import ContainerWatch, Outcome
from flwd.domain.run.pending import PendingCleanup
from flwd.domain.model import JobSpec, PolicyBundle, RunStatus
from flwd.domain.plan.assembly import PreparedRun
from flwd.domain.policy.profiles import raise_for_denials, runtime_decisions
from flwd.domain.args.redact import Redactor
from flwd.ports.clock import Clock
from flwd.ports.events import EventListener
from flwd.ports.runtime import ContainerRuntime, PullProgress, RuntimeInfo
from flwd.ports.secrets import SecretWriter
from flwd.ports.store import RunRecord, RunStore
from flwd.ports.workspace import RunWorkspace


@dataclass(frozen=True, slots=True, kw_only=True)
class QueuedRun:
    """A run recorded as queued, with everything needed to execute it."""

    record: RunRecord
    job: JobSpec
    prepared: PreparedRun = field(repr=False)


_PULL_POLL_SECONDS = 0.5  # how often a pull's wait looks for a cancel asked by another process


class _Stopped(Exception):
    """Internal: the run was cancelled before its container existed."""


@dataclass(slots=True)
class _PullGate:
    """Lets the pull's thread record progress until the run gives up on the pull."""

    closed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class ExecuteRun:
    """Drives one queued run through pulling, running and its end state (SPEC section 6).

    Never raises: every failure ends the run ``error`` with a code. The container is always
    removed and the secrets directory always deleted, however the run ends.
    """

    def __init__(
        self,
        *,
        runtime: Callable[[], ContainerRuntime],
        secrets: SecretWriter,
        workspace: RunWorkspace,
        store: RunStore,
        clock: Clock,
        bundle: PolicyBundle,
        cancel_grace: float,
        pending: PendingCleanup,
        host_env: Mapping[str, str] | None = None,
        owner: str = "",
    ) -> None:
        self._runtime = runtime
        self._pending = pending
        self._secrets = secrets
        self._workspace = workspace
        self._store = store
        self._clock = clock
        self._bundle = bundle
        self._grace = cancel_grace
        self._host_env = host_env
        self._owner = owner

    def __call__(
        self, queued: QueuedRun, control: RunControl, listeners: Iterable[EventListener] = ()
    ) -> RunRecord:
        recorder = ev.RunRecorder(
            store=self._store,
            clock=self._clock,
            record=queued.record,
            redact=queued.prepared.redactor.redact_obj,
            listeners=listeners,
        )
        started = self._clock.monotonic()
        outcome = Outcome()
        runtime: ContainerRuntime | None = None
        container_id: str | None = None
        try:
            if self._canceled(queued.record.run_id, control):
                raise _Stopped()  # canceled while queued: no runtime needed to end it
            runtime = self._runtime()
            info = self._check_runtime(runtime, queued, recorder)
            self._pull(runtime, queued, recorder, control)
            container_id = self._create(runtime, info, queued, recorder)
            self._run(runtime, container_id, queued, recorder, control, outcome)
        except _Stopped:
            self._stopped(recorder, outcome)
        except Exception as exc:  # noqa: BLE001 - a run must always end with run.finished
            _failed(outcome, exc)
        finally:
            cleanup_error = self._cleanup(runtime, container_id, queued.record.run_id)
            if cleanup_error and outcome.code is None and outcome.status is RunStatus.ERROR:
                outcome.code, outcome.detail = cleanup_error.code, cleanup_error.detail
        return self._finish(recorder, outcome, started, queued.prepared.redactor)

    @staticmethod
    def _stopped(recorder: ev.RunRecorder, outcome: Outcome) -> None:
        try:
            recorder.emit(ev.RUN_CANCELED, {"reason": "canceled before the container started"})
            outcome.status = RunStatus.CANCELED
        except FlwdError as exc:  # the store refused it: the end says why
            _failed(outcome, exc)

    def _check_runtime(
        self, runtime: ContainerRuntime, queued: QueuedRun, recorder: ev.RunRecorder
    ) -> RuntimeInfo:
        info = runtime.probe()
        decisions = runtime_decisions(queued.prepared.plan.settings, self._bundle, info)
        all_decisions = recorder.record.decisions + tuple(d.as_dict() for d in decisions)
        for decision in decisions:
            recorder.emit(ev.POLICY_DECISION, decision.as_dict(), decisions=all_decisions,
                          runtime=f"{info.name} {info.version}")
        raise_for_denials(decisions)
        return info

    def _pull(
        self,
        runtime: ContainerRuntime,
        queued: QueuedRun,
        recorder: ev.RunRecorder,
        control: RunControl,
    ) -> None:
        run_id = queued.record.run_id
        if self._canceled(run_id, control):
            raise _Stopped()
        plan = queued.prepared.plan
        recorder.emit(ev.IMAGE_PULL, {"image": plan.image, "status": "checking"},
                      status=RunStatus.PULLING.value, owner=self._owner)
        last: list[tuple[str, int | None]] = []
        gate = _PullGate()

        def progress(step: PullProgress) -> None:
            percent = (100 * step.current // step.total) if step.current and step.total else None
            key = (step.status, None if percent is None else percent // 10)
            with gate.lock:
                if gate.closed or control.cancel_requested:
                    raise _Stopped()  # abandon the pull: the run never starts a container
                if last and last[-1] == key:
                    return
                last[:] = [key]
                recorder.emit(ev.IMAGE_PULL, {"image": step.image, "status": step.status,
                                              "current": step.current, "total": step.total})

        try:
            pulled = self._await_pull(
                lambda: runtime.ensure_image(plan.image, plan.pull_policy.value, progress),
                run_id, control, gate)
        except Exception:
            if self._canceled(run_id, control):
                raise _Stopped() from None  # canceled while pulling: canceled, whatever the pull did
            raise
        recorder.emit(ev.IMAGE_PULL, {"image": plan.image, "status": "ready", "pulled": pulled})
        if self._canceled(run_id, control):
            raise _Stopped()

    def _await_pull(self, pull: Callable[[], bool], run_id: str, control: RunControl,
                    gate: _PullGate) -> bool:
        """*pull* in a daemon thread, waited for until it ends or the run is canceled.

        A stalled registry sends no progress, so a cancel heard only in the progress callback
        would wait for the runtime's own pull timeout. On a cancel the pull is abandoned: the
        gate stops its thread recording anything more (run.finished stays the last event) and
        the thread ends whenever the runtime's call returns.
        """
        pulling = BackgroundCall(pull, control, f"flwd-pull-{run_id}")
        while not pulling.done:
            control.wait_for(lambda: pulling.done, _PULL_POLL_SECONDS)
            if not pulling.done and self._canceled(run_id, control):
                with gate.lock:
                    gate.closed = True
                raise _Stopped()
        return pulling.result()

    def _canceled(self, run_id: str, control: RunControl) -> bool:
        """Asked here, or by another process through a stored ``run.cancel.requested``."""
        if not control.cancel_requested and any(
                e.type == ev.RUN_CANCEL_REQUESTED for e in self._store.events(run_id)):
            control.cancel()
        return control.cancel_requested

    def _create(
        self,
        runtime: ContainerRuntime,
        info: RuntimeInfo,
        queued: QueuedRun,
        recorder: ev.RunRecorder,
    ) -> str:
        run_id = queued.record.run_id
        owner = (info.root_uid, info.root_gid)
        if queued.job.directory:  # an add-on job's files are in its image
            self._workspace.check_mount_source(queued.job.directory, owner)
        secrets_dir = None
        if queued.prepared.secrets:
            secrets_dir = self._secrets.materialise(run_id, queued.prepared.secrets, owner)
        run_dir = self._workspace.create(run_id, owner)
        spec = build_container_spec(
            queued.prepared.plan,
            run_id=run_id,
            job_dir=queued.job.directory,
            run_dir=run_dir,
            secrets_dir=secrets_dir,
            host_env=self._host_env,
        )
        container_id = runtime.create(spec)
        recorder.record = recorder.record.evolve(container_id=container_id)
        return container_id

    def _run(
        self,
        runtime: ContainerRuntime,
        container_id: str,
        queued: QueuedRun,
        recorder: ev.RunRecorder,
        control: RunControl,
        outcome: Outcome,
    ) -> None:
        lines = runtime.attach(container_id)  # before the start: no line written is missed
        try:
            runtime.start(container_id)
        except BaseException:
            lines.close()
            raise
        recorder.emit(ev.RUN_STARTED, {"container": container_id, "image": queued.prepared.plan.image,
                                       "timeout_seconds": queued.prepared.plan.timeout_seconds},
                      status=RunStatus.RUNNING.value, started_at=recorder.now())
        self._watch(runtime)(container_id, recorder, control, outcome,
                             queued.prepared.plan.timeout_seconds, lines=lines)

    def reattach(
        self,
        record: RunRecord,
        control: RunControl,
        *,
        redactor: Redactor,
        timeout: float | None = None,
        listeners: Iterable[EventListener] = (),
    ) -> RunRecord:
        """Adopt a run whose container outlived the process that started it (reconcile).

        Output lines already recorded are not recorded twice; the end is as for any run.
        """
        recorder = ev.RunRecorder(store=self._store, clock=self._clock,
                                  record=record.evolve(owner=self._owner),
                                  redact=redactor.redact_obj, listeners=listeners)
        seen: dict[str, int] = {}
        for event in self._store.events(record.run_id):
            if event.type == ev.RUN_OUTPUT:
                stream = str(event.data.get("stream"))
                seen[stream] = seen.get(stream, 0) + 1
        started = self._clock.monotonic()
        outcome = Outcome()
        runtime: ContainerRuntime | None = None
        try:
            runtime = self._runtime()
            self._watch(runtime)(record.container_id, recorder, control, outcome, timeout, seen)
        except Exception as exc:  # noqa: BLE001 - a run must always end with run.finished
            _failed(outcome, exc)
        finally:
            self._cleanup(runtime, record.container_id, record.run_id)
        return self._finish(recorder, outcome, started, redactor)

    def _watch(self, runtime: ContainerRuntime) -> ContainerWatch:
        return ContainerWatch(runtime=runtime, store=self._store, clock=self._clock,
                              grace=self._grace)

    def _cleanup(self, runtime: ContainerRuntime | None, container_id: str | None,
                 run_id: str) -> FlwdError | None:
        first: FlwdError | None = None
        if runtime is not None and container_id is not None:
            try:  # an unreachable runtime's container is removed when it answers again
                first = self._pending.remove_container(runtime, container_id)
            except FlwdError as exc:
                first = exc
        try:
            self._secrets.remove(run_id)
        except FlwdError as exc:
            first = first or exc
        return first

    def _finish(self, recorder: ev.RunRecorder, outcome: Outcome, started: float,
                redactor: Redactor) -> RunRecord:
        """Record run.finished; a store that refuses it gets it again until it takes it (the
        record returned shows the end either way)."""
        self._pending.end_run(recorder, status=outcome.status.value, exit_code=outcome.exit_code,
                              duration_ms=int((self._clock.monotonic() - started) * 1000),
                              code=outcome.code,
                              detail=redactor.redact(outcome.detail) if outcome.detail else None)
        return recorder.record


def _failed(outcome: Outcome, exc: Exception) -> None:
    """Any failure ends the run ``error``: with its code when flwd knows it, else
    ``flwd.internal`` naming the exception."""
    if isinstance(exc, FlwdError):
        outcome.status, outcome.code, outcome.detail = RunStatus.ERROR, exc.code, exc.detail
    else:
        outcome.status, outcome.code = RunStatus.ERROR, FlwdError.code
        outcome.detail = f"{type(exc).__name__}: {exc}"
