"""Validation of the operator's policy bundle (SPEC section 4) into a PolicyBundle value."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from flwd.domain.spec.capabilities import parse_capability
from flwd.domain.errors import ConfigInvalidError, SpecInvalidError
from flwd.domain.spec.images import parse_registry_entry
from flwd.domain.model import (
    DEFAULT_PIDS,
    Overrides,
    PolicyBundle,
    Profile,
    Resources,
    SignatureMode,
)
from flwd.domain.spec.quantity import parse_cpu, parse_memory, parse_pids

if TYPE_CHECKING:
    from flwd.ports.signatures import SignatureKey, SignatureKeyReader

DEFAULT_BUNDLE = PolicyBundle()

_TOP_KEYS = frozenset(
    {
        "allowed_profiles",
        "require_rootless",
        "require_limits",
        "allowed_registries",
        "ceilings",
        "overrides",
        "verify_signatures",
        "signature_keys",
    }
)
_CEILING_KEYS = frozenset({"cpu", "memory", "pids"})
_OVERRIDE_KEYS = frozenset({"network", "caps", "rootfs_writable", "env_inheritance"})


class _Reader:
    """Typed field access that raises ConfigInvalidError naming ``source`` and the field."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, field: str, message: str) -> ConfigInvalidError:
        return ConfigInvalidError(f"{self.source}: {field}: {message}", file=self.source, field=field)

    def mapping(self, value: object, field: str, keys: frozenset[str]) -> Mapping[str, object]:
        if not isinstance(value, Mapping):
            raise self.fail(field, f"must be a mapping, got {type(value).__name__}")
        for key, item in value.items():
            where = f"{field}.{key}" if field != "policy" else str(key)
            if key not in keys:
                raise self.fail(where, f"unknown key (expected one of {', '.join(sorted(keys))})")
            if item is None:
                # `allowed_profiles:` with its entries commented out must not mean "any"
                raise self.fail(where, "has no value: give one, or remove the key")
        return value

    def boolean(self, data: Mapping[str, object], key: str, field: str) -> bool:
        value = data.get(key, False)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self.fail(field, f"must be true or false, got {value!r}")
        return value

    def strings(
        self, data: Mapping[str, object], key: str, field: str, *, strip: bool = True
    ) -> tuple[str, ...]:
        value = data.get(key)
        if value is None:
            return ()
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise self.fail(field, f"must be a list of strings, got {value!r}")
        for item in value:
            if not isinstance(item, str) or not item.strip():
                raise self.fail(field, f"must be a list of non-empty strings, got {item!r}")
        return tuple(item.strip() if strip else item for item in value)


def parse_policy(
    data: Mapping[str, object] | None,
    *,
    source: str = "policy",
    keys: SignatureKeyReader | None = None,
) -> PolicyBundle:
    """Validate a policy document (already parsed from YAML) into a ``PolicyBundle``.

    ``None`` (no policy file) gives the default bundle: every profile allowed, any registry,
    ceilings ``pids=256`` only. Unknown keys, keys without a value, wrong types, unknown
    profile names, empty ``allowed_profiles`` and bad quantities raise ``ConfigInvalidError`` (``config.invalid``)
    whose context names ``file`` (*source*) and ``field`` (dotted, e.g. ``ceilings.memory``).
    ``allowed_registries`` entries are a host or a host/path prefix (see
    ``images.parse_registry_entry``), kept lower-cased. Capability names must be Linux
    capabilities or ``ALL`` (see ``capabilities.parse_capability``) and are upper-cased with
    any ``CAP_`` prefix removed. ``verify_signatures`` is ``required``, ``permissive`` or
    ``disabled`` (absent: by profile); each ``signature_keys`` path is read by *keys*, whose
    ``ConfigInvalidError`` names the path (no reader given: a policy naming keys is refused).
    """
    if data is None:
        return DEFAULT_BUNDLE
    read = _Reader(source)
    doc = read.mapping(data, "policy", _TOP_KEYS)
    return PolicyBundle(
        allowed_profiles=_profiles(read, doc),
        require_rootless=read.boolean(doc, "require_rootless", "require_rootless"),
        require_limits=read.boolean(doc, "require_limits", "require_limits"),
        allowed_registries=_registries(read, doc),
        ceilings=_ceilings(read, doc.get("ceilings")),
        overrides=_overrides(read, doc.get("overrides")),
        verify_signatures=_signature_mode(read, doc.get("verify_signatures")),
        signature_keys=_signature_keys(read, doc, keys),
    )


def _profiles(read: _Reader, doc: Mapping[str, object]) -> frozenset[Profile] | None:
    if doc.get("allowed_profiles") is None:
        return None
    names = read.strings(doc, "allowed_profiles", "allowed_profiles")
    if not names:
        raise read.fail("allowed_profiles", "must not be empty (omit it to allow every profile)")
    profiles: set[Profile] = set()
    for name in names:
        try:
            profiles.add(Profile(name.lower()))
        except ValueError:
            known = ", ".join(p.value for p in Profile)
            raise read.fail("allowed_profiles", f"unknown profile {name!r} (known: {known})") from None
    return frozenset(profiles)


def _ceilings(read: _Reader, value: object) -> Resources:
    if value is None:
        return Resources(pids=DEFAULT_PIDS)
    data = read.mapping(value, "ceilings", _CEILING_KEYS)
    try:
        cpu = None if data.get("cpu") is None else parse_cpu(data["cpu"], "ceilings.cpu")
        memory = (
            None if data.get("memory") is None else parse_memory(data["memory"], "ceilings.memory")
        )
        pids = DEFAULT_PIDS if data.get("pids") is None else parse_pids(data["pids"], "ceilings.pids")
    except SpecInvalidError as exc:
        message = exc.detail.split(": ", 1)[-1]  # the field leads the detail: name it once
        raise read.fail(str(exc.context.get("field", "ceilings")), message) from exc
    return Resources(cpu_millis=cpu, memory_bytes=memory, pids=pids)


def _registries(read: _Reader, doc: Mapping[str, object]) -> tuple[str, ...]:
    entries: list[str] = []
    # unstripped: blanks around an entry are as malformed as blanks inside it
    for entry in read.strings(doc, "allowed_registries", "allowed_registries", strip=False):
        try:
            parse_registry_entry(entry)
        except ValueError as exc:
            raise read.fail("allowed_registries", f"{entry!r} {exc}") from None
        entries.append(entry.lower())
    return tuple(entries)


def _caps(read: _Reader, data: Mapping[str, object]) -> tuple[str, ...]:
    caps: list[str] = []
    for name in read.strings(data, "caps", "overrides.caps"):
        try:
            caps.append(parse_capability(name))
        except ValueError as exc:
            raise read.fail("overrides.caps", str(exc)) from None
    return tuple(caps)


def _overrides(read: _Reader, value: object) -> Overrides:
    if value is None:
        return Overrides()
    data = read.mapping(value, "overrides", _OVERRIDE_KEYS)
    return Overrides(
        network=tuple(n.lower() for n in read.strings(data, "network", "overrides.network")),
        caps=_caps(read, data),
        rootfs_writable=read.boolean(data, "rootfs_writable", "overrides.rootfs_writable"),
        env_inheritance=read.boolean(data, "env_inheritance", "overrides.env_inheritance"),
    )


def _signature_mode(read: _Reader, value: object) -> SignatureMode | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in SignatureMode.__members__.values():
        return SignatureMode(value.strip().lower())
    known = ", ".join(m.value for m in SignatureMode)
    raise read.fail("verify_signatures", f"must be one of {known}, got {value!r}")


def _signature_keys(read: _Reader, doc: Mapping[str, object], keys: SignatureKeyReader | None
                    ) -> tuple[SignatureKey, ...]:
    paths = tuple(dict.fromkeys(read.strings(doc, "signature_keys", "signature_keys")))
    if paths and keys is None:
        raise read.fail("signature_keys", "public key files cannot be read here")
    return tuple(keys.read(path) for path in paths) if keys is not None else ()
