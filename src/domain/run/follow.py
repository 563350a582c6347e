"""Following one started container: its output, its end, and cancel, kill and timeout."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from flwd.domain.run import events as ev
from flwd.domain.run.control import BackgroundCall, RunControl
from flwd.domain.errors import FlwdError, RunOutputIncompleteError
from flwd.domain.model import RunStatus
from flwd.ports.clock import Clock
from flwd.ports.runtime import ContainerRuntime, OutputLine
from flwd.ports.store import RunStore

_POLL_SECONDS = 0.5
# After the container's exit, how long reading its output may go without a new line before the
# run ends error run.output.incomplete. Not a deadline on the output: the read in flight is
# waited for however long it takes to answer, and a backlog for as long as lines arrive.
OUTPUT_STALL_SECONDS = 60.0


@dataclass(slots=True)
class Outcome:
    """How a run ended, filled in as it goes; ``error`` without a code until decided."""

    status: RunStatus = RunStatus.ERROR
    exit_code: int | None = None
    code: str | None = None
    detail: str | None = None


@dataclass(slots=True)
class _PumpState:
    """What the output pump has recorded, whether it read the output to its end, and whether
    it may still record."""

    lines: int = 0
    finished: bool = False
    error: Exception | None = None
    closed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


def _drain(pump: threading.Thread, state: _PumpState, stall_seconds: float) -> None:
    """After the exit, wait for the pump to read the output to its end: for the read in
    flight, however slow the runtime is to answer it, and for as long as lines keep arriving
    (a chatty job's backlog can take longer than any fixed delay to record).

    Nothing is recorded after this returns. When the pump did not read to the end, raises
    the coded error it met (the runtime lost, the store failed), else
    ``RunOutputIncompleteError``: no new line for *stall_seconds*, or an uncoded failure.
    """
    seen, quiet_since = -1, time.monotonic()
    while pump.is_alive():
        pump.join(0.2)
        if state.lines != seen:
            seen, quiet_since = state.lines, time.monotonic()
        elif time.monotonic() - quiet_since >= stall_seconds:
            break
    with state.lock:
        state.closed = True
        if state.finished:
            return
        if isinstance(state.error, FlwdError):
            raise state.error
        why = (f"{type(state.error).__name__}: {state.error}" if state.error is not None
               else f"no new line for {stall_seconds:g} s after the container exited")
        noun = "line" if state.lines == 1 else "lines"
        raise RunOutputIncompleteError(
            f"the job's output could not be read to its end ({why}); {state.lines} {noun} "
            "recorded", lines=state.lines)


class ContainerWatch:
    """Streams a started container's output into the run's events and waits for its end.

    A cancel (in this process, or asked by another one through a stored
    ``run.cancel.requested``) or the timeout stops it gracefully (SIGTERM, then SIGKILL after
    the grace period); a kill request kills it at once.
    """

    def __init__(self, *, runtime: ContainerRuntime, store: RunStore, clock: Clock,
                 grace: float, stall_seconds: float = OUTPUT_STALL_SECONDS) -> None:
        self._runtime = runtime
        self._store = store
        self._clock = clock
        self._grace = grace
        self._stall_seconds = stall_seconds

    def __call__(
        self,
        container_id: str,
        recorder: ev.RunRecorder,
        control: RunControl,
        outcome: Outcome,
        timeout: float | None,
        skip: Mapping[str, int] | None = None,
        lines: Iterable[OutputLine] | None = None,
    ) -> None:
        """Record output and set *outcome* from how the container ended.

        The output is *lines* (attached before the start), else the runtime's log, skipping
        the first *skip* lines per stream (already recorded by an earlier process).

        Raises (with the exit code already in *outcome*) when the output could not be read to
        its end, ``RunOutputIncompleteError`` or the coded error the read met: the run must not
        end as if it had all of it."""
        state = _PumpState()
        pump = threading.Thread(
            target=self._pump_output,
            args=(lines if lines is not None else self._runtime.output(container_id), recorder,
                  dict(skip or {}), state, control),
            daemon=True, name=f"flwd-output-{recorder.run_id}",
        )
        pump.start()
        try:
            outcome.exit_code = self._wait(container_id, recorder, control, outcome, timeout,
                                           state)
        except BaseException:
            with state.lock:  # the runtime failed: run.finished is next, nothing after it
                state.closed = True
            raise
        _drain(pump, state, self._stall_seconds)
        if outcome.status is RunStatus.ERROR and outcome.code is None:
            outcome.status = RunStatus.SUCCEEDED if outcome.exit_code == 0 else RunStatus.FAILED
        if outcome.status is RunStatus.FAILED:
            # A runtime going down stops its containers first (143): is it still there?
            self._runtime.probe()  # RuntimeUnavailableError: the run ends error, not failed

    def _pump_output(self, lines: Iterable[OutputLine], recorder: ev.RunRecorder,
                     skip: dict[str, int], state: _PumpState, control: RunControl) -> None:
        try:
            for line in lines:
                if skip.get(line.stream, 0) > 0:
                    skip[line.stream] -= 1
                    continue
                with state.lock:
                    if state.closed:
                        return  # run.finished is (about to be) recorded: it stays the last event
                    recorder.emit(ev.RUN_OUTPUT, {"stream": line.stream, "line": line.line})
                    state.lines += 1
            with state.lock:
                state.finished = True
        except Exception as exc:  # noqa: BLE001 - the drain ends the run on it, loudly
            state.error = exc
            control.poke()  # and the job is stopped now: what it writes can no longer be kept

    def _wait(
        self,
        container_id: str,
        recorder: ev.RunRecorder,
        control: RunControl,
        outcome: Outcome,
        timeout: float | None,
        state: _PumpState,
    ) -> int | None:
        waiting = BackgroundCall(lambda: self._runtime.wait(container_id), control,
                                 f"flwd-wait-{recorder.run_id}")
        deadline = None if timeout is None else self._clock.monotonic() + timeout
        stopper: threading.Thread | None = None
        killed = False
        seen_seq = 0
        while not waiting.done:
            control.wait(_POLL_SECONDS)
            if waiting.done:
                break
            seen_seq = self._remote_cancel(recorder.run_id, seen_seq, control)
            if state.error is not None and stopper is None:
                # the store refuses its lines or the runtime is gone: stopped as for a cancel,
                # and the drain ends the run error with the pump's code
                stopper = self._stop_async(container_id)
            if control.kill_requested and not killed:
                killed = True
                self._runtime.kill(container_id)
            if stopper is None and control.cancel_requested:
                recorder.emit(ev.RUN_CANCELED, {"grace_seconds": self._grace})
                outcome.status = RunStatus.CANCELED
                stopper = self._stop_async(container_id)
            elif stopper is None and deadline is not None and self._clock.monotonic() >= deadline:
                recorder.emit(ev.RUN_TIMED_OUT, {"timeout_seconds": timeout,
                                                 "grace_seconds": self._grace})
                outcome.status = RunStatus.TIMED_OUT
                stopper = self._stop_async(container_id)
        return waiting.result()

    def _remote_cancel(self, run_id: str, seen_seq: int, control: RunControl) -> int:
        """A cancel asked by another process arrives as a stored run.cancel.requested event."""
        if control.cancel_requested:
            return seen_seq
        for event in self._store.events(run_id, after_seq=seen_seq):
            seen_seq = event.seq
            if event.type == ev.RUN_CANCEL_REQUESTED:
                control.cancel()
        return seen_seq

    def _stop_async(self, container_id: str) -> threading.Thread:
        def stop() -> None:
            try:
                self._runtime.stop(container_id, self._grace)
            except FlwdError:
                pass  # already gone: wait() reports how it ended

        thread = threading.Thread(target=stop, daemon=True)
        thread.start()
        return thread
