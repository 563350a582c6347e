"""The CLI's local backend: drives the engine in this process through its use cases."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, TextIO

from flwd.domain.errors import PolicyDeniedError
from flwd.domain.model import JobSpec
from flwd.domain.plan.assembly import plan_as_dict
from flwd.domain.plan.use_cases import ListJobs, PlanJob, RunRequest
from flwd.entrypoints.cli.render import EventPrinter, Io
from flwd.entrypoints.views import catalog_view, run_view

if TYPE_CHECKING:  # the run side is imported by the methods that run: plans never load it
    from flwd.domain.run.orphans import AdoptOrphans
    from flwd.domain.run.start import StartedRun, StartRun
    from flwd.domain.run.use_cases import CancelRun, QueryRuns
    from flwd.domain.worker.query import ListWorkers
    from flwd.entrypoints.container import Container
    from flwd.ports.store import RunRecord

_FOLLOW_POLL_SECONDS = 0.3


def local_backend(container: Container, io: Io) -> LocalBackend:
    """The backend over *container*'s use cases, each built on first use (by its provider)."""

    def stop_runs() -> None:
        container.supervisor().shutdown(cancel=True)

    return LocalBackend(
        io=io, list_jobs=container.list_jobs, plan_job=container.plan_job,
        start_run=container.start_run, start_detached_run=container.start_detached_run,
        query_runs=container.query_runs, cancel_run=container.cancel_run,
        adopt_orphans=container.hand_off_orphans,
        stop_runs=stop_runs, close=container.shutdown_resources,
        list_workers=container.list_workers,
    )


def stop_run(started: StartedRun, nth: int, err: TextIO) -> None:
    """The *nth* stop signal (Ctrl-C, SIGTERM, SIGHUP) during a run: the first cancels it
    gracefully, any later one kills it; each says so on *err*."""
    if nth == 1:
        err.write("\nflwd: canceling (Ctrl-C again to kill)\n")
        started.cancel()
    else:
        err.write("\nflwd: killing\n")
        started.kill()


class LocalBackend:
    """Every CLI command, executed against this machine's store and runtime: one use-case
    call each. The use cases come as factories so that a command builds only what it calls."""

    def __init__(self, *, io: Io, list_jobs: Callable[[], ListJobs], plan_job: Callable[[], PlanJob],
                 start_run: Callable[[], StartRun], start_detached_run: Callable[[], StartRun],
                 query_runs: Callable[[], QueryRuns], cancel_run: Callable[[], CancelRun],
                 adopt_orphans: Callable[[], AdoptOrphans],
                 stop_runs: Callable[[], None], close: Callable[[], object],
                 list_workers: Callable[[], ListWorkers] | None = None) -> None:
        self._io = io
        self._list_jobs, self._plan_job = list_jobs, plan_job
        self._start_run, self._start_detached_run = start_run, start_detached_run
        self._query_runs, self._cancel_run = query_runs, cancel_run
        self._adopt_orphans = adopt_orphans
        self._stop_runs, self._close = stop_runs, close
        self._supervising = False
        self._list_workers = list_workers

    def close(self) -> None:
        """Cancel and wait for this process's runs (and runs it adopted), then close the
        runtime. A command that ran nothing builds no supervisor (plans never import the
        executor)."""
        if self._supervising:
            self._stop_runs()
        self._close()

    def list_jobs(self) -> dict[str, Any]:
        return catalog_view(self._list_jobs()())

    def get_job(self, job_id: str) -> JobSpec:
        return self._list_jobs().find(job_id)

    def plan(self, job: JobSpec, args: dict[str, object], profile: str | None) -> dict[str, Any]:
        request = RunRequest(job=job.id, args=args, from_text=True, requested_profile=profile)
        _, prepared = self._plan_job()(request)
        return plan_as_dict(prepared.plan)

    def run(self, job: JobSpec, args: dict[str, object], profile: str | None, *,
            printer: EventPrinter, detach: bool) -> RunRecord:
        """Ctrl-C (or SIGTERM/SIGHUP) once: graceful cancel; twice: kill. The run always
        reaches run.finished."""
        from flwd.entrypoints.cli.signals import deferred_interrupts, stop_signals_interrupt

        request = RunRequest(job=job.id, args=args, from_text=True, requested_profile=profile)
        if not detach:  # a detached run forks before this process touches the runtime
            self._adopt(warn=False)
        start = (self._start_detached_run if detach else self._start_run)()
        handed_over_canceled: list[bool] = []
        # deferred inside stop_signals_interrupt: when the run is handed over, a signal raises
        # KeyboardInterrupt for the wait below instead of taking its default action
        with stop_signals_interrupt():
            with deferred_interrupts() as interrupted:  # until the dispatcher holds the run

                def stop_requested() -> bool:  # a signal during submission: it never starts
                    handed_over_canceled.append(bool(interrupted))
                    return handed_over_canceled[-1]

                try:
                    started = start(request, listeners=[printer], stop_requested=stop_requested)
                except PolicyDeniedError as exc:
                    self._replay(str(exc.context.get("run_id", "")), printer)
                    raise
                self._supervising = True
            if detach and not any(handed_over_canceled):
                self._adopt(warn=False)
                return started.record  # a detached child runs it
            if interrupted:  # as a first Ctrl-C, also when it came while the run was submitted
                stop_run(started, 1, self._io.err)
            return self._wait(started, interrupts=1 if interrupted else 0)

    def _replay(self, run_id: str, printer: EventPrinter) -> None:
        """The events a denied run recorded: submission raised before anyone heard them."""
        if run_id:
            for event in self._query_runs().events(run_id):
                printer(event)

    def _wait(self, started: StartedRun, interrupts: int) -> RunRecord:
        while True:
            try:
                return started.result(timeout=0.2)
            except TimeoutError:
                continue
            except KeyboardInterrupt:
                interrupts += 1
                stop_run(started, interrupts, self._io.err)

    def runs(self, job: str | None, status: str | None) -> list[dict[str, Any]]:
        adopt = self._adopt(warn=True)
        page = self._query_runs().page(job_id=job, status=status, limit=100)
        views = [run_view(r) for r in page.runs]
        for view, record in zip(views, page.runs):
            if adopt.orphaned(record):
                view["orphaned"] = True  # its process is gone and nothing could adopt it
        return views

    def _adopt(self, *, warn: bool, keep: str = "") -> AdoptOrphans:
        """Runs whose flwd died (killed mid-run) are found by the next command that reads
        the store: those whose container exited end here as they really ended; those whose
        container still runs go to a detached adopter that follows them to their end (this
        command may be about to exit), but *keep*, left to this command (``:cancel``)."""
        from flwd.domain.errors import FlwdError

        adopt = self._adopt_orphans()
        try:
            adopt(keep)
        except FlwdError as exc:  # e.g. the runtime is down: the orphans wait for the next try
            if warn:
                self._io.err.write(f"warning[{exc.code}]: runs whose flwd ended could not be "
                                   f"adopted: {exc.detail}\n")
        return adopt

    def logs(self, run_id: str, follow: bool, printer: Callable[[Any], None]) -> RunRecord:
        from flwd.domain.run.events import RUN_FINISHED

        self._adopt(warn=True)
        query = self._query_runs()
        seq = 0
        while True:
            finished = False
            for event in query.events(run_id, after_seq=seq):
                seq = event.seq
                printer(event)
                finished = finished or event.type == RUN_FINISHED
            if finished or not follow:
                return query.get(run_id)
            time.sleep(_FOLLOW_POLL_SECONDS)

    def workers(self) -> list[dict[str, Any]]:
        """Cluster mode's live workers, from the (shared) store's worker registry."""
        from flwd.entrypoints.workers_view import workers_view

        if self._list_workers is None:
            return []
        return list(workers_view(self._list_workers().live())["workers"])

    def cancel(self, run_id: str) -> dict[str, Any]:
        self._supervising = True  # a run whose owner died is adopted here: close() waits for its end
        self._adopt(warn=False, keep=run_id)
        return run_view(self._cancel_run()(run_id))

