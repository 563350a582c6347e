"""An in-memory ``SourceStore``, mixed into ``FakeRunStore`` (sources live in the run store)."""

from __future__ import annotations

import threading
from typing import Sequence

from flwd.domain.errors import RunStoreError, SourceExistsError, SourceNotFoundError
from flwd.ports.sources import Source


class FakeSources:
    """Sources in a dict, with the SQL stores' rules; ``full`` makes writes fail as on a
    full disk (``RunStoreError``), storing nothing."""

    full: bool
    _lock: threading.RLock

    def __init__(self) -> None:
        self.sources: dict[str, Source] = {}

    def _check_sources_writable(self) -> None:
        if self.full:
            raise RunStoreError("fake run store configured to fail: database or disk is full")

    def add_source(self, source: Source) -> None:
        self._check_sources_writable()
        with self._lock:
            if source.name in self.sources:
                raise SourceExistsError(f"a source named {source.name!r} is already added",
                                        source=source.name)
            self.sources[source.name] = source

    def replace_source(self, source: Source) -> None:
        self._check_sources_writable()
        with self._lock:
            stored = self._existing(source.name)
            if (stored.ref, stored.added_at) != (source.ref, source.added_at):
                raise SourceNotFoundError(f"no source named {source.name!r} (or it was removed "
                                          "and added again meanwhile)", source=source.name)
            self.sources[source.name] = source

    def remove_source(self, name: str) -> Source:
        self._check_sources_writable()
        with self._lock:
            return self.sources.pop(self._existing(name).name)

    def get_source(self, name: str) -> Source | None:
        with self._lock:
            return self.sources.get(name)

    def list_sources(self) -> Sequence[Source]:
        with self._lock:
            return [self.sources[name] for name in sorted(self.sources)]

    def _existing(self, name: str) -> Source:
        found = self.sources.get(name)
        if found is None:
            raise SourceNotFoundError(f"no source named {name!r}", source=name)
        return found
