"""SIGTERM and SIGHUP during a foreground run act as Ctrl-C: the run is canceled, not orphaned."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Any, ContextManager, Iterator

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextmanager
def _handling(signals: tuple[int, ...], handler: Any) -> Iterator[None]:
    """*handler* for *signals* while the block runs, the previous handlers afterwards; outside
    the main thread, where handlers cannot be set, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in signals}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def stop_signals_interrupt() -> ContextManager[None]:
    """While the block runs, SIGTERM/SIGHUP raise KeyboardInterrupt like Ctrl-C (as ``podman
    run`` and ``docker run`` pass them on to the container)."""
    return _handling(_STOP_SIGNALS, _interrupt)


@contextmanager
def deferred_interrupts() -> Iterator[list[int]]:
    """While the block runs, a first Ctrl-C, SIGTERM or SIGHUP is only recorded (the list
    yielded; a second one interrupts): for the moments between recording a run and handing it
    to the supervisor, where an interrupt would leave the run ``queued`` with nobody to run or
    end it."""
    received: list[int] = []

    def record(signum: int, frame: Any) -> None:
        if received:  # asked twice: the user means it, even at the cost of a queued run
            raise KeyboardInterrupt(signal.Signals(signum).name)
        received.append(signum)

    with _handling((signal.SIGINT, *_STOP_SIGNALS), record):
        yield received


def restore_defaults() -> None:
    """A forked child (``--detach``) starts from the signal handling of a fresh process."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in _STOP_SIGNALS:
        signal.signal(sig, signal.SIG_DFL)
