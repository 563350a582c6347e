"""Image references parsed the way Docker's reference grammar does, and registry allow-lists."""

from __future__ import annotations

import re
from functools import lru_cache

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


_SPACE = re.compile(r"\s")


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

    Cached (an add-on's jobs all name its one pinned image; ``ImageRef`` is frozen).

    ``alpine`` -> ``docker.io/library/alpine:latest``; ``localhost:5000/x:1`` keeps its host
    and port; ``index.docker.io`` is normalised to ``docker.io``. The tag defaults to
    ``latest`` only when there is no digest. Digests are ``sha256:<64 hex>`` (or sha512).
    Raises ``SpecInvalidError`` (code ``spec.invalid``, field ``image``) for anything else.
    """
    if not isinstance(text, str) or not text:
        raise _invalid(str(text), "it is empty")
    return _parse_image_text(text)


@lru_cache(maxsize=1024)
def _parse_image_text(text: str) -> ImageRef:
    if _SPACE.search(text):
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


def _normalise_host(host: str) -> str:
    host = host.lower()
    return DEFAULT_REGISTRY if host in _LEGACY_DOCKER_HOSTS else host


@lru_cache(maxsize=256)  # the bundle's entries, checked at load, are read again by every plan
def parse_registry_entry(entry: str) -> tuple[str, str]:
    """Split an ``allowed_registries`` entry into its normalised host and repository path.

    An entry is a registry host (``ghcr.io``, ``localhost:5000``), optionally followed by a
    repository path prefix (``ghcr.io/acme``, ``docker.io/library``): ``("ghcr.io", "acme")``;
    the path is ``""`` for a bare host. Host and path are lower-cased and docker.io's aliases
    become ``docker.io``. Raises ``ValueError`` saying what is wrong (whitespace, a trailing
    ``/``, an empty path segment, a tag or digest, a bad host or path component, or a path
    after a first component that is no registry host); the policy loader turns it into
    ``config.invalid``.
    """
    if not entry:
        raise ValueError("is empty")
    if any(ch.isspace() for ch in entry):
        raise ValueError("contains whitespace")
    if "@" in entry:
        raise ValueError("names a digest: give a registry host or a host/path prefix")
    host, slash, path = entry.partition("/")
    if ":" in path:
        raise ValueError("names a tag: give a registry host or a host/path prefix")
    if not _HOST.match(host):
        raise ValueError(f"has a bad registry host {host!r} (a host name or IP, optionally :port)")
    if not slash:
        return _normalise_host(host), ""
    if entry.endswith("/"):
        raise ValueError("ends with '/'")
    if "" in path.split("/"):
        raise ValueError("has an empty path segment")
    if _split_domain(entry)[0] != host:
        # Docker would read the whole entry as a docker.io repository: no image can match it
        raise ValueError(
            f"does not start with a registry host ({host!r} has no '.' or ':' and is not "
            f"localhost); for Docker Hub write docker.io/{entry}"
        )
    for component in path.lower().split("/"):
        if not _PATH_COMPONENT.match(component):
            raise ValueError(f"has a bad repository path component {component!r}")
    return _normalise_host(host), path.lower()


def _host_admits(wanted: str, host: str) -> bool:
    # localhost (and 127.0.0.1) admit every port: local registries run on arbitrary ports
    bare_host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return wanted == host or (wanted in ("localhost", "127.0.0.1") and wanted == bare_host)


def _valid_entries(allowed: tuple[str, ...]) -> list[tuple[str, str, str]]:
    entries: list[tuple[str, str, str]] = []
    for entry in allowed:
        try:
            host, path = parse_registry_entry(entry)
        except ValueError:
            continue  # fail closed: a malformed entry (only possible unvalidated) admits nothing
        entries.append((entry, host, path))
    return entries


def registry_entries(ref: ImageRef, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """The entries of *allowed* whose host part admits *ref*'s registry, paths ignored.

    A deny names these so the operator sees that the registry is listed, but only for
    other repository paths.
    """
    host = _normalise_host(ref.registry)
    return tuple(entry for entry, wanted, _ in _valid_entries(allowed) if _host_admits(wanted, host))


def admitting_entry(ref: ImageRef, allowed: tuple[str, ...]) -> str | None:
    """The first entry of *allowed* that admits *ref*, or ``None``.

    An entry's host matches the registry host exactly, case-insensitively, port included:
    ``registry.example.com`` does not admit ``registry.example.com:5000``. ``docker.io``,
    ``index.docker.io`` and ``registry-1.docker.io`` are one registry. The one exception
    is ``localhost`` (and ``127.0.0.1``), which admits every port on the loopback host,
    because local registries are run on arbitrary ports. An entry with a path also needs
    the repository to be that path or to start with it at a ``/`` boundary (as
    containers-registries.conf's ``prefix``): ``ghcr.io/acme`` admits ``ghcr.io/acme/tool``
    but not ``ghcr.io/acme-evil/tool``; ``docker.io/library`` admits ``alpine``.
    Malformed entries admit nothing.
    """
    host = _normalise_host(ref.registry)
    for entry, wanted, path in _valid_entries(allowed):
        if not _host_admits(wanted, host):
            continue
        if not path or ref.repository == path or ref.repository.startswith(path + "/"):
            return entry
    return None


def registry_allowed(ref: ImageRef, allowed: tuple[str, ...]) -> bool:
    """Whether *ref* is admitted by the allow-list *allowed* (empty: every image).

    See ``admitting_entry`` for how an entry matches.
    """
    return not allowed or admitting_entry(ref, allowed) is not None
