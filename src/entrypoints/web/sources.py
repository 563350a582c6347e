"""The console's sources page (SPEC sections 10 and 12): OCI add-ons as ``/sources`` shows them,
and, for a ``sources:write`` token, adding, refreshing and removing them."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from flwd.domain.errors import FlwdError
from flwd.entrypoints.http.deps import (
    AddSourceDep,
    QuerySourcesDep,
    RefreshSourceDep,
    RemoveSourceDep,
)
from flwd.entrypoints.source_views import change_view, source_view
from flwd.entrypoints.web.session import needs, session_principal

PULL_POLICIES = ("on-add", "on-run")


class SourcePages(Controller):
    path = "/sources"

    @get("/", guards=[needs("jobs:read")], sync_to_thread=True)
    def sources(self, request: Request[Any, Any, Any], query_sources: QuerySourcesDep) -> Template:
        return _page(request, query_sources)

    @post("/", guards=[needs("sources:write")], status_code=200)
    async def add(self, request: Request[Any, Any, Any], add_source: AddSourceDep,
                  query_sources: QuerySourcesDep) -> Template:
        """Pulls, pins and reads the manifest (as ``POST /sources``): the page then shows what
        was added, or why not beside the form."""
        from flwd.domain.sources.rules import SourceRequest

        form = await request.form()
        request_ = SourceRequest(name=str(form.get("name") or "").strip(),
                                 ref=str(form.get("ref") or "").strip(),
                                 trusted=form.get("trusted") == "true",
                                 pull_policy=str(form.get("pull_policy") or "on-add"))
        asked = {"name": request_.name, "ref": request_.ref, "trusted": request_.trusted,
                 "pull_policy": request_.pull_policy}
        try:
            change = await anyio.to_thread.run_sync(add_source, request_)
        except FlwdError as exc:
            return await anyio.to_thread.run_sync(lambda: _page(
                request, query_sources, asked=asked, problem=exc, status=_status(exc)))
        return await anyio.to_thread.run_sync(
            lambda: _page(request, query_sources, change=change_view(change), status=201))

    @post("/{name:str}/refresh", guards=[needs("sources:write")], status_code=200)
    async def refresh(self, request: Request[Any, Any, Any], refresh_source: RefreshSourceDep,
                      query_sources: QuerySourcesDep, name: FromPath[str]) -> Template:
        change = await anyio.to_thread.run_sync(refresh_source, name)
        return await anyio.to_thread.run_sync(
            lambda: _page(request, query_sources, change=change_view(change)))

    @post("/{name:str}/remove", guards=[needs("sources:write")], sync_to_thread=True)
    def remove(self, remove_source: RemoveSourceDep, name: FromPath[str]) -> Redirect:
        remove_source(name)
        return Redirect("/ui/sources/", status_code=303)


def _page(request: Request[Any, Any, Any], query_sources: Any, *, asked: dict[str, Any] | None = None,
          problem: FlwdError | None = None, change: dict[str, Any] | None = None,
          status: int = 200) -> Template:
    principal = session_principal(request)
    sources = [source_view(s, query_sources.jobs(s)) for s in query_sources.list()]
    return Template(template_name="sources.html", status_code=status, context={
        "me": principal, "sources": sources, "change": change, "policies": PULL_POLICIES,
        "asked": asked or {"name": "", "ref": "", "trusted": False, "pull_policy": "on-add"},
        "problem": problem, "can_write": principal is not None and "sources:write" in principal.scopes,
    })


def _status(exc: FlwdError) -> int:
    from flwd.entrypoints.http.problems import status_for

    return status_for(exc.code)
