"""The AddonImages contract, run against ``FakeAddonImages`` in ``tests/unit`` and against the
Podman and Docker adapters in ``tests/integration``.

The caller publishes two add-ons first (a fake by ``publish``, a real registry by a push):
*with_manifest* holding a valid manifest at ``/flwd-addon/manifest.yaml`` and *bare* holding
none; ``Published`` says where they are and what digest the registry gave each.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from flwd.domain.errors import OciError
from flwd.ports.addons import MANIFEST_PATHS, NO_MANIFEST, AddonImages
from flwd.ports.runtime import PullProgress


@dataclass(frozen=True, slots=True, kw_only=True)
class Published:
    ref: str  # REGISTRY/REPOSITORY:TAG, the registry given with its host (no short names)
    digest: str
    missing_ref: str  # a tag of the same repository that the registry does not have


def check_addon_images_contract(images: AddonImages, with_manifest: Published,
                                bare: Published) -> None:
    seen: list[PullProgress] = []

    image = images.pull(with_manifest.ref, seen.append)
    document = images.read_manifest(image.pinned)
    bare_image = images.pull(bare.ref, lambda _: None)
    bare_document = images.read_manifest(bare_image.pinned)

    assert (image.ref, image.digest) == (with_manifest.ref, with_manifest.digest)
    assert image.pinned == f"{with_manifest.ref.rpartition(':')[0]}@{with_manifest.digest}"
    assert seen and all(step.image == with_manifest.ref for step in seen)
    assert images.present(image.pinned)
    assert document.path == MANIFEST_PATHS[0] and document.error is None
    assert document.data is not None and document.data.get("kind") == "AddOn"
    assert bare_document.data is None and bare_document.error == NO_MANIFEST
    with pytest.raises(OciError):
        images.pull(with_manifest.missing_ref, lambda _: None)
