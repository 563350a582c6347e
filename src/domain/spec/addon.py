"""Add-on manifests: validate a decoded manifest into ordinary job specs (SPEC section 10).

Each manifest job becomes a ``JobSpec`` through the job-spec parser of section 1, so the
argument contract, ``container:`` relaxations, ``timeout`` and ``env`` follow the same rules
as a local job's. What differs is only what an add-on job cannot choose: it runs its add-on's
image pinned by digest (no ``image``/``interpreter``), in exec form (a ``command`` list, no
``script``: there is no job directory), and the source's pull policy decides its pulls.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Sequence

from flwd.domain.errors import AddonManifestError, SpecInvalidError
from flwd.domain.model import InvalidJob, JobSpec, Origin
from flwd.domain.spec.images import parse_image_ref
from flwd.domain.spec.job import is_valid_job_id, parse_job_spec
from flwd.domain.suggest import did_you_mean
from flwd.ports.addons import ManifestDocument, PinnedImage
from flwd.ports.catalog import JobDocument

API_VERSION = "flwd.addon/v1"
KIND = "AddOn"
TOP_LEVEL_KEYS = ("apiVersion", "kind", "metadata", "jobs")
METADATA_KEYS = ("name", "version", "description")
_NAME = re.compile(r"^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?\Z")
# what a manifest job may not say, and why (the rest is a job spec of section 1)
_NOT_IN_ADDON = {
    "image": "an add-on job runs its add-on's image, pinned by digest",
    "interpreter": "an add-on job runs its add-on's image, pinned by digest",
    "script": "an add-on job has no job directory: give command in exec form",
    "executor": "add-on jobs are container jobs: leave executor out",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class AddonManifest:
    """A validated manifest: its metadata, its valid jobs (ids ``SOURCE/JOB``, image pinned,
    origin set) and, listed rather than hiding the others, its invalid ones."""

    name: str
    version: str
    description: str
    path: str
    origin: Origin
    jobs: tuple[JobSpec, ...] = ()
    invalid: tuple[InvalidJob, ...] = ()
    warnings: tuple[str, ...] = ()


def pinned_image(ref: str, digest: str) -> str:
    """``REGISTRY/REPOSITORY@DIGEST`` for the repository *ref* names (its tag dropped)."""
    parsed = parse_image_ref(ref)
    return str(replace(parsed, tag=None, digest=digest))


def parse_addon_manifest(doc: ManifestDocument, *, source: str, image: PinnedImage) -> AddonManifest:
    """Validate *doc*, read from *image*, as the manifest of source *source*.

    A missing or undecodable manifest, or bad top-level fields (``apiVersion``, ``kind``,
    ``metadata``, ``jobs``), raise ``AddonManifestError`` (``E_ADDON_MANIFEST``) naming every
    problem with its field path. A bad job is listed in ``invalid`` (reason naming
    ``jobs[i].FIELD``) without hiding the others; jobs whose ids clash are all invalid.
    """
    where = f"{image.ref}:{doc.path}"
    data = _checked_top_level(doc, where)
    metadata = data["metadata"]
    assert isinstance(metadata, Mapping)
    origin = Origin(source=source, ref=image.ref, digest=image.digest,
                    addon_version=str(metadata["version"]))
    entries = data["jobs"]
    assert isinstance(entries, list)
    parsed = [_parse_job(entry, index, where=where, origin=origin, pinned=image.pinned)
              for index, entry in enumerate(entries)]
    parsed = _mark_duplicates(parsed)
    return AddonManifest(
        name=str(metadata["name"]), version=origin.addon_version,
        description=str(metadata.get("description") or ""), path=doc.path, origin=origin,
        jobs=tuple(p for p in parsed if isinstance(p, JobSpec)),
        invalid=tuple(p for p in parsed if isinstance(p, InvalidJob)),
        warnings=tuple(f"{where}: {key}: unknown key ignored{did_you_mean(str(key), TOP_LEVEL_KEYS)}"
                       for key in data if key not in TOP_LEVEL_KEYS),
    )


def _checked_top_level(doc: ManifestDocument, where: str) -> Mapping[str, object]:
    if doc.data is None:
        problem = (doc.path or "manifest", doc.error or "could not be read")
        raise _manifest_error(doc, where, [problem])
    data = doc.data
    problems: list[tuple[str, str]] = []
    if data.get("apiVersion") != API_VERSION:
        problems.append(("apiVersion", f"{data.get('apiVersion')!r} is not {API_VERSION!r}"))
    if data.get("kind") != KIND:
        problems.append(("kind", f"{data.get('kind')!r} is not {KIND!r}"))
    problems += _metadata_problems(data.get("metadata"))
    jobs = data.get("jobs")
    if not isinstance(jobs, list) or not jobs:
        problems.append(("jobs", "must be a list of at least one job"))
    if problems:
        raise _manifest_error(doc, where, problems)
    return data


def _metadata_problems(metadata: object) -> list[tuple[str, str]]:
    if not isinstance(metadata, Mapping):
        return [("metadata", "must be a mapping with name and version")]
    problems = [(f"metadata.{key}", f"unknown key (allowed: {', '.join(METADATA_KEYS)})")
                for key in metadata if key not in METADATA_KEYS]
    name = metadata.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        problems.append(("metadata.name", f"{name!r} is not a name ([a-z0-9._-], at most 64, "
                                          "starting and ending with a letter or digit)"))
    version = metadata.get("version")
    if not isinstance(version, str) or not version.strip():
        hint = " (quote it: YAML reads 2.10 as the number 2.1)" if isinstance(version, (int, float)) else ""
        problems.append(("metadata.version", f"must be a non-empty string, not {version!r}{hint}"))
    description = metadata.get("description")
    if description is not None and not isinstance(description, str):
        problems.append(("metadata.description", "must be a string"))
    return problems


def _manifest_error(doc: ManifestDocument, where: str,
                    problems: Sequence[tuple[str, str]]) -> AddonManifestError:
    listed = "; ".join(f"{field}: {message}" for field, message in problems)
    return AddonManifestError(
        f"{where}: {listed}", image=doc.image, path=doc.path, field=problems[0][0],
        problems=[{"field": field, "message": message} for field, message in problems])


def _parse_job(entry: object, index: int, *, where: str, origin: Origin,
               pinned: str) -> JobSpec | InvalidJob:
    at = f"jobs[{index}]"
    local_id = _entry_id(entry)
    shown_id = f"{origin.source}/{local_id or at}"
    spec_path = f"{where}#{at}"  # unique per entry, so clashing ids name each other
    try:
        data = _job_data(entry, spec_path, pinned)
        job = parse_job_spec(JobDocument(default_id=local_id, spec_path=spec_path, directory="",
                                         data=data))
    except SpecInvalidError as exc:
        field = str(exc.context.get("field", ""))
        message = exc.detail.removeprefix(f"{spec_path}: {field}: ")
        path = f"{at}.{field}" if field else at
        return InvalidJob(id=shown_id, spec_path=spec_path, reason=f"{where}: {path}: {message}",
                          field=path)
    except Exception as exc:  # noqa: BLE001 - a validator bug must cost one job, not all
        return InvalidJob(id=shown_id, spec_path=spec_path, field=at,
                          reason=f"{where}: {at}: cannot be validated ({type(exc).__name__}: {exc})")
    return replace(job, id=f"{origin.source}/{job.id}", origin=origin)


def _entry_id(entry: object) -> str:
    raw = entry.get("id") if isinstance(entry, Mapping) else None
    return raw if isinstance(raw, str) and is_valid_job_id(raw) else ""


def _job_data(entry: object, spec_path: str, pinned: str) -> dict[str, object]:
    """The manifest job as a section-1 job spec: ``executor`` and the pinned ``image`` added
    after what the manifest may not say is refused."""
    if not isinstance(entry, Mapping):
        raise _job_error(spec_path, "", f"must be a mapping with id and command, not {entry!r}")
    if entry.get("id") is None:
        raise _job_error(spec_path, "id", "missing (every add-on job needs an id)")
    for key, why in _NOT_IN_ADDON.items():
        if key in entry:
            raise _job_error(spec_path, key, f"not allowed in an add-on manifest: {why}")
    command = entry.get("command")
    if not isinstance(command, list):
        raise _job_error(spec_path, "command", "missing or not a list: give it in exec form, "
                                               'e.g. ["/opt/tool/run.sh", "--fast"]')
    container = entry.get("container")
    if isinstance(container, Mapping) and "pull_policy" in container:
        raise _job_error(spec_path, "container.pull_policy",
                         "not allowed in an add-on manifest: the source's pull_policy decides")
    return {**entry, "executor": "container", "image": pinned}


def _job_error(spec_path: str, field: str, message: str) -> SpecInvalidError:
    return SpecInvalidError(f"{spec_path}: {field}: {message}", file=spec_path, field=field)


def _mark_duplicates(parsed: list[JobSpec | InvalidJob]) -> list[JobSpec | InvalidJob]:
    """Every job whose id another entry also uses becomes invalid, naming the others."""
    where: dict[str, list[str]] = {}
    for item in parsed:
        where.setdefault(item.id, []).append(item.spec_path.rpartition("#")[2])
    marked: list[JobSpec | InvalidJob] = []
    for item in parsed:
        entry = item.spec_path.rpartition("#")[2]
        others = [e for e in where[item.id] if e != entry]
        if isinstance(item, JobSpec) and others:
            base = item.spec_path.rpartition("#")[0]
            item = InvalidJob(id=item.id, spec_path=item.spec_path, field=f"{entry}.id",
                              reason=f"{base}: {entry}.id: duplicate job id {item.id!r}: also "
                                     f"defined in {', '.join(others)}")
        marked.append(item)
    return marked
