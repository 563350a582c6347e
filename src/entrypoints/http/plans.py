"""``POST /plans``: what a run would do, without any container runtime."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.params import JSONBody

from flwd.domain.plan.assembly import plan_as_dict
from flwd.entrypoints.http.deps import PlanJobDep
from flwd.entrypoints.http.auth import check_profile_scope, require
from flwd.entrypoints.http.schemas import RunBody


class PlansController(Controller):
    path = "/plans"
    guards = [require("jobs:read")]
    tags = ["plans"]

    # Pure computation: the server's catalog answers from memory and re-walks the jobs
    # roots in the background, so planning never waits on I/O and a thread hop per request
    # (a third of this endpoint's time) is not worth it.
    @post("/", status_code=200, sync_to_thread=False, summary="Plan a run (no runtime needed)")
    def plan(self, request: Request[Any, Any, Any], plan_job: PlanJobDep,
             data: JSONBody[RunBody]) -> dict[str, Any]:
        run_request = data.to_domain()
        check_profile_scope(request, run_request.requested_profile)
        _, prepared = plan_job(run_request)
        return plan_as_dict(prepared.plan)
