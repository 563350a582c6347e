"""Use cases that need no run store or runtime: list jobs and plan. The run use cases are in
``run_services`` so that ``flwd :plan`` never loads the executor or the store."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Mapping

from flwd.domain.args.contract import check_args
from flwd.domain.errors import FlwdError
from flwd.domain.model import InvalidJob, JobSpec, PolicyBundle
from flwd.domain.plan.assembly import PreparedRun, prepare_run
from flwd.domain.policy.profiles import resolve_profile
from flwd.domain.spec.catalog import Catalog, load_catalog
from flwd.domain.sources.jobs import SourceJobs
from flwd.ports.catalog import JobCatalog
from flwd.ports.sources import SourceListing

PREVIEW_RUN_ID = "<run_id>"
SOURCES_ENTRY = ":sources"  # the id of the entry saying that the sources could not be read


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineSettings:
    """Profile sources below the request, the policy bundle, and run timing."""

    env_profile: str | None = None
    configured_profile: str | None = None
    bundle: PolicyBundle = field(default_factory=PolicyBundle)
    cancel_grace: float = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRequest:
    """What a caller asks to run or plan. ``from_text`` is true for CLI input."""

    job: str
    args: Mapping[str, object] = field(default_factory=dict)
    from_text: bool = False
    requested_profile: str | None = None

    def digest(self, job: JobSpec) -> str:
        """A stable fingerprint of the request, for Idempotency-Key comparison, computed
        without the value of any of *job*'s secret arguments.

        The run store keeps it, and an unsalted hash of a secret would let anyone holding
        the database file confirm a guessed value offline. So a secret counts by name only:
        two requests that differ only in a secret's value have the same fingerprint.
        """
        secrets = {_key(spec.name) for spec in job.args if spec.secret}
        public: dict[str, object] = {}
        given: list[str] = []
        for name, value in self.args.items():
            key = _key(str(name))
            # `--no-flag` carries a boolean secret's value too (CLI input)
            if key in secrets or (self.from_text and key.startswith("no_") and key[3:] in secrets):
                given.append(str(name))
            else:
                public[str(name)] = value
        body = {"job": self.job, "args": public, "secrets": sorted(given),
                "profile": self.requested_profile}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
        import hashlib  # OpenSSL's start-up is a cost plans never need

        return hashlib.sha256(text.encode()).hexdigest()


def _key(name: str) -> str:
    """Argument names match with ``-`` and ``_`` alike, as the argument contract reads them."""
    return name.replace("-", "_")


class ListJobs:
    """The catalogue: valid jobs and broken ones with their reasons, from the jobs roots and,
    given *sources* and *addon_jobs*, from every added OCI add-on (``SOURCE/JOB``)."""

    def __init__(self, *, catalog: JobCatalog, sources: SourceListing | None = None,
                 addon_jobs: SourceJobs | None = None) -> None:
        self._catalog = catalog
        self._sources = sources if addon_jobs is not None else None
        self._addon_jobs = addon_jobs
        self._last: tuple[tuple[object, ...], Catalog] | None = None

    def __call__(self) -> Catalog:
        """Validated anew whenever the catalog hands back any different document or entry."""
        docs = tuple(self._catalog.documents())
        extra: list[JobSpec | InvalidJob] = []
        if self._sources is not None and self._addon_jobs is not None:
            extra = self._addon_entries(self._sources, self._addon_jobs)
        key: tuple[object, ...] = (*docs, *extra)
        last = self._last
        if last is not None and len(last[0]) == len(key) and all(
                a is b for a, b in zip(last[0], key)):
            return last[1]
        catalog = load_catalog(docs, extra)
        self._last = (key, catalog)
        return catalog

    @staticmethod
    def _addon_entries(sources: SourceListing, jobs: SourceJobs) -> list[JobSpec | InvalidJob]:
        """An unreadable store (PostgreSQL down) costs the add-on jobs, not the local ones:
        one invalid entry says why."""
        try:
            return jobs(sources.list_sources())
        except FlwdError as exc:
            return [InvalidJob(id=SOURCES_ENTRY, spec_path="sources", field="sources",
                               reason=f"add-on sources cannot be read [{exc.code}]: {exc.detail}")]

    def find(self, job_id: str) -> JobSpec:
        """The job *job_id*; raises ``JobNotFoundError`` or the job's ``SpecInvalidError``."""
        return self().find(job_id)


class PlanJob:
    """Validates a request and assembles its plan without touching any runtime."""

    def __init__(self, *, jobs: ListJobs, settings: EngineSettings) -> None:
        self._jobs = jobs
        self._settings = settings

    def fingerprint(self, request: RunRequest) -> str:
        """*request*'s Idempotency-Key fingerprint (``RunRequest.digest``), with its job's
        secret arguments by name only; raises the job's ``job.not.found``/``spec.invalid``."""
        return request.digest(self._jobs.find(request.job))

    def __call__(self, request: RunRequest, run_id: str = PREVIEW_RUN_ID) -> tuple[JobSpec, PreparedRun]:
        job = self._jobs.find(request.job)
        values = check_args(job.args, request.args, from_text=request.from_text, job=job.id)
        settings = self._settings
        profile, decision = resolve_profile(
            requested=request.requested_profile,
            env=settings.env_profile,
            configured=settings.configured_profile,
            job=job.security_profile,
            bundle=settings.bundle,
        )
        prepared = prepare_run(
            job, values, profile=profile, profile_decision=decision,
            bundle=settings.bundle, run_id=run_id,
        )
        return job, prepared
