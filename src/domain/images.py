"""Image references parsed the way Docker's reference grammar does, and registry allow-lists."""

from __future__ import annotations

import re

from flwd.domain.errors import SpecInvalidError
from flwd.domain.model import ImageRef

DEFAULT_REGISTRY = "docker.io"
_LEGACY_DOCKER_HOSTS = frozenset({"index.docker.io", "registry-1.docker.io"})

# distribution/reference grammar (https://github.com/distribution/reference/blob/main/regexp.go)
_HOST_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = re.compile(
    rf"^(?:{_HOST_COMPONENT}(?:\.{_HOST_COMPONENT})*|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?$"
)
_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^(?:sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$")
_MAX_NAME = 255


def _invalid(text: str, why: str) -> SpecInvalidError:
    return SpecInvalidError(f"image {text!r} is not a valid image reference: {why}", field="image")


def _split_domain(name: str) -> tuple[str, str]:
    """Docker's rule: the first component is a host iff it has ``.``/``:``, is localhost,
    or is not all-lowercase."""
    head, sep, rest = name.partition("/")
    if sep and (
        "." in head or ":" in head or head == "localhost" or head.lower() != head
    ):
        return head, rest
    return DEFAULT_REGISTRY, name


def parse_image_ref(text: str) -> ImageRef:
    """Parse *text* into a fully qualified ``ImageRef``.

    ``alpine`` -> ``docker.io/library/alpine:latest``; ``localhost:5000/x:1`` keeps its host
    and port; ``index.docker.io`` is normalised to ``docker.io``. The tag defaults to
    ``latest`` only when there is no digest. Digests are ``sha256:<64 hex>`` (or sha512).
    Raises ``SpecInvalidError`` (code ``spec.invalid``, field ``image``) for anything else.
    """
    if not isinstance(text, str) or not text:
        raise _invalid(str(text), "it is empty")
    if text != text.strip() or any(ch.isspace() for ch in text):
        raise _invalid(text, "it contains whitespace")
    name, at, digest = text.partition("@")
    if at and not _DIGEST.match(digest):
        raise _invalid(text, "the digest must be sha256: followed by 64 lowercase hex digits")
    tag: str | None = None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.match(tag):
            raise _invalid(text, f"bad tag {tag!r}")
    if not name or len(name) > _MAX_NAME:
        raise _invalid(text, "the name is empty or too long")
    registry, repository = _split_domain(name)
    if registry != DEFAULT_REGISTRY and not _HOST.match(registry):
        raise _invalid(text, f"bad registry host {registry!r}")
    registry = registry.lower()
    if registry in _LEGACY_DOCKER_HOSTS:
        registry = DEFAULT_REGISTRY
    components = repository.split("/")
    for component in components:
        if not _PATH_COMPONENT.match(component):
            raise _invalid(
                text, f"repository component {component!r} must be lowercase letters, digits, ._-"
            )
    if registry == DEFAULT_REGISTRY and len(components) == 1:
        repository = "library/" + repository
    if tag is None and not at:
        tag = "latest"
    return ImageRef(registry=registry, repository=repository, tag=tag, digest=digest or None)


def _normalise_host(entry: str) -> str:
    host = entry.strip().lower().rstrip("/")
    return DEFAULT_REGISTRY if host in _LEGACY_DOCKER_HOSTS else host


def registry_allowed(ref: ImageRef, allowed: tuple[str, ...]) -> bool:
    """Whether *ref*'s registry is on the allow-list *allowed* (empty: every registry).

    Entries match the registry host exactly, case-insensitively, port included:
    ``registry.example.com`` does not admit ``registry.example.com:5000``. ``docker.io``,
    ``index.docker.io`` and ``registry-1.docker.io`` are one registry. The one exception
    is ``localhost`` (and ``127.0.0.1``), which admits every port on the loopback host,
    because local registries are run on arbitrary ports.
    """
    if not allowed:
        return True
    host = _normalise_host(ref.registry)
    bare_host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    for entry in allowed:
        wanted = _normalise_host(entry)
        if wanted == host:
            return True
        if wanted in ("localhost", "127.0.0.1") and wanted == bare_host:
            return True
    return False
