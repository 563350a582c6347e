"""Use cases of sources: add, refresh, remove, list and look up OCI add-ons (SPEC section 10).

Adding pulls the image (with progress), pins the digest the registry served, checks its
signature, reads the manifest without running the image and records all of it in the store;
from then on the add-on's jobs are listed from that record alone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Sequence

from flwd.domain.errors import RuntimeUnavailableError, SourceExistsError, SourceNotFoundError
from flwd.domain.model import Decision, JobSpec, PolicyBundle
from flwd.domain.sources.jobs import (
    CatalogEntry,
    ManifestParser,
    ParsedAddon,
    entries_of,
    record_manifest,
    source_entries,
)
from flwd.domain.sources.rules import SourceRequest, check_name, check_registry, check_request, parse_ref
from flwd.ports.addons import AddonImages, ManifestDocument, PinnedImage
from flwd.ports.clock import Clock
from flwd.ports.runtime import PullProgress
from flwd.ports.sources import Source, SourceStore

Progress = Callable[[PullProgress], None]
#: Checks the signature of a pinned image (``REPO@sha256:...``, digest): the ``warn``
#: decisions it yields, or raises ``image.signature.required`` / ``image.signature.invalid``.
SignatureCheck = Callable[[str, str], Sequence[Decision]]


def no_signature_check(image: str, digest: str) -> Sequence[Decision]:
    return ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceChange:
    """What an add or a refresh did: the source as stored now, the digest it had before
    (``None`` when just added) and the ids of the jobs that came, went or changed."""

    source: Source
    jobs: tuple[CatalogEntry, ...]
    previous_digest: str | None = None
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    decisions: tuple[Decision, ...] = ()

    @property
    def repinned(self) -> bool:
        return self.previous_digest is not None and self.previous_digest != self.source.digest


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceDeps:
    """What the writing use cases share."""

    store: SourceStore
    images: AddonImages
    parse: ManifestParser
    clock: Clock
    bundle: PolicyBundle
    check_signature: SignatureCheck = no_signature_check


class AddSource:
    """``source.exists`` before anything is pulled; then pull, pin, verify, read, record."""

    def __init__(self, *, deps: SourceDeps) -> None:
        self._deps = deps

    def __call__(self, request: SourceRequest, progress: Progress | None = None) -> SourceChange:
        deps = self._deps
        ref = check_request(request, deps.bundle)
        if deps.store.get_source(request.name) is not None:
            raise SourceExistsError(f"a source named {request.name!r} is already added",
                                    source=request.name)
        now = deps.clock.now_iso()
        fetched = _fetch(deps, request.name, request.ref, str(ref), progress)
        source = fetched.source(name=request.name, ref=request.ref, trusted=True,
                                pull_policy=request.pull_policy, added_at=now, refreshed_at=now)
        deps.store.add_source(source)
        jobs = entries_of(fetched.parsed)
        return SourceChange(source=source, jobs=jobs, added=tuple(j.id for j in jobs),
                            decisions=fetched.decisions)


class RefreshSource:
    """Pull the source's reference again and re-pin it; says what changed."""

    def __init__(self, *, deps: SourceDeps) -> None:
        self._deps = deps

    def __call__(self, name: str, progress: Progress | None = None) -> SourceChange:
        deps = self._deps
        old = _stored(deps.store, name)
        ref = parse_ref(old.ref)
        check_registry(ref, deps.bundle, name)  # the policy may have changed since the add
        fetched = _fetch(deps, old.name, old.ref, str(ref), progress)
        source = fetched.source(name=old.name, ref=old.ref, trusted=old.trusted,
                                pull_policy=old.pull_policy, added_at=old.added_at,
                                refreshed_at=deps.clock.now_iso())
        deps.store.replace_source(source)
        jobs = entries_of(fetched.parsed)
        before = {job.id: job for job in _listable(deps.parse, old)}
        after = {job.id: job for job in jobs}
        return SourceChange(
            source=source, jobs=jobs, previous_digest=old.digest,
            added=tuple(sorted(after.keys() - before.keys())),
            removed=tuple(sorted(before.keys() - after.keys())),
            changed=tuple(sorted(i for i in after.keys() & before.keys()
                                 if _comparable(after[i]) != _comparable(before[i]))),
            decisions=fetched.decisions)


class RemoveSource:
    """Forget a source; the runs of its jobs stay readable (they keep their origin)."""

    def __init__(self, *, store: SourceStore) -> None:
        self._store = store

    def __call__(self, name: str) -> Source:
        check_name(name)
        return self._store.remove_source(name)


class QuerySources:
    """``flwd :sources`` and ``GET /sources[/{name}]``: what the store holds, with each
    source's jobs as the catalog lists them."""

    def __init__(self, *, store: SourceStore, parse: ManifestParser) -> None:
        self._store, self._parse = store, parse

    def list(self) -> list[Source]:
        return list(self._store.list_sources())

    def get(self, name: str) -> Source:
        return _stored(self._store, name)

    def jobs(self, source: Source) -> tuple[CatalogEntry, ...]:
        return source_entries(source, self._parse)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Fetched:
    pinned: PinnedImage
    manifest: str
    parsed: ParsedAddon
    decisions: tuple[Decision, ...]

    def source(self, *, name: str, ref: str, trusted: bool, pull_policy: str, added_at: str,
               refreshed_at: str) -> Source:
        return Source(name=name, ref=ref, trusted=trusted, pull_policy=pull_policy,
                      added_at=added_at, refreshed_at=refreshed_at, image=self.pinned.pinned,
                      digest=self.pinned.digest, manifest=self.manifest,
                      addon_name=self.parsed.name, addon_version=self.parsed.version)


def _fetch(deps: SourceDeps, name: str, given: str, ref: str, progress: Progress | None) -> _Fetched:
    """Pull *ref* (the canonical form of the *given* reference), pin it, check its signature
    and read and validate its manifest; origins name the reference as the user gave it."""
    pinned = replace(deps.images.pull(ref, progress or _ignore), ref=given)
    decisions = tuple(deps.check_signature(pinned.pinned, pinned.digest))
    doc = deps.images.read_manifest(pinned.pinned)
    parsed = deps.parse(doc, source=name, image=pinned)  # E_ADDON_MANIFEST: nothing recorded
    return _Fetched(pinned=pinned, manifest=record_manifest(doc), parsed=parsed,
                    decisions=decisions)


def _ignore(_: PullProgress) -> None:
    pass


def _stored(store: SourceStore, name: str) -> Source:
    check_name(name)
    source = store.get_source(name)
    if source is None:
        raise SourceNotFoundError(f"no source named {name!r}", source=name)
    return source


def _listable(parse: ManifestParser, source: Source) -> tuple[CatalogEntry, ...]:
    return tuple(e for e in source_entries(source, parse) if e.id != source.name)


def _comparable(entry: CatalogEntry) -> CatalogEntry:
    """A job as it compares across refreshes: the pin and origin always change."""
    return replace(entry, image="", origin=None) if isinstance(entry, JobSpec) else entry


class NoRuntimeImages:
    """The ``AddonImages`` of a plan-only flwd (``:serve --no-runtime``): a source request is
    validated (name, trust, registry, ``source.exists``) and then refused, since adding one
    pulls its image; nothing reaches a runtime or a registry."""

    def __init__(self, *, detail: str) -> None:
        self._detail = detail

    def pull(self, ref: str, progress: Progress) -> PinnedImage:
        raise RuntimeUnavailableError(self._detail, image=ref)

    def present(self, pinned: str) -> bool:
        raise RuntimeUnavailableError(self._detail, image=pinned)

    def read_manifest(self, pinned: str) -> ManifestDocument:
        raise RuntimeUnavailableError(self._detail, image=pinned)
