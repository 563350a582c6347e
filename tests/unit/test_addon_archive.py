"""The add-on adapters' shared parts: the manifest out of a runtime's tar archive, and the
digest a pull resolved among an image's RepoDigests."""

from __future__ import annotations

import io
import tarfile

import pytest

from flwd.adapters._addon_common import (
    manifest_from_archive,
    pinned_from_repo_digests,
    read_then_remove,
    stale_readers,
)
from flwd.domain.errors import OciError, RuntimeUnavailableError
from flwd.ports.addons import MAX_MANIFEST_BYTES, NO_MANIFEST

PATH = "/flwd-addon/manifest.yaml"
IMAGE = "registry.example/tools/hello@sha256:" + "1" * 64
D1, D2 = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def archive(content: bytes | None = None, *, link: bool = False) -> list[bytes]:
    """A tar as the archive APIs send it, in two chunks."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        if link:
            member = tarfile.TarInfo("manifest.yaml")
            member.type, member.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(member)
        elif content is not None:
            member = tarfile.TarInfo("manifest.yaml")
            member.size = len(content)
            tar.addfile(member, io.BytesIO(content))
    raw = buffer.getvalue()
    return [raw[:100], raw[100:]]


def read(chunks: list[bytes]) -> tuple[object, str | None]:
    doc = manifest_from_archive(chunks, image=IMAGE, path=PATH)
    assert doc.path == PATH and doc.image == IMAGE
    return doc.data, doc.error


def test_manifest_is_decoded_when_the_archive_holds_a_yaml_mapping() -> None:
    assert read(archive(b"apiVersion: flwd.addon/v1\nkind: AddOn\n")) == (
        {"apiVersion": "flwd.addon/v1", "kind": "AddOn"}, None)


@pytest.mark.parametrize(("chunks", "said"), [
    (archive(link=True), "not a regular file"),
    (archive(None), "archive is empty"),
    ([b"not a tar at all" * 40], "unreadable"),
    (archive(b""), "manifest is empty"),
    (archive(b"- a\n- b\n"), "must be a mapping"),
    (archive(b"a: [1\n"), "invalid YAML"),
    (archive(b"a: 1\na: 2\n"), "duplicate key"),
    (archive(b"a: '" + b"x" * MAX_MANIFEST_BYTES + b"'\n"), "byte limit"),
])
def test_manifest_is_an_error_document_saying_why_when_it_cannot_be_used(
    chunks: list[bytes], said: str
) -> None:
    data, error = read(chunks)

    assert data is None and error is not None and said in error, error


def test_digest_of_the_refs_repository_is_pinned_when_the_image_has_several_names() -> None:
    image = pinned_from_repo_digests("registry.example/tools/hello:1", [
        f"registry.example/other/thing@{D1}", f"registry.example/tools/hello@{D2}"])

    assert (image.digest, image.pinned) == (D2, f"registry.example/tools/hello@{D2}")


def test_digest_the_runtime_pulled_is_preferred_when_the_repository_has_two() -> None:
    digests = [f"registry.example/tools/hello@{D1}", f"registry.example/tools/hello@{D2}"]

    assert pinned_from_repo_digests("registry.example/tools/hello:1", digests, D2).digest == D2
    assert pinned_from_repo_digests("registry.example/tools/hello:1", digests).digest == D1


def test_short_docker_names_match_their_canonical_repository_when_docker_reports_them() -> None:
    image = pinned_from_repo_digests("alpine:3.20", [f"alpine@{D1}"])

    assert image.pinned == f"docker.io/library/alpine@{D1}"


def test_no_digest_for_the_repository_is_e_oci_when_none_matches() -> None:
    with pytest.raises(OciError) as err:
        pinned_from_repo_digests("registry.example/tools/hello:1", [f"elsewhere/x@{D1}"])

    assert "resolved no digest" in err.value.detail


def test_readers_older_than_the_limit_are_stale_when_listed() -> None:
    entries = [("old", 1000.0), ("young", 1590.0), ("unknown", None)]

    assert stale_readers(entries, now=1601.0, stale_after=600.0) == ["old"]


def test_a_failed_read_is_the_error_reported_when_the_removal_fails_after_it() -> None:
    """The runtime gone mid-read: users saw 'failed during remove' instead of the copy."""
    removed: list[str] = []

    def read(path: str) -> None:
        raise OciError("copy failed: connection reset", action="copy")

    def remove() -> None:
        removed.append("reader")
        raise RuntimeUnavailableError("Podman failed during remove")

    with pytest.raises(OciError) as err:
        read_then_remove(read, remove, IMAGE)

    assert "copy failed" in err.value.detail and removed == ["reader"]


def test_no_manifest_is_an_error_document_after_the_reader_is_removed_when_no_path_has_one(
) -> None:
    removed: list[str] = []

    document = read_then_remove(lambda path: None, lambda: removed.append("reader"), IMAGE)

    assert document.data is None and document.error == NO_MANIFEST and removed == ["reader"]
