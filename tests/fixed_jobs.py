"""``FixedJobs``: a ``ListJobs`` over given job specs, for tests and benches that run add-on jobs
before the catalog merges sources (sources-core's part of SPEC section 10)."""

from __future__ import annotations

from flwd.domain.model import JobSpec
from flwd.domain.spec.catalog import Catalog


class FixedJobs:
    """Answers ``ListJobs``' two calls from *jobs*; override ``container.list_jobs`` with it."""

    def __init__(self, jobs: tuple[JobSpec, ...] = ()) -> None:
        self.catalog = Catalog(jobs=jobs)

    def __call__(self) -> Catalog:
        return self.catalog

    def find(self, job_id: str) -> JobSpec:
        return self.catalog.find(job_id)
