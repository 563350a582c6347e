"""Before each run of an add-on job (SPEC section 10): ``pull_policy: on-run`` pulls the
reference again and, when the tag moved, re-pins the source (as a refresh does); then the
pinned image's signature is checked under the run's own profile."""

from __future__ import annotations

from typing import Callable, Mapping, Protocol

from flwd.domain.errors import FlwdError, RuntimeUnavailableError
from flwd.domain.model import Profile
from flwd.domain.plan.use_cases import ListJobs, PlanJob, RunRequest
from flwd.domain.run import events as ev
from flwd.domain.run.start import PreRun
from flwd.domain.sources.rules import parse_ref
from flwd.domain.sources.use_cases import RefreshSource, SignatureCheck
from flwd.ports.addons import AddonImages
from flwd.ports.sources import PULL_ON_RUN, Source, SourceStore

class SignatureCheckFor(Protocol):
    """The signature check under a run's profile (``ImageSignatureCheck`` bound to the
    policy and the verifier)."""

    def __call__(self, *, profile: Profile) -> SignatureCheck: ...


class AddonPreRun:
    """Looks at the job a run request names. An add-on job has its arguments checked first
    (validation comes before any pull or registry call); an ``on-run`` source is pulled and,
    on a new digest, re-pinned through ``RefreshSource`` (manifest and signature checked
    again, the store updated for every process); then the signature of the pin the run will
    use is checked under the run's profile: ``image.signature.required``/``invalid`` refuse
    the run before it is recorded, a ``warn`` (or allow) is recorded as its
    ``policy.decision``. Anything else is left to the submission, which reports unknown
    jobs and bad arguments with their own codes.

    The image adapter and the refresh are built only for an ``on-run`` source: building them
    finds the runtime, which a run of any other job (or a cluster replica, which has none)
    must not need before its arguments and policy are checked."""

    def __init__(self, *, jobs: ListJobs, plan: PlanJob, store: SourceStore,
                 images: Callable[[], AddonImages], refresh: Callable[[], RefreshSource],
                 signatures: SignatureCheckFor) -> None:
        self._jobs, self._plan, self._store = jobs, plan, store
        self._images, self._refresh, self._signatures = images, refresh, signatures

    def __call__(self, request: RunRequest) -> PreRun:
        try:
            origin = self._jobs.find(request.job).origin
        except FlwdError:
            return PreRun()
        source = self._store.get_source(origin.source) if origin is not None else None
        if source is None:
            return PreRun()
        _, prepared = self._plan(request)  # args.invalid, policy... before anything is asked
        events: list[tuple[str, Mapping[str, object]]] = []
        if source.pull_policy == PULL_ON_RUN:
            repinned = self._repin(source)
            if repinned is not None:
                events.append((ev.SOURCE_REPINNED, {
                    "source": source.name, "ref": source.ref, "old_digest": source.digest,
                    "new_digest": repinned.digest}))
                source = repinned
        check = self._signatures(profile=prepared.plan.profile)
        events += [(ev.POLICY_DECISION, d.as_dict()) for d in check(source.image, source.digest)]
        return PreRun(events=events, image=source.image)  # the run must use what was checked

    def _repin(self, source: Source) -> Source | None:
        try:
            pinned = self._images().pull(str(parse_ref(source.ref)), lambda _: None)
        except RuntimeUnavailableError:
            return None  # the run is recorded, then refused for want of a runtime, as any run
        if pinned.digest == source.digest:
            return None
        return self._refresh()(source.name).source
