"""``pull_policy: on-run``: before each run of an add-on job its reference is pulled again and,
when the tag moved, the source is re-pinned (as a refresh does) and the run records it."""

from __future__ import annotations

from typing import Protocol

from flwd.domain.errors import FlwdError, RuntimeUnavailableError
from flwd.domain.plan.use_cases import ListJobs, PlanJob, RunRequest
from flwd.domain.sources.rules import parse_ref
from flwd.domain.sources.use_cases import RefreshSource
from flwd.ports.addons import AddonImages
from flwd.ports.sources import PULL_ON_RUN, SourceStore


class Repin(Protocol):
    def __call__(self, request: RunRequest) -> dict[str, str] | None:
        """The ``source.repinned`` event data when the run's add-on was re-pinned, else None."""
        ...


class RepinOnRun:
    """Looks at the job a run request names: an add-on job of an ``on-run`` source has its
    arguments checked first (validation comes before any pull), then its reference pulled;
    a new digest re-pins the source through ``RefreshSource`` (signature and manifest checked
    again, the store updated for every process). Anything else is left to the submission,
    which reports unknown jobs and bad arguments with their own codes."""

    def __init__(self, *, jobs: ListJobs, plan: PlanJob, store: SourceStore,
                 images: AddonImages, refresh: RefreshSource) -> None:
        self._jobs, self._plan, self._store = jobs, plan, store
        self._images, self._refresh = images, refresh

    def __call__(self, request: RunRequest) -> dict[str, str] | None:
        try:
            origin = self._jobs.find(request.job).origin
        except FlwdError:
            return None
        source = self._store.get_source(origin.source) if origin is not None else None
        if source is None or source.pull_policy != PULL_ON_RUN:
            return None
        self._plan(request)  # args.invalid, policy... before the runtime is asked anything
        try:
            pinned = self._images.pull(str(parse_ref(source.ref)), lambda _: None)
        except RuntimeUnavailableError:
            return None  # the run is recorded, then refused for want of a runtime, as any run
        if pinned.digest == source.digest:
            return None
        change = self._refresh(source.name)
        return {"source": source.name, "ref": source.ref, "old_digest": source.digest,
                "new_digest": change.source.digest}
