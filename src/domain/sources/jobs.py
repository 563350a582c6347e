"""An add-on source's jobs, read from the manifest recorded when it was added or refreshed
(never from the runtime), as catalog entries ``SOURCE/JOB`` carrying their origin."""

from __future__ import annotations

import json
from typing import Mapping, Protocol, Sequence

from flwd.domain.errors import FlwdError
from flwd.domain.model import InvalidJob, JobSpec
from flwd.ports.addons import MANIFEST_PATHS, ManifestDocument, PinnedImage
from flwd.ports.sources import Source

CatalogEntry = JobSpec | InvalidJob


class ParsedAddon(Protocol):
    """A validated manifest: the add-on's metadata, its jobs and its invalid ones."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def jobs(self) -> Sequence[JobSpec]: ...

    @property
    def invalid(self) -> Sequence[InvalidJob]: ...


class ManifestParser(Protocol):
    """``parse_addon_manifest``: ids ``SOURCE/JOB``, image pinned, origin set; raises
    ``AddonManifestError`` (``E_ADDON_MANIFEST``)."""

    def __call__(self, doc: ManifestDocument, *, source: str, image: PinnedImage) -> ParsedAddon:
        ...


def record_manifest(doc: ManifestDocument) -> str:
    """The text a source keeps of its manifest: where it was found and what it said."""
    return json.dumps({"path": doc.path, "data": doc.data}, sort_keys=True, default=str)


def recorded_manifest(source: Source) -> ManifestDocument:
    """The manifest document *source* recorded, as the parser reads it."""
    try:
        recorded = json.loads(source.manifest)
        path, data = str(recorded["path"]), recorded["data"]
    except (ValueError, KeyError, TypeError):
        return ManifestDocument(image=source.image, path=MANIFEST_PATHS[0], data=None,
                                error="the recorded manifest cannot be read; refresh the source")
    mapping = data if isinstance(data, Mapping) else None
    return ManifestDocument(image=source.image, path=path, data=mapping,
                            error=None if mapping is not None else "no manifest was recorded")


def pinned_of(source: Source) -> PinnedImage:
    return PinnedImage(ref=source.ref, pinned=source.image, digest=source.digest)


def entries_of(parsed: ParsedAddon) -> tuple[CatalogEntry, ...]:
    return (*parsed.jobs, *parsed.invalid)


def source_entries(source: Source, parse: ManifestParser) -> tuple[CatalogEntry, ...]:
    """*source*'s jobs from its recorded manifest; a record that no longer validates (written
    by another flwd version, or damaged) is one invalid entry saying why."""
    try:
        return entries_of(parse(recorded_manifest(source), source=source.name,
                                image=pinned_of(source)))
    except FlwdError as exc:
        return (InvalidJob(id=source.name, spec_path=f"{source.name}: {source.ref}",
                           reason=f"source {source.name}: {exc.detail}",
                           field=str(exc.context.get("field", ""))),)


class SourceJobs:
    """Every source's catalog entries; a source's manifest is validated again only when it
    changed (name, pin and refresh time make the key), so a long-lived server lists many
    add-ons without re-parsing them on each request."""

    def __init__(self, parse: ManifestParser) -> None:
        self._parse = parse
        self._cache: dict[tuple[str, ...], tuple[CatalogEntry, ...]] = {}

    def __call__(self, sources: Sequence[Source]) -> list[CatalogEntry]:
        cache: dict[tuple[str, ...], tuple[CatalogEntry, ...]] = {}
        entries: list[CatalogEntry] = []
        for source in sources:
            key = (source.name, source.image, source.refreshed_at, source.ref)
            found = self._cache.get(key)
            if found is None:
                found = source_entries(source, self._parse)
            cache[key] = found
            entries.extend(found)
        self._cache = cache  # removed sources are forgotten
        return entries
