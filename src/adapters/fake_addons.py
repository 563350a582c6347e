"""An in-memory ``AddonImages``: a registry of add-ons by ref, a local image store, no runtime."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable, Mapping

from flwd.domain.errors import OciError, RuntimeUnavailableError
from flwd.domain.spec.addon import pinned_image
from flwd.ports.addons import MANIFEST_PATHS, NO_MANIFEST, ManifestDocument, PinnedImage
from flwd.ports.runtime import PullProgress


@dataclass(frozen=True, slots=True, kw_only=True)
class FakeAddon:
    """One image in the fake registry: its digest and its manifest (``None``: none at all)."""

    digest: str
    manifest: Mapping[str, object] | None
    path: str = MANIFEST_PATHS[0]
    error: str | None = None  # the decoding error a broken manifest file gives


class FakeAddonImages:
    """Records state: ``registry`` (ref -> current image), ``local`` (pinned refs present),
    ``pulled`` (refs pulled, in order), ``containers`` (read containers not yet removed:
    always empty after a call) and ``created`` (how many were made). ``unavailable`` makes
    every call fail as an unreachable runtime."""

    def __init__(self, *, unavailable: bool = False) -> None:
        self.unavailable = unavailable
        self.registry: dict[str, FakeAddon] = {}
        self.local: dict[str, FakeAddon] = {}
        self.pulled: list[str] = []
        self.containers: set[str] = set()
        self.created = 0

    def publish(self, ref: str, manifest: Mapping[str, object] | None, *,
                path: str = MANIFEST_PATHS[0], error: str | None = None) -> str:
        """Push (or move the tag *ref* to) an image holding *manifest*; returns its digest."""
        seed = f"{ref}|{manifest!r}|{path}|{error}|{len(self.registry)}|{self.created}"
        digest = "sha256:" + hashlib.sha256(seed.encode()).hexdigest()
        self.registry[ref] = FakeAddon(digest=digest, manifest=manifest, path=path, error=error)
        return digest

    def pull(self, ref: str, progress: Callable[[PullProgress], None]) -> PinnedImage:
        self._reach()
        addon = self.registry.get(ref)
        if addon is None:
            raise OciError(f"pull failed: {ref}: manifest unknown", action="pull", image=ref)
        progress(PullProgress(image=ref, status="pulling"))
        pinned = pinned_image(ref, addon.digest)
        self.local[pinned] = addon
        self.pulled.append(ref)
        progress(PullProgress(image=ref, status="pulled"))
        return PinnedImage(ref=ref, pinned=pinned, digest=addon.digest)

    def present(self, pinned: str) -> bool:
        self._reach()
        return pinned in self.local

    def read_manifest(self, pinned: str) -> ManifestDocument:
        self._reach()
        addon = self.local.get(pinned)
        if addon is None:
            raise OciError(f"create failed: {pinned}: image not known", action="create", image=pinned)
        self.created += 1
        name = f"read-{self.created}"
        self.containers.add(name)
        try:
            if addon.manifest is None and addon.error is None:
                return ManifestDocument(image=pinned, path=MANIFEST_PATHS[0], data=None,
                                        error=NO_MANIFEST)
            return ManifestDocument(image=pinned, path=addon.path, data=addon.manifest,
                                    error=addon.error)
        finally:
            self.containers.discard(name)

    def _reach(self) -> None:
        if self.unavailable:
            raise RuntimeUnavailableError("fake runtime is unavailable", runtime="fake")
