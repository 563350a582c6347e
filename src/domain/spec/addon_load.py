"""The add-on use case on the ``AddonImages`` port: load (pull, pin, read, validate)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from flwd.domain.spec.addon import AddonManifest, parse_addon_manifest
from flwd.ports.addons import AddonImages, PinnedImage
from flwd.ports.runtime import PullProgress

Progress = Callable[[PullProgress], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedAddon:
    """An add-on pulled, pinned and its manifest validated."""

    image: PinnedImage
    manifest: AddonManifest


def load_addon(images: AddonImages, *, source: str, ref: str, progress: Progress) -> LoadedAddon:
    """Pull *ref* (progress as for a run's pull), pin the digest it resolved, read the
    manifest without running the image and validate it as source *source*'s.

    Raises ``OciError`` (``E_OCI``) when the pull fails, ``AddonManifestError``
    (``E_ADDON_MANIFEST``) for a missing or invalid manifest; bad jobs are listed invalid.
    """
    image = images.pull(ref, progress)
    document = images.read_manifest(image.pinned)
    return LoadedAddon(image=image, manifest=parse_addon_manifest(document, source=source, image=image))

