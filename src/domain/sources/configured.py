"""Sources declared in ``flwd.yaml`` (``sources:``): added to the store when missing.

The store stays the one place sources live (every CLI and replica sharing it sees the same);
the configuration only says which sources should exist. ``flwd :sources`` and ``flwd :serve``
add the declared ones not yet in the store (pulling them needs the runtime, so ``:jobs`` and
``:plan`` never do). A declared source already in the store is left as it is: it moves on
with ``refresh``, and a changed ``ref`` takes ``remove`` and the next reconcile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from flwd.domain.errors import FlwdError
from flwd.domain.sources.rules import SourceRequest
from flwd.domain.sources.use_cases import AddSource, SourceChange
from flwd.ports.sources import SourceStore


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfiguredOutcome:
    """One declared source that was missing: added (``change``) or not (``error``)."""

    name: str
    change: SourceChange | None = None
    error: FlwdError | None = None


def add_configured_sources(declared: Sequence[SourceRequest], store: SourceStore,
                           add: AddSource) -> list[ConfiguredOutcome]:
    """Add every declared source the store lacks; one failure never stops the others."""
    outcomes: list[ConfiguredOutcome] = []
    for request in declared:
        if store.get_source(request.name) is not None:
            continue
        try:
            outcomes.append(ConfiguredOutcome(name=request.name, change=add(request)))
        except FlwdError as exc:
            outcomes.append(ConfiguredOutcome(name=request.name, error=exc))
    return outcomes
