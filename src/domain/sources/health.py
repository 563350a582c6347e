"""``flwd :doctor``'s look at the sources: does each pinned image still check out?"""

from __future__ import annotations

from dataclasses import dataclass

from flwd.domain.errors import FlwdError
from flwd.domain.sources.jobs import ManifestParser, pinned_of, recorded_manifest
from flwd.domain.sources.use_cases import SignatureCheck
from flwd.ports.addons import AddonImages
from flwd.ports.sources import SourceStore


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceProblem:
    source: str
    code: str
    detail: str


class CheckSources:
    """For every source: its recorded manifest still validates, its pinned digest is in the
    local store or can still be pulled from the registry (a run would need it), and its
    signature still verifies under the policy. Never raises for one source."""

    def __init__(self, *, store: SourceStore, images: AddonImages, parse: ManifestParser,
                 check_signature: SignatureCheck) -> None:
        self._store, self._images = store, images
        self._parse, self._check_signature = parse, check_signature

    def __call__(self) -> list[SourceProblem]:
        problems: list[SourceProblem] = []
        for source in self._store.list_sources():
            checks = (
                lambda: self._parse(recorded_manifest(source), source=source.name,
                                    image=pinned_of(source)),
                lambda: self._present(source.image),
                lambda: self._check_signature(source.image, source.digest),
            )
            for check in checks:
                try:
                    check()
                except FlwdError as exc:
                    problems.append(SourceProblem(source=source.name, code=exc.code,
                                                  detail=exc.detail))
        return problems

    def _present(self, pinned: str) -> None:
        if not self._images.present(pinned):
            self._images.pull(pinned, lambda _: None)  # E_OCI: the registry lost the digest
