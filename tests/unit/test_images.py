"""Image reference grammar and registry allow-lists."""

from __future__ import annotations

import pytest

from flwd.domain.errors import SpecInvalidError
from flwd.domain.images import parse_image_ref, registry_allowed
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
