"""``/jobs``: the catalogue and one job, as the CLI's ``:jobs --json`` shows them."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.params import FromPath

from flwd.entrypoints.http.deps import ListJobsDep
from flwd.entrypoints.http.auth import require
from flwd.entrypoints.views import catalog_view, job_view


class JobsController(Controller):
    path = "/jobs"
    guards = [require("jobs:read")]
    tags = ["jobs"]

    @get("/", sync_to_thread=True, summary="List jobs (invalid ones with their reason)")
    def list_jobs(self, list_jobs: ListJobsDep) -> dict[str, Any]:
        return catalog_view(list_jobs())

    @get("/{job_id:path}", sync_to_thread=True, summary="One job and its argument contract")
    def get_job(self, list_jobs: ListJobsDep, job_id: FromPath[str]) -> dict[str, Any]:
        return job_view(list_jobs.find(job_id.strip("/")))
