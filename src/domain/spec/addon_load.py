"""Add-on use cases on the ``AddonImages`` port: load (pull, pin, read, validate) and re-pin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from flwd.domain.model import JobSpec
from flwd.domain.spec.addon import AddonManifest, parse_addon_manifest
from flwd.domain.spec.catalog import Catalog
from flwd.ports.addons import AddonImages, PinnedImage
from flwd.ports.runtime import PullProgress

Progress = Callable[[PullProgress], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedAddon:
    """An add-on pulled, pinned and its manifest validated."""

    image: PinnedImage
    manifest: AddonManifest


def load_addon(images: AddonImages, *, source: str, ref: str, progress: Progress) -> LoadedAddon:
    """Pull *ref* (progress as for a run's pull), pin the digest it resolved, read the
    manifest without running the image and validate it as source *source*'s.

    Raises ``OciError`` (``E_OCI``) when the pull fails, ``AddonManifestError``
    (``E_ADDON_MANIFEST``) for a missing or invalid manifest; bad jobs are listed invalid.
    """
    image = images.pull(ref, progress)
    document = images.read_manifest(image.pinned)
    return LoadedAddon(image=image, manifest=parse_addon_manifest(document, source=source, image=image))


@dataclass(frozen=True, slots=True, kw_only=True)
class Repinned:
    """The outcome of an on-run re-pull: the job to run now, and, when the tag moved, the
    freshly loaded add-on (for the caller to persist) and the ``source.repinned`` event data."""

    job: JobSpec
    loaded: LoadedAddon | None = None
    event: dict[str, str] | None = None


def repin_addon_job(images: AddonImages, job: JobSpec, progress: Progress) -> Repinned:
    """``pull_policy: on-run``: pull the add-on of *job* again; when its ref now resolves to
    another digest, reload the manifest and return *job* as the new manifest has it.

    A job that is not an add-on job comes back unchanged without any pull. Raises
    ``E_OCI``/``E_ADDON_MANIFEST`` as ``load_addon`` does, ``JobNotFoundError`` when the new
    manifest no longer has the job and its ``SpecInvalidError`` when it is invalid there.
    """
    origin = job.origin
    if origin is None:
        return Repinned(job=job)
    image = images.pull(origin.ref, progress)
    if image.digest == origin.digest:
        return Repinned(job=job)
    document = images.read_manifest(image.pinned)
    loaded = LoadedAddon(image=image, manifest=parse_addon_manifest(
        document, source=origin.source, image=image))
    event = {"source": origin.source, "ref": origin.ref, "old_digest": origin.digest,
             "new_digest": image.digest}
    return Repinned(job=_job_in(loaded.manifest, job.id), loaded=loaded, event=event)


def _job_in(manifest: AddonManifest, job_id: str) -> JobSpec:
    return Catalog(jobs=manifest.jobs, invalid=manifest.invalid).find(job_id)
