"""A server's watch for orphans: a CLI killed on its host while it serves the same data dir
leaves a run that no request would otherwise end."""

from __future__ import annotations

import threading
from typing import Callable

ORPHAN_SCAN_SECONDS = 5.0


class OrphanWatch:
    """A daemon thread that calls *adopt* (``AdoptOrphans``: one store query when there is
    no orphan) every *every* seconds. A failure (the runtime or the store down) waits for the
    next round."""

    def __init__(self, adopt: Callable[[], Callable[[], object]],
                 every: float = ORPHAN_SCAN_SECONDS) -> None:
        self._adopt = adopt
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="flwd-orphans")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._every + 5)

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._adopt()()
            except Exception:  # noqa: BLE001 - the runtime or the store down: the next round retries
                continue
