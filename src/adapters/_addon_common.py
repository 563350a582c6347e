"""What the Podman and Docker add-on adapters share: the never-started reader container, the
manifest taken out of the runtime's tar archive, and the digest a pull resolved."""

from __future__ import annotations

import io
import tarfile
from typing import Callable, Iterable, Sequence

from flwd.adapters.yaml_catalog import load_yaml_bytes
from flwd.domain.errors import FlwdError, OciError, SpecInvalidError
from flwd.domain.spec.addon import pinned_image
from flwd.domain.spec.images import parse_image_ref
from flwd.ports.addons import (
    MANIFEST_PATHS,
    MAX_MANIFEST_BYTES,
    NO_MANIFEST,
    ManifestDocument,
    PinnedImage,
)

# The reader container is created, never started: its command only has to satisfy create,
# which refuses an image without CMD/ENTRYPOINT when none is given.
READER_COMMAND = ["/flwd-addon-reader-never-started"]
LABEL_ADDON_READER = "flwd.addon-reader"
#: A reader lives for one copy of at most a MiB. One older than this was left by a process
#: killed mid-read (SIGKILL) or whose runtime went away mid-read; the next read removes it.
STALE_READER_SECONDS = 600.0


def stale_readers(entries: Iterable[tuple[str, float | None]], now: float,
                  stale_after: float) -> list[str]:
    """The ids among *entries* (reader id, creation time in epoch seconds or ``None`` when
    the runtime's answer did not say) created more than *stale_after* seconds before *now*."""
    return [found for found, created in entries
            if created is not None and now - created > stale_after]


def read_then_remove(read: Callable[[str], ManifestDocument | None], remove: Callable[[], None],
                     pinned: str) -> ManifestDocument:
    """The first of ``MANIFEST_PATHS`` that *read* finds (``None``: not there) in the reader
    container, which *remove* removes however the reads end. A failed read is the error
    reported: a removal failing after it (the runtime gone) must not hide it, and the reader
    it leaves is removed by a later read once stale."""
    try:
        for path in MANIFEST_PATHS:
            found = read(path)
            if found is not None:
                break
        else:
            found = ManifestDocument(image=pinned, path=MANIFEST_PATHS[0], data=None,
                                     error=NO_MANIFEST)
    except BaseException:
        try:
            remove()
        except FlwdError:
            pass  # the read's failure is raised below; the stale sweep takes the reader
        raise
    remove()
    return found


def bounded_archive(chunks: Iterable[bytes], path: str) -> bytes:
    """The archive's bytes, refusing one far larger than a manifest can be."""
    limit = MAX_MANIFEST_BYTES + 64 * 1024  # tar headers and padding around the file
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        if len(buffer) > limit:
            raise _TooLarge(path)
    return bytes(buffer)


class _TooLarge(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(f"{path} is over the {MAX_MANIFEST_BYTES} byte limit")


def manifest_from_archive(chunks: Iterable[bytes], *, image: str, path: str) -> ManifestDocument:
    """The manifest *path* out of the tar stream the runtime's archive API returned for it,
    decoded as YAML with the limits job specs get; any problem is the document's ``error``."""
    try:
        raw = bounded_archive(chunks, path)
        data = _decode(_single_file(raw, path))
    except (_TooLarge, ValueError) as exc:
        return ManifestDocument(image=image, path=path, data=None, error=str(exc))
    return ManifestDocument(image=image, path=path, data=data)


def _single_file(raw: bytes, path: str) -> bytes:
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as archive:
            member = archive.next()
            if member is None:
                raise ValueError(f"{path}: the runtime's archive is empty")
            if not member.isreg():
                raise ValueError(f"{path} is not a regular file")
            if member.size > MAX_MANIFEST_BYTES:
                raise ValueError(f"{path} is {member.size} bytes, over the "
                                 f"{MAX_MANIFEST_BYTES} byte limit")
            handle = archive.extractfile(member)
            assert handle is not None  # a regular file always has content
            return handle.read()
    except tarfile.TarError as exc:
        raise ValueError(f"{path}: the runtime's archive is unreadable: {exc}") from None


def _decode(content: bytes) -> dict[str, object]:
    data = load_yaml_bytes(content)
    if data is None:
        raise ValueError("the manifest is empty (expected apiVersion: flwd.addon/v1)")
    if not isinstance(data, dict):
        raise ValueError(f"the top level must be a mapping, not a {type(data).__name__}")
    return data


def pinned_from_repo_digests(ref: str, repo_digests: Sequence[str], preferred: str = "") -> PinnedImage:
    """The ``REPO@sha256:...`` of *ref*'s repository among an image's ``RepoDigests``
    (*preferred*, the digest the runtime says it pulled, first when several match).
    Raises ``OciError`` when none names that repository."""
    wanted = parse_image_ref(ref)
    digests = []
    for entry in repo_digests:
        try:
            found = parse_image_ref(entry)
        except SpecInvalidError:
            continue
        if (found.registry, found.repository) == (wanted.registry, wanted.repository) and found.digest:
            digests.append(found.digest)
    if not digests:
        raise OciError(f"pull of {ref} resolved no digest for its repository "
                       f"(the image knows {', '.join(repo_digests) or 'none'})",
                       action="pull", image=ref)
    digest = preferred if preferred in digests else digests[0]
    return PinnedImage(ref=ref, pinned=pinned_image(ref, digest), digest=digest)
