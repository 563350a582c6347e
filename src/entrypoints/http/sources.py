"""``/sources``: list, add, look up, refresh and remove OCI add-on sources (SPEC section 10)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Response, delete, get, post
from litestar.params import FromPath, JSONBody

from flwd.domain.errors import RequestInvalidError, RouteNotFoundError
from flwd.entrypoints.http.auth import require
from flwd.entrypoints.http.deps import (
    AddSourceDep,
    QuerySourcesDep,
    RefreshSourceDep,
    RemoveSourceDep,
)
from flwd.entrypoints.source_views import change_view, source_view

REFRESH_ACTION = "refresh"
SOURCE_ROUTE = "/sources/{name}"


SOURCE_NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"  # domain.sources.rules.check_name
SourceName = Annotated[str, msgspec.Meta(pattern=SOURCE_NAME_PATTERN)]
ImageReference = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
# Litestar converts bodies leniently ("true", 1 and "1" would become True): the explicit opt-in
# is taken as it was sent and only a JSON true counts; the document still says boolean.
StrictBoolean = Annotated[bool | str | int | float | None, msgspec.Meta(
    extra_json_schema={"extra": {"type": "boolean", "one_of": None}})]


class SourceBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Body of ``POST /sources``; ``trusted: true`` is the explicit opt-in."""

    name: SourceName
    ref: ImageReference
    type: Literal["oci"] = "oci"
    trusted: StrictBoolean = False
    pull_policy: Literal["on-add", "on-run"] = "on-add"


class SourcesController(Controller):
    path = "/sources"
    tags = ["sources"]

    @get("/", sync_to_thread=True, guards=[require("jobs:read")],
         summary="List the add-on sources, each with its pinned digest and jobs")
    def list_sources(self, query_sources: QuerySourcesDep) -> dict[str, Any]:
        return {"sources": [source_view(s, query_sources.jobs(s)) for s in query_sources.list()]}

    @get("/{name:str}", sync_to_thread=True, guards=[require("jobs:read")], summary="One source")
    def get_source(self, query_sources: QuerySourcesDep, name: FromPath[str]) -> dict[str, Any]:
        _not_the_action(name, "GET")
        source = query_sources.get(name)
        return source_view(source, query_sources.jobs(source))

    @post("/", status_code=201, sync_to_thread=True, guards=[require("sources:write")],
          summary="Add an OCI add-on: pull, pin its digest, read its manifest")
    def add_source(self, add_source: AddSourceDep,
                   data: JSONBody[SourceBody]) -> Response[dict[str, Any]]:
        from flwd.domain.sources.rules import SourceRequest

        if not isinstance(data.trusted, bool):
            raise RequestInvalidError(f"trusted must be true or false, not {data.trusted!r}: "
                                      "only a JSON true trusts a source", field="trusted")
        change = add_source(SourceRequest(name=data.name, ref=data.ref, type=data.type,
                                          trusted=data.trusted, pull_policy=data.pull_policy))
        return Response(change_view(change), status_code=201,
                        headers={"Location": f"/sources/{change.source.name}"})

    @delete("/{name:str}", status_code=200, sync_to_thread=True,
            guards=[require("sources:write")],
            summary="Remove a source; runs of its jobs stay readable")
    def remove_source(self, remove_source: RemoveSourceDep, query_sources: QuerySourcesDep,
                      name: FromPath[str]) -> dict[str, Any]:
        _not_the_action(name, "DELETE")
        removed = remove_source(name)
        return source_view(removed, query_sources.jobs(removed))

    @post("/{name:str}", status_code=200, sync_to_thread=True, guards=[require("sources:write")],
          summary="POST /sources/{name}:refresh - pull again, re-pin, say what changed")
    def refresh(self, refresh_source: RefreshSourceDep, name: FromPath[str]) -> dict[str, Any]:
        target, _, action = name.rpartition(":")
        if action != REFRESH_ACTION or not target:
            raise RouteNotFoundError(
                f"no endpoint POST /sources/{name}; refresh is POST /sources/NAME:refresh")
        return change_view(refresh_source(target))


def _not_the_action(name: str, method: str) -> None:
    """``/sources/NAME:refresh`` shares the route of ``/sources/NAME``: only POST is there."""
    if name.endswith(":" + REFRESH_ACTION):
        raise RouteNotFoundError(f"no endpoint {method} /sources/{name}; refresh is "
                                 "POST /sources/NAME:refresh")
