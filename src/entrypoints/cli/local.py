"""The CLI's local backend: drives the engine in this process through the DI container."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any, Callable

from flwd.domain.errors import PolicyDeniedError
from flwd.domain.model import JobSpec
from flwd.domain.plan.assembly import plan_as_dict
from flwd.domain.plan.use_cases import RunRequest
from flwd.entrypoints.cli.render import EventPrinter, Io
from flwd.entrypoints.container import Container
from flwd.entrypoints.views import catalog_view, run_view

if TYPE_CHECKING:  # the run side is imported by the methods that run: plans never load it
    from concurrent.futures import Future

    from flwd.domain.run.execution import QueuedRun
    from flwd.ports.store import RunRecord

_FOLLOW_POLL_SECONDS = 0.3


class LocalBackend:
    """Every CLI command, executed against this machine's store and runtime."""

    def __init__(self, container: Container, io: Io) -> None:
        self._container = container
        self._io = io
        self._supervising = False

    def close(self) -> None:
        """Cancel and wait for this process's runs (and runs it adopted), then close the
        runtime. A command that ran nothing leaves the supervisor unbuilt (plans never import
        the executor)."""
        if self._supervising:
            self._container.supervisor().shutdown(cancel=True)
        self._container.shutdown_resources()

    def list_jobs(self) -> dict[str, Any]:
        return catalog_view(self._container.list_jobs()())

    def get_job(self, job_id: str) -> JobSpec:
        return self._container.list_jobs().find(job_id)

    def plan(self, job: JobSpec, args: dict[str, object], profile: str | None) -> dict[str, Any]:
        request = RunRequest(job=job.id, args=args, from_text=True, requested_profile=profile)
        _, prepared = self._container.plan_job()(request)
        return plan_as_dict(prepared.plan)

    def run(self, job: JobSpec, args: dict[str, object], profile: str | None, *,
            printer: EventPrinter, detach: bool) -> RunRecord:
        """Ctrl-C (or SIGTERM/SIGHUP) once: graceful cancel; twice: kill. The run always
        reaches run.finished."""
        from flwd.domain.run.execution import QueuedRun
        from flwd.entrypoints.cli.signals import deferred_interrupts, stop_signals_interrupt

        request = RunRequest(job=job.id, args=args, from_text=True, requested_profile=profile)
        # deferred inside stop_signals_interrupt: when the run is handed over, a signal raises
        # KeyboardInterrupt for the wait below instead of taking its default action
        with stop_signals_interrupt():
            with deferred_interrupts() as interrupted:  # until the supervisor holds the run
                try:
                    queued = self._container.submit_run()(request)
                except PolicyDeniedError as exc:
                    self._replay(str(exc.context.get("run_id", "")), printer)
                    raise
                assert isinstance(queued, QueuedRun)
                self._supervising = True
                self._replay(queued.record.run_id, printer)
                if detach and not interrupted:
                    return self._detach(queued)
                supervisor = self._container.supervisor()
                run_id = queued.record.run_id
                if interrupted:  # canceled before a worker can pick it up: it never starts
                    supervisor.control_for(run_id).cancel()
                future = supervisor.submit(queued, [printer])
            if interrupted:  # as a first Ctrl-C, also when it came while the run was submitted
                self._io.err.write("\nflwd: canceling (Ctrl-C again to kill)\n")
                supervisor.cancel(run_id)
            return self._wait(future, run_id, interrupts=1 if interrupted else 0)

    def _replay(self, run_id: str, printer: EventPrinter) -> None:
        if run_id:
            for event in self._container.store().events(run_id):
                printer(event)

    def _wait(self, future: Future[RunRecord], run_id: str, interrupts: int) -> RunRecord:
        supervisor = self._container.supervisor()
        while True:
            try:
                return future.result(timeout=0.2)
            except TimeoutError:
                continue
            except KeyboardInterrupt:
                interrupts += 1
                if interrupts == 1:
                    self._io.err.write("\nflwd: canceling (Ctrl-C again to kill)\n")
                    supervisor.cancel(run_id)
                else:
                    self._io.err.write("\nflwd: killing\n")
                    supervisor.kill(run_id)

    def _detach(self, queued: QueuedRun) -> RunRecord:
        """Hand the run to a detached child process; this process returns at once."""
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns to the caller
            _run_detached_child(self._container, queued)
        return queued.record

    def runs(self, job: str | None, status: str | None) -> list[dict[str, Any]]:
        page = self._container.query_runs().page(job_id=job, status=status, limit=100)
        return [run_view(r) for r in page.runs]

    def logs(self, run_id: str, follow: bool, printer: Callable[[Any], None]) -> RunRecord:
        from flwd.domain.run.events import RUN_FINISHED

        query = self._container.query_runs()
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

    def cancel(self, run_id: str) -> dict[str, Any]:
        self._supervising = True  # a run whose owner died is adopted here: close() waits for its end
        return run_view(self._container.cancel_run()(run_id))


def _run_detached_child(container: Container, queued: QueuedRun) -> None:
    from flwd.entrypoints.cli.signals import restore_defaults

    code = 0
    try:
        restore_defaults()
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        container.reset_singletons()  # never share a SQLite connection across fork
        container.supervisor().run_here(queued)
        container.shutdown_resources()
    except BaseException:  # noqa: BLE001 - a detached child must not unwind into the CLI
        code = 1
    finally:
        os._exit(code)
