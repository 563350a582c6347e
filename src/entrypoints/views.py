"""JSON-ready views of domain values, shared by the CLI (--json) and the HTTP API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from flwd.domain.model import NO_DEFAULT, ArgSpec, ArgType, JobSpec, Profile
from flwd.domain.spec.catalog import Catalog

if TYPE_CHECKING:
    from flwd.ports.store import RunRecord


def arg_view(spec: ArgSpec) -> dict[str, Any]:
    view: dict[str, Any] = {"name": spec.name, "type": spec.type.value, "required": spec.required}
    if spec.description:
        view["description"] = spec.description
    if spec.has_default:
        view["default"] = spec.default
    if spec.items is not None:
        view["items"] = spec.items.value
    for key in ("minimum", "maximum", "pattern"):
        value = getattr(spec, key)
        if value is not None:
            view[key] = value
    if spec.enum is not None:
        view["enum"] = list(spec.enum)
    if spec.secret:
        view["format"] = "secret"
    return view


def arg_from_view(view: Mapping[str, Any]) -> ArgSpec:
    """The inverse of ``arg_view``, for a CLI that drives a remote server."""
    enum = view.get("enum")
    items = view.get("items")
    return ArgSpec(
        name=str(view["name"]),
        type=ArgType(view["type"]),
        required=bool(view.get("required", False)),
        default=view["default"] if "default" in view else NO_DEFAULT,
        description=str(view.get("description", "")),
        items=ArgType(items) if items else None,
        minimum=view.get("minimum"),
        maximum=view.get("maximum"),
        enum=tuple(enum) if enum is not None else None,
        pattern=view.get("pattern"),
        secret=view.get("format") == "secret",
    )


def job_summary(job: JobSpec) -> dict[str, Any]:
    return {"id": job.id, "name": job.name, "description": job.description, "image": job.image,
            "warnings": list(job.warnings),
            "origin": job.origin.as_dict() if job.origin is not None else None}


def job_view(job: JobSpec) -> dict[str, Any]:
    view = job_summary(job)
    view.update({
        "command": list(job.command) if job.command else None,
        "security_profile": job.security_profile.value if job.security_profile else None,
        "timeout_seconds": job.timeout_seconds,
        "args": [arg_view(spec) for spec in job.args],
    })
    return view


def job_from_view(view: Mapping[str, Any]) -> JobSpec:
    profile = view.get("security_profile")
    return JobSpec(
        id=str(view["id"]), directory="", spec_path="", image=str(view.get("image", "")),
        name=str(view.get("name") or ""), description=str(view.get("description") or ""),
        args=tuple(arg_from_view(a) for a in view.get("args", [])),
        security_profile=Profile(profile) if profile else None,
        warnings=tuple(str(w) for w in view.get("warnings") or ()),
    )


def catalog_view(catalog: Catalog) -> dict[str, Any]:
    return {
        "jobs": [job_summary(job) for job in catalog.jobs],
        "invalid": [
            {"id": bad.id, "spec_path": bad.spec_path, "reason": bad.reason, "field": bad.field}
            for bad in catalog.invalid
        ],
    }


def run_view(run: RunRecord) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "job_id": run.job_id,
        "status": run.status,
        "profile": run.profile,
        "image": run.image,
        "runtime": run.runtime,
        "args": dict(run.args),
        "decisions": [dict(d) for d in run.decisions],
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "exit_code": run.exit_code,
        "code": run.code,
        "detail": run.detail,
        "origin": dict(run.origin) or None,
    }
