"""JSON-ready views of sources, shared by ``flwd :sources --json`` and ``/sources``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from flwd.domain.model import InvalidJob, JobSpec

if TYPE_CHECKING:
    from flwd.domain.sources.use_cases import SourceChange
    from flwd.ports.sources import Source


def source_view(source: Source, jobs: Sequence[JobSpec | InvalidJob]) -> dict[str, Any]:
    return {
        "name": source.name, "type": source.type, "ref": source.ref, "trusted": source.trusted,
        "pull_policy": source.pull_policy, "image": source.image, "digest": source.digest,
        "addon": {"name": source.addon_name, "version": source.addon_version},
        "added_at": source.added_at, "refreshed_at": source.refreshed_at,
        "jobs": [job.id for job in jobs if isinstance(job, JobSpec)],
        "invalid": [{"id": bad.id, "reason": bad.reason, "field": bad.field}
                    for bad in jobs if isinstance(bad, InvalidJob)],
    }


def change_view(change: SourceChange) -> dict[str, Any]:
    """An add or refresh: the source now, and what the re-pin changed."""
    return {
        "source": source_view(change.source, change.jobs),
        "previous_digest": change.previous_digest,
        "repinned": change.repinned,
        "jobs_added": list(change.added),
        "jobs_removed": list(change.removed),
        "jobs_changed": list(change.changed),
        "decisions": [d.as_dict() for d in change.decisions],
    }
