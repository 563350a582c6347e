"""What ``commands.run_job`` needs to run a command line handed off to this server
(``cli.handoff_server``): its use cases, and the client's stop signals and secrets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Protocol, Sequence

from flwd.domain.errors import PolicyDeniedError
from flwd.domain.model import JobSpec
from flwd.domain.plan.use_cases import RunRequest
from flwd.entrypoints.cli.render import EventPrinter, Io

if TYPE_CHECKING:
    from flwd.domain.run.start import StartedRun
    from flwd.entrypoints.cli.handoff_wire import Signals
    from flwd.entrypoints.container import Container
    from flwd.ports.events import EventListener
    from flwd.ports.store import RunRecord

_SIGNAL_POLL_SECONDS = 0.2


class Fallback(Exception):
    """The command needs what only the client has (its files, its standard input, its
    terminal), or this server will not run it: the client runs it itself."""


class Server(Protocol):
    """The hand-off listener's side that a backend uses."""

    container: Container
    listeners: Sequence[EventListener]
    on_denied: Callable[[str], None]
    stopped: bool


class HandOffBackend:
    """``commands.JobRunner`` on this server's use cases. *hand_over* is called just
    before the run is submitted (it raises ``Fallback`` when the run must not be)."""

    def __init__(self, server: Server, console: Io, signals: Signals,
                 hand_over: Callable[[], None]) -> None:
        self._server, self._io, self._signals = server, console, signals
        self._hand_over = hand_over

    def get_job(self, job_id: str) -> JobSpec:
        return self._server.container.list_jobs().find(job_id)

    def run(self, job: JobSpec, args: dict[str, object], profile: str | None, *,
            printer: EventPrinter, detach: bool) -> RunRecord:
        container = self._server.container
        request = RunRequest(job=job.id, args=args, from_text=True, requested_profile=profile)
        start = container.start_run()
        self._hand_over()
        try:
            started = start(request, listeners=[printer, *self._server.listeners],
                            stop_requested=self._stop_requested)
        except PolicyDeniedError as exc:
            self._server.on_denied(exc.code)
            run_id = str(exc.context.get("run_id", ""))
            for event in container.query_runs().events(run_id) if run_id else ():
                printer(event)  # as in-process: the denied run's recorded events first
            raise
        return started.record if detach else self._wait(started)

    def _stop_requested(self) -> bool:
        """A stop signal from the client, or the server stopping, before the hand-over:
        the run is handed over canceled and ends without starting."""
        return self._signals.count > 0 or self._server.stopped

    def _wait(self, started: StartedRun) -> RunRecord:
        """The run's end; the client's first stop signal cancels it, the second kills it;
        the server stopping cancels it."""
        from flwd.entrypoints.cli.local import stop_run

        acted, stopping = 0, False
        while True:
            for _ in range(acted, self._signals.count):
                acted += 1
                stop_run(started, acted, self._io.err)
            if self._server.stopped and not stopping:
                stopping = True
                started.cancel()
            try:
                return started.result(timeout=_SIGNAL_POLL_SECONDS)
            except TimeoutError:
                continue


class ClientSecrets:
    """``SecretInput`` of a client that is elsewhere: anything to read is the client's."""

    def __init__(self, interactive: bool) -> None:
        self._interactive = interactive

    def read_file(self, path: str, limit: int) -> bytes:
        raise Fallback("a secret is read from a file")

    def read_stdin(self, limit: int) -> bytes:
        raise Fallback("a secret is read from standard input")

    def interactive(self) -> bool:
        return self._interactive

    def prompt(self, text: str) -> str:
        raise Fallback("a secret is prompted for")
