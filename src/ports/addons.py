"""The add-on images port: pull and pin an OCI add-on, and read its manifest without running it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping, Protocol

if TYPE_CHECKING:  # `flwd :jobs` lists add-on jobs through this module without the run side
    from flwd.ports.runtime import PullProgress

#: Where an add-on keeps its manifest (SPEC section 10), in the order they are looked for:
#: the Go flwd's path first.
MANIFEST_PATHS = ("/flwd-addon/manifest.yaml", "/addon/manifest.yaml")
MAX_MANIFEST_BYTES = 1 << 20
NO_MANIFEST = f"no manifest: {' or '.join(MANIFEST_PATHS)} not found in the image"


@dataclass(frozen=True, slots=True, kw_only=True)
class PinnedImage:
    """An add-on reference pulled and resolved: ``pinned`` is ``REPO@sha256:...``."""

    ref: str  # as asked, e.g. registry.example/pg-tools:2
    pinned: str
    digest: str  # sha256:...
    pulled: bool = True  # False when the image was already present and not pulled


@dataclass(frozen=True, slots=True, kw_only=True)
class ManifestDocument:
    """An add-on manifest as found in its image, before the domain validates it.

    ``data`` is the decoded mapping, or ``None`` when there was no manifest or it could not
    be decoded; then ``error`` says why. ``path`` is where in the image it was found (the
    first of ``MANIFEST_PATHS`` when none was).
    """

    image: str
    path: str
    data: Mapping[str, object] | None
    error: str | None = None


class AddonImages(Protocol):
    """Pulls add-on images and reads files out of them on the local runtime (Podman and
    Docker adapters). Never runs an add-on's code.

    Every method raises ``RuntimeUnavailableError`` when the engine cannot be reached and
    ``OciError`` (``E_OCI``) with the runtime's own message when a pull or an image
    operation fails. Constructors do no I/O.
    """

    def pull(self, ref: str, progress: Callable[[PullProgress], None]) -> PinnedImage:
        """Pull *ref* from its registry (always: a moved tag is seen), reporting progress as
        a run's pull does, and resolve the digest the registry served for it."""
        ...

    def present(self, pinned: str) -> bool:
        """Whether the digest-pinned image *pinned* is in the local image store."""
        ...

    def read_manifest(self, pinned: str) -> ManifestDocument:
        """Read the manifest out of the present image *pinned*: a container is created (never
        started), the first of ``MANIFEST_PATHS`` it holds is copied out through the
        runtime's archive API, and the container is removed, also when anything fails.

        No manifest, one over ``MAX_MANIFEST_BYTES``, one that is not a regular file or not
        a YAML mapping: a document with ``data=None`` and ``error`` saying why."""
        ...
