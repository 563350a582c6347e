"""The sources port: named OCI add-ons kept in the run store (SPEC section 10)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol, Sequence

SOURCE_KIND_OCI = "oci"
PULL_ON_ADD = "on-add"
PULL_ON_RUN = "on-run"
SOURCE_PULL_POLICIES = (PULL_ON_ADD, PULL_ON_RUN)


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """An added OCI add-on as stored: the reference asked for, the digest it was pinned to and
    the manifest read from that digest, so listing its jobs never needs a runtime.

    ``image`` is the pinned reference (``REPO@sha256:...``) every plan and run uses; ``digest``
    its ``sha256:...`` part. Times are ISO-8601 UTC text, as run records have them.
    """

    name: str
    ref: str
    image: str
    digest: str
    manifest: str
    added_at: str
    refreshed_at: str
    type: str = SOURCE_KIND_OCI
    trusted: bool = True
    pull_policy: str = PULL_ON_ADD
    addon_name: str = ""
    addon_version: str = ""

    def evolve(self, **changes: Any) -> Source:
        return replace(self, **changes)


class SourceListing(Protocol):
    """Reads the sources, for the catalog (``flwd :jobs`` needs nothing more)."""

    def list_sources(self) -> Sequence[Source]:
        """Every source, sorted by name; raises ``RunStoreError`` when the store cannot be read."""
        ...


class SourceStore(SourceListing, Protocol):
    """Keeps sources beside the runs (SQLite, PostgreSQL, the fake), so every CLI and API
    replica sharing a store sees the same ones. Every write is one transaction."""

    def add_source(self, source: Source) -> None:
        """Store a new source; ``SourceExistsError`` (``source.exists``) when the name is taken."""
        ...

    def replace_source(self, source: Source) -> None:
        """Overwrite the source of that name (refresh, re-pin) if it is still the one *source*
        was made from (same ``ref`` and ``added_at``); ``SourceNotFoundError``
        (``source.not.found``) when there is none, or it was removed and added again
        meanwhile (a refresh must not bring the old reference back over the new one)."""
        ...

    def remove_source(self, name: str) -> Source:
        """Delete and return the source *name*; ``SourceNotFoundError`` when there is none.
        Runs of its jobs stay: they are records, not references."""
        ...

    def get_source(self, name: str) -> Source | None:
        ...

    def list_sources(self) -> Sequence[Source]:
        """Every source, sorted by name."""
        ...
