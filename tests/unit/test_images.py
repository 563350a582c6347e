"""Image reference grammar and registry allow-lists."""

from __future__ import annotations

import pytest

from flwd.domain.errors import SpecInvalidError
from flwd.domain.spec.images import (
    admitting_entry,
    parse_image_ref,
    parse_registry_entry,
    registry_allowed,
    registry_entries,
)
from flwd.domain.model import ImageRef

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("alpine", "docker.io", "library/alpine", "latest", None),
        ("alpine:3.20", "docker.io", "library/alpine", "3.20", None),
        ("docker.io/alpine", "docker.io", "library/alpine", "latest", None),
        ("index.docker.io/library/alpine:3", "docker.io", "library/alpine", "3", None),
        ("bitnami/redis:7", "docker.io", "bitnami/redis", "7", None),
        ("ghcr.io/owner/app:v1.2", "ghcr.io", "owner/app", "v1.2", None),
        ("localhost/x", "localhost", "x", "latest", None),
        ("localhost:5000/x:1", "localhost:5000", "x", "1", None),
        ("localhost:5000/x", "localhost:5000", "x", "latest", None),
        (f"registry.example.com:443/a/b@{DIGEST}", "registry.example.com:443", "a/b", None, DIGEST),
        (f"alpine:3.20@{DIGEST}", "docker.io", "library/alpine", "3.20", DIGEST),
        (f"alpine@{DIGEST}", "docker.io", "library/alpine", None, DIGEST),
        ("quay.io/a/b/c_d__e-f.g:tag_1", "quay.io", "a/b/c_d__e-f.g", "tag_1", None),
        ("Registry.Example.COM/a", "registry.example.com", "a", "latest", None),
        ("[::1]:5000/img:1", "[::1]:5000", "img", "1", None),
    ],
)
def test_parse_image_ref_normalises_when_reference_is_valid(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = parse_image_ref(text)

    assert ref == ImageRef(registry=registry, repository=repository, tag=tag, digest=digest)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("alpine:3.20", "docker.io/library/alpine:3.20"),
        ("localhost:5000/x", "localhost:5000/x:latest"),
        (f"alpine@{DIGEST}", f"docker.io/library/alpine@{DIGEST}"),
    ],
)
def test_str_gives_canonical_form_when_parsed(text: str, canonical: str) -> None:
    assert str(parse_image_ref(text)) == canonical


def test_canonical_form_reparses_to_same_ref_when_round_tripped() -> None:
    ref = parse_image_ref("bitnami/redis:7")

    assert parse_image_ref(str(ref)) == ref


@pytest.mark.parametrize(
    "text",
    [
        "",
        " alpine",
        "alpine ",
        "al pine",
        "Alpine",
        "docker.io/Library/alpine",
        "alpine::3",
        "alpine:",
        "alpine@sha256:abc",
        "alpine@sha256:" + "A" * 64,
        "alpine@md5:" + "a" * 32,
        "/alpine",
        "alpine/",
        "a//b",
        "alpine:-bad",
        "alpine:" + "t" * 129,
        "bad_host.example.com/x",
        "-a.example.com/x",
        "x" * 256,
        "a/../b",
        "container:alpine:3.20",
    ],
)
def test_parse_image_ref_raises_spec_invalid_when_reference_is_garbage(text: str) -> None:
    with pytest.raises(SpecInvalidError) as err:
        parse_image_ref(text)

    assert err.value.code == "spec.invalid"
    assert err.value.context["field"] == "image"


@pytest.mark.parametrize(
    ("image", "allowed", "expected"),
    [
        ("alpine", (), True),
        ("alpine", ("docker.io",), True),
        ("alpine", ("index.docker.io",), True),
        ("alpine", ("DOCKER.IO",), True),
        ("ghcr.io/a/b", ("docker.io",), False),
        ("ghcr.io/a/b", ("docker.io", "ghcr.io"), True),
        ("localhost/x", ("localhost",), True),
        ("localhost:5000/x", ("localhost",), True),
        ("localhost:5000/x", ("localhost:5000",), True),
        ("localhost:5001/x", ("localhost:5000",), False),
        ("registry.example.com:5000/x", ("registry.example.com",), False),
        ("registry.example.com:5000/x", ("registry.example.com:5000",), True),
        ("evil.localhost/x", ("localhost",), False),
        ("localhost.evil.com/x", ("localhost",), False),
        ("docker.io.evil.com/x", ("docker.io",), False),
    ],
)
def test_registry_allowed_matches_host_when_list_given(
    image: str, allowed: tuple[str, ...], expected: bool
) -> None:
    assert registry_allowed(parse_image_ref(image), allowed) is expected


ACME = ("docker.io", "ghcr.io/acme")


@pytest.mark.parametrize(
    ("image", "allowed", "entry"),
    [
        ("ghcr.io/acme/tool", ACME, "ghcr.io/acme"),
        ("ghcr.io/acme/team/tool:1", ACME, "ghcr.io/acme"),
        (f"ghcr.io/acme/tool@{DIGEST}", ACME, "ghcr.io/acme"),
        ("ghcr.io/acme", ACME, "ghcr.io/acme"),
        ("ghcr.io/acme-evil/tool", ACME, None),
        ("ghcr.io/acmetool", ACME, None),
        ("ghcr.io/acme_x/tool", ACME, None),
        ("ghcr.io/other/acme", ACME, None),
        ("ghcr.io/other/acme/tool", ACME, None),
        ("quay.io/acme/tool", ACME, None),
        ("GHCR.IO/acme/tool", ("GHCR.io/Acme",), "GHCR.io/Acme"),
        ("ghcr.io/acme/team/tool", ("ghcr.io/acme/team",), "ghcr.io/acme/team"),
        ("ghcr.io/acme/teamx/tool", ("ghcr.io/acme/team",), None),
        ("ghcr.io/acme/tool", ("ghcr.io/acme/team",), None),
        ("alpine:3.20", ("docker.io/library",), "docker.io/library"),
        ("library/alpine", ("docker.io/library",), "docker.io/library"),
        ("index.docker.io/library/alpine", ("docker.io/library",), "docker.io/library"),
        ("alpine", ("index.docker.io/library",), "index.docker.io/library"),
        ("alpine", ("registry-1.docker.io/library/alpine",), "registry-1.docker.io/library/alpine"),
        ("alpine", ("docker.io/library/alp",), None),
        ("bitnami/redis", ("docker.io/library",), None),
        ("librarything/x", ("docker.io/library",), None),
        ("ghcr.io/library/alpine", ("docker.io/library",), None),
        ("localhost/team/x", ("localhost/team",), "localhost/team"),
        ("localhost:5000/team/x", ("localhost/team",), "localhost/team"),
        ("localhost:5000/other/x", ("localhost/team",), None),
        ("localhost:5001/team/x", ("localhost:5000/team",), None),
        ("registry.example.com:5000/team/x", ("registry.example.com/team",), None),
        ("registry.example.com:5000/team/x", ("registry.example.com:5000/team",),
         "registry.example.com:5000/team"),
        ("ghcr.io/acme/tool", ("ghcr.io/acme/",), None),
        ("ghcr.io/acme/tool", ("ghcr.io/acme:v1",), None),
        ("ghcr.io/acme/tool", ("ghcr.io/other", "ghcr.io", "ghcr.io/acme"), "ghcr.io"),
    ],
)
def test_admitting_entry_matches_host_and_path_prefix_at_segment_boundary(
    image: str, allowed: tuple[str, ...], entry: str | None
) -> None:
    """An entry with a path admits only repositories at or under it; malformed ones nothing."""
    ref = parse_image_ref(image)

    assert admitting_entry(ref, allowed) == entry
    assert registry_allowed(ref, allowed) is (entry is not None)


def test_registry_entries_names_entries_for_the_host_when_only_their_paths_differ() -> None:
    ref = parse_image_ref("ghcr.io/acme-evil/tool")

    assert registry_entries(ref, ("docker.io", "ghcr.io/acme", "GHCR.io/beta")) == (
        "ghcr.io/acme", "GHCR.io/beta")


@pytest.mark.parametrize(
    ("entry", "host", "path"),
    [
        ("ghcr.io", "ghcr.io", ""),
        ("GHCR.io/Acme", "ghcr.io", "acme"),
        ("ghcr.io/acme/team", "ghcr.io", "acme/team"),
        ("index.docker.io/library", "docker.io", "library"),
        ("localhost", "localhost", ""),
        ("localhost/team", "localhost", "team"),
        ("localhost:5000/team", "localhost:5000", "team"),
        ("registry.example.com:443/a.b/c-d", "registry.example.com:443", "a.b/c-d"),
        ("[::1]:5000/team", "[::1]:5000", "team"),
        ("quay", "quay", ""),
    ],
)
def test_parse_registry_entry_splits_host_and_path_when_entry_is_well_formed(
    entry: str, host: str, path: str
) -> None:
    assert parse_registry_entry(entry) == (host, path)


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ("", "is empty"),
        (" ghcr.io", "whitespace"),
        ("ghcr.io ", "whitespace"),
        ("ghcr.io/ acme", "whitespace"),
        ("ghcr.io/acme\t", "whitespace"),
        ("ghcr.io/acme/", "ends with '/'"),
        ("ghcr.io/", "ends with '/'"),
        ("ghcr.io//acme", "empty path segment"),
        ("ghcr.io/acme//tool", "empty path segment"),
        ("/acme", "bad registry host ''"),
        ("ghcr.io/acme:v1", "names a tag"),
        ("docker.io/library/alpine:3.20", "names a tag"),
        (f"ghcr.io/acme/tool@{DIGEST}", "names a digest"),
        (f"ghcr.io@{DIGEST}", "names a digest"),
        ("alpine:3.20", "bad registry host 'alpine:3.20'"),
        ("https://ghcr.io", "bad registry host 'https:'"),
        ("ghcr.io/acme!", "bad repository path component 'acme!'"),
        ("ghcr.io/acme/..", "bad repository path component '..'"),
        ("library/alpine", "for Docker Hub write docker.io/library/alpine"),
        ("acme/tool", "does not start with a registry host"),
    ],
)
def test_parse_registry_entry_raises_when_entry_is_malformed(entry: str, fragment: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_registry_entry(entry)

    assert fragment in str(err.value)
