"""SIGTERM and SIGHUP during a foreground run act as Ctrl-C: the run is canceled, not orphaned."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextmanager
def stop_signals_interrupt() -> Iterator[None]:
    """While the block runs, SIGTERM/SIGHUP raise KeyboardInterrupt like Ctrl-C (as ``podman
    run`` and ``docker run`` pass them on to the container); the previous handlers come back
    afterwards. Outside the main thread, where handlers cannot be set, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _interrupt) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
