"""The catalog: every job spec found, valid or not, so one broken spec never hides the rest."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from flwd.domain.errors import JobNotFoundError, SpecInvalidError
from flwd.domain.model import InvalidJob, JobSpec
from flwd.domain.spec.job import is_valid_job_id, parse_job_spec
from flwd.ports.catalog import JobDocument


@dataclass(frozen=True, slots=True, kw_only=True)
class Catalog:
    """Every job found: the valid ones and, so listings can say why, the invalid ones."""

    jobs: tuple[JobSpec, ...] = ()
    invalid: tuple[InvalidJob, ...] = ()

    def find(self, job_id: str) -> JobSpec:
        """The job called *job_id*.

        Raises ``SpecInvalidError`` (``spec.invalid``) with the recorded reason when that id
        names a broken spec, else ``JobNotFoundError`` (``job.not.found``).
        """
        for job in self.jobs:
            if job.id == job_id:
                return job
        for broken in self.invalid:
            if broken.id == job_id:
                raise SpecInvalidError(broken.reason, file=broken.spec_path, field=broken.field)
        raise JobNotFoundError(f"no job {job_id!r} in the catalog", job=job_id)


def load_catalog(docs: Sequence[JobDocument],
                 extra: Sequence[JobSpec | InvalidJob] = ()) -> Catalog:
    """Validate every document; one broken spec never hides the others, even one that trips
    a fault of the validator itself (listed invalid with the exception's name). *extra* are
    entries validated elsewhere (add-on sources' jobs, ``SOURCE/JOB``).

    Jobs whose ids clash are all invalid, each naming the other files (a local job and an
    add-on job alike). Both tuples are sorted by id (then spec path) for stable listings.
    """
    parsed: list[JobSpec | InvalidJob] = list(extra)
    for doc in docs:
        try:
            parsed.append(parse_job_spec(doc))
        except SpecInvalidError as exc:
            parsed.append(_invalid(doc, exc.detail, str(exc.context.get("field", ""))))
        except Exception as exc:  # noqa: BLE001 - a validator bug must cost one job, not all
            reason = f"{doc.spec_path}: cannot be validated ({type(exc).__name__}: {exc})"
            parsed.append(_invalid(doc, reason, ""))
    parsed = _mark_duplicates(parsed)
    order = lambda item: (item.id, item.spec_path)  # noqa: E731
    return Catalog(
        jobs=tuple(sorted((p for p in parsed if isinstance(p, JobSpec)), key=order)),
        invalid=tuple(sorted((p for p in parsed if isinstance(p, InvalidJob)), key=order)),
    )


def _invalid(doc: JobDocument, reason: str, field: str) -> InvalidJob:
    return InvalidJob(id=_best_id(doc), spec_path=doc.spec_path, reason=reason, field=field)


def _best_id(doc: JobDocument) -> str:
    """The id a broken spec is listed under: its own ``id:`` if usable, else the directory's."""
    given = doc.data.get("id") if doc.data is not None else None
    return given if isinstance(given, str) and is_valid_job_id(given) else doc.default_id


def _mark_duplicates(parsed: list[JobSpec | InvalidJob]) -> list[JobSpec | InvalidJob]:
    paths_by_id: dict[str, list[str]] = {}
    for item in parsed:
        paths_by_id.setdefault(item.id, []).append(item.spec_path)
    result: list[JobSpec | InvalidJob] = []
    for item in parsed:
        others = [p for p in paths_by_id[item.id] if p != item.spec_path]
        if isinstance(item, JobSpec) and others:
            reason = f"duplicate job id {item.id!r}: also defined in {', '.join(others)}"
            item = InvalidJob(
                id=item.id,
                spec_path=item.spec_path,
                reason=f"{item.spec_path}: id: {reason}",
                field="id",
            )
        result.append(item)
    return result
