"""Console pages of the catalogue: the jobs list, and a job's form, plan preview and run."""

from __future__ import annotations

import secrets
from typing import Any

import anyio.to_thread
from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from flwd.domain.errors import ArgsInvalidError, FlwdError
from flwd.domain.model import JobSpec
from flwd.domain.plan.assembly import plan_as_dict
from flwd.domain.plan.use_cases import RunRequest
from flwd.entrypoints.http.auth import check_profile_scope, check_scope
from flwd.entrypoints.http.deps import HubDep, ListJobsDep, MetricsDep, PlanJobDep, StartRunDep
from flwd.entrypoints.http.schemas import check_idempotency_key
from flwd.entrypoints.web.form import (
    JobForm,
    blank_form,
    contract_input,
    requested_profile,
    with_problems,
)
from flwd.entrypoints.web.session import needs, session_principal

MAX_QUERY = 200
# A form's one-time key, sent as the run's Idempotency-Key: a double click on Run (the form
# posted twice before the first answer) starts one run, and both answers open it.
SUBMISSION = "submission"


class JobPages(Controller):
    path = "/jobs"

    @get("/", guards=[needs("jobs:read")], sync_to_thread=False)
    def jobs(self, request: Request[Any, Any, Any], list_jobs: ListJobsDep,
             q: FromQuery[str | None] = None) -> Template:
        query = (q or "").strip()[:MAX_QUERY]
        catalog = list_jobs()
        return Template(template_name="jobs.html", context={
            "me": session_principal(request), "q": query,
            "jobs": [_job_row(job) for job in catalog.jobs if _matches(job, query)],
            "invalid": [bad for bad in catalog.invalid if _matches_invalid(bad, query)],
            "total": len(catalog.jobs) + len(catalog.invalid),
        })

    @get("/{job_id:path}", guards=[needs("jobs:read")], sync_to_thread=False)
    def job(self, request: Request[Any, Any, Any], list_jobs: ListJobsDep,
            job_id: FromPath[str]) -> Template:
        job = list_jobs.find(job_id.strip("/"))
        form = blank_form(job, request.query_params, query=True)
        return _job_page(request, form)

    @post("/{job_id:path}", guards=[needs("jobs:read")], status_code=200)
    async def submit(self, request: Request[Any, Any, Any], list_jobs: ListJobsDep,
                     plan_job: PlanJobDep, start_run: StartRunDep, hub: HubDep,
                     metrics: MetricsDep, job_id: FromPath[str]) -> Template | Redirect:
        """``action=plan`` previews (``jobs:read``, as ``POST /plans``); ``action=run`` starts
        the run (``runs:write``, as ``POST /runs``) and opens its page."""
        job = list_jobs.find(job_id.strip("/"))
        data = await request.form()
        running = data.get("action") == "run"
        principal = session_principal(request)
        if running and principal is not None:
            check_scope(principal, "runs:write")
        form = blank_form(job, data)
        run_request = RunRequest(job=job.id, args=contract_input(job, data), from_text=True,
                                 requested_profile=requested_profile(data))
        check_profile_scope(request, run_request.requested_profile)
        once = check_idempotency_key(str(data.get(SUBMISSION) or "") or None)
        try:
            if not running:
                _, prepared = plan_job(run_request)
                return _job_page(request, form, plan=plan_as_dict(prepared.plan))
            started = await anyio.to_thread.run_sync(
                lambda: start_run(run_request, idempotency_key=once, listeners=[hub, metrics]))
        except ArgsInvalidError as exc:
            return _job_page(request, with_problems(form, exc.problems), status=422)
        except FlwdError as exc:
            run_id = exc.context.get("run_id")
            if running and isinstance(run_id, str):  # recorded and ended (a policy denial...)
                return Redirect(f"/ui/runs/{run_id}", status_code=303)
            raise
        return Redirect(f"/ui/runs/{started.run_id}", status_code=303)


def _job_page(request: Request[Any, Any, Any], form: JobForm, *, plan: dict[str, Any] | None = None,
              status: int = 200) -> Template:
    principal = session_principal(request)
    can_run = principal is not None and "runs:write" in principal.scopes
    return Template(template_name="job.html", status_code=status, context={
        "me": principal, "form": form, "job": form.job, "plan": plan, "can_run": can_run,
        "can_admin": principal is not None and "runs:admin" in principal.scopes,
        "source": source_of(form.job), "origin": form.job.origin,
        "submission": "console-" + secrets.token_urlsafe(16),
    })


def source_of(job: JobSpec) -> str:
    """The source a job comes from: its add-on source's name, or ``local`` (the jobs roots)."""
    return job.origin.source if job.origin is not None else "local"


def _job_row(job: JobSpec) -> dict[str, Any]:
    return {"id": job.id, "name": job.name, "description": job.description,
            "source": source_of(job), "image": job.image, "args": len(job.args),
            "warnings": job.warnings}


def _matches(job: JobSpec, query: str) -> bool:
    if not query:
        return True
    text = " ".join((job.id, job.name, job.description, source_of(job))).lower()
    return all(word in text for word in query.lower().split())


def _matches_invalid(bad: Any, query: str) -> bool:
    text = f"{bad.id} {bad.reason}".lower()
    return all(word in text for word in query.lower().split()) if query else True

