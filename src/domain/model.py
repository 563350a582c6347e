"""Frozen value objects of the domain: job specs, arguments, profiles, policy, decisions, plans."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    from flwd.ports.signatures import SignatureKey


class ArgType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    ARRAY = "array"
    OBJECT = "object"


class Profile(StrEnum):
    SECURE = "secure"
    PERMISSIVE = "permissive"
    DISABLED = "disabled"


class SignatureMode(StrEnum):
    """The policy's ``verify_signatures`` (SPEC section 10)."""

    REQUIRED = "required"
    PERMISSIVE = "permissive"
    DISABLED = "disabled"


class PullPolicy(StrEnum):
    IF_NOT_PRESENT = "if-not-present"
    ALWAYS = "always"
    NEVER = "never"


class Verdict(StrEnum):
    ALLOW = "allow"
    WARN = "warn"
    DENY = "deny"


class RunStatus(StrEnum):
    QUEUED = "queued"
    PULLING = "pulling"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    TIMED_OUT = "timed_out"
    ERROR = "error"

    @property
    def finished(self) -> bool:
        return self not in _ACTIVE


_ACTIVE = frozenset({RunStatus.QUEUED, RunStatus.PULLING, RunStatus.RUNNING})

_ENV_UNSAFE = re.compile(r"[^A-Za-z0-9]")


@lru_cache(maxsize=4096)  # called per argument per plan; names repeat across runs
def env_name(arg_name: str) -> str:
    """``ARG_<NAME>``: upper-cased, every non-alphanumeric replaced by ``_``."""
    return "ARG_" + _ENV_UNSAFE.sub("_", arg_name).upper()


class _NoDefault:
    """Marker for an argument without a default (``None`` is a legal JSON default)."""

    _instance: _NoDefault | None = None

    def __new__(cls) -> _NoDefault:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT = _NoDefault()


@dataclass(frozen=True, slots=True, kw_only=True)
class ArgSpec:
    """One declared argument of a job (SPEC section 2)."""

    name: str
    type: ArgType
    required: bool = False
    default: object = NO_DEFAULT
    description: str = ""
    items: ArgType | None = None
    minimum: float | None = None
    maximum: float | None = None
    enum: tuple[object, ...] | None = None
    pattern: str | None = None
    secret: bool = False

    @property
    def env_name(self) -> str:
        return env_name(self.name)

    @property
    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT


@dataclass(frozen=True, slots=True, kw_only=True)
class Resources:
    """CPU in millicores, memory in bytes, process count; ``None`` means not set."""

    cpu_millis: int | None = None
    memory_bytes: int | None = None
    pids: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerRequest:
    """What a job asks for under ``container:``; every relaxation is policy-checked."""

    network: str | None = None
    rootfs_writable: bool = False
    capabilities: tuple[str, ...] = ()
    env_inheritance: bool = False
    resources: Resources = field(default_factory=Resources)
    pull_policy: PullPolicy = PullPolicy.IF_NOT_PRESENT


@dataclass(frozen=True, slots=True, kw_only=True)
class Origin:
    """Where an add-on job comes from (SPEC section 10): its source, the reference the source
    was added with, the digest that reference is pinned to, and the add-on's version."""

    source: str
    ref: str
    digest: str
    addon_version: str = ""
    kind: str = "oci"

    def as_dict(self) -> dict[str, str]:
        return {"source": self.source, "kind": self.kind, "ref": self.ref,
                "digest": self.digest, "addon_version": self.addon_version}


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSpec:
    """A validated job: where it lives, what it runs, and its argument contract."""

    id: str
    directory: str
    spec_path: str
    image: str
    name: str = ""
    description: str = ""
    script: str | None = None
    command: tuple[str, ...] | None = None
    args: tuple[ArgSpec, ...] = ()
    security_profile: Profile | None = None
    timeout_seconds: float | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    container: ContainerRequest = field(default_factory=ContainerRequest)
    queue: str = "default"  # cluster mode: only workers on this queue take its runs
    # what was ignored rather than refused (unknown top-level keys), for listings and plans
    warnings: tuple[str, ...] = ()
    # an add-on job's origin; its ``image`` is then pinned (``REPO@sha256:...``) and its
    # ``directory`` empty: the add-on's files are in its image, nothing is mounted at /flwd/job
    origin: Origin | None = None

    def arg(self, name: str) -> ArgSpec | None:
        for spec in self.args:
            if spec.name == name:
                return spec
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class InvalidJob:
    """A job directory whose spec could not be accepted, kept so listings can show why."""

    id: str
    spec_path: str
    reason: str
    field: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageRef:
    """A parsed image reference; ``str()`` gives the canonical, fully qualified form."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        ref = f"{self.registry}/{self.repository}"
        if self.tag:
            ref += f":{self.tag}"
        if self.digest:
            ref += f"@{self.digest}"
        return ref


@dataclass(frozen=True, slots=True, kw_only=True)
class Overrides:
    """Relaxations a ``permissive`` run may take, as listed in the policy bundle."""

    network: tuple[str, ...] = ()
    caps: tuple[str, ...] = ()
    rootfs_writable: bool = False
    env_inheritance: bool = False


DEFAULT_PIDS = 256


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyBundle:
    """The operator's policy (SPEC section 4). The default bundle allows every profile."""

    allowed_profiles: frozenset[Profile] | None = None
    require_rootless: bool = False
    require_limits: bool = False
    allowed_registries: tuple[str, ...] = ()
    ceilings: Resources = field(default_factory=lambda: Resources(pids=DEFAULT_PIDS))
    overrides: Overrides = field(default_factory=Overrides)
    # SPEC section 10: None follows the profile (required/permissive/disabled by its name)
    verify_signatures: SignatureMode | None = None
    signature_keys: tuple[SignatureKey, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """One policy decision: ``{subject, decision, code, reason}``."""

    subject: str
    decision: Verdict
    code: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {
            "subject": self.subject,
            "decision": self.decision.value,
            "code": self.code,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerSettings:
    """The hardening a profile and policy yield for one run."""

    read_only_rootfs: bool = True
    cap_drop: tuple[str, ...] = ("ALL",)
    cap_add: tuple[str, ...] = ()
    no_new_privileges: bool = True
    network: str = "none"
    resources: Resources = field(default_factory=lambda: Resources(pids=DEFAULT_PIDS))
    tmpfs: Mapping[str, str] = field(
        default_factory=lambda: {"/tmp": "rw,nosuid,nodev,size=64m"}
    )
    init: bool = True
    env_inheritance: bool = False
    user: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MountSpec:
    """A mount the plan asks for; ``source`` is a role (job, run, secrets) until a run binds it."""

    source: str
    target: str
    read_only: bool


JOB_DIR = "/flwd/job"
RUN_DIR = "/flwd/run"
SECRETS_DIR = "/run/secrets"
SECRET_PLACEHOLDER = "<secret>"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunPlan:
    """The complete, runtime-free answer to "what would run" (SPEC section 5). Holds no secret."""

    job_id: str
    image: str
    command: tuple[str, ...] | None
    profile: Profile
    settings: ContainerSettings
    env: Mapping[str, str]
    args: Mapping[str, object]
    secret_files: tuple[str, ...]
    mounts: tuple[MountSpec, ...]
    decisions: tuple[Decision, ...]
    pull_policy: PullPolicy
    timeout_seconds: float | None
    workdir: str = RUN_DIR
    queue: str = "default"
    origin: Origin | None = None

    @property
    def denied(self) -> tuple[Decision, ...]:
        return tuple(d for d in self.decisions if d.decision is Verdict.DENY)
