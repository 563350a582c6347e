"""The container runtime port, shaped around what a run needs, not around an SDK."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping, Protocol, Sequence

LABEL_RUN_ID = "flwd.run-id"  # the labels every flwd container carries (ManagedContainer)
LABEL_JOB_ID = "flwd.job-id"


@dataclass(frozen=True, slots=True, kw_only=True)
class RuntimeInfo:
    """What a reachable runtime is.

    ``rootless`` is true when container root is not host root (rootless Podman/Docker or
    userns-remap). ``root_uid``/``root_gid`` are the host ids container root maps to.
    ``enforces_limits`` is false where cgroup limits (pids, memory, cpu) are ignored.
    """

    name: str
    version: str
    rootless: bool
    socket: str
    enforces_limits: bool = True
    root_uid: int = 0
    root_gid: int = 0
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Mount:
    source: str
    target: str
    read_only: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerSpec:
    """Everything needed to create one hardened job container."""

    name: str
    image: str
    command: tuple[str, ...] | None
    env: Mapping[str, str]
    labels: Mapping[str, str]
    mounts: tuple[Mount, ...]
    workdir: str
    read_only_rootfs: bool = True
    tmpfs: Mapping[str, str] = field(default_factory=dict)
    cap_drop: tuple[str, ...] = ("ALL",)
    cap_add: tuple[str, ...] = ()
    no_new_privileges: bool = True
    network: str = "none"
    pids_limit: int | None = None
    memory_bytes: int | None = None
    nano_cpus: int | None = None
    init: bool = True
    user: str | None = None
    ulimits: Mapping[str, int] = field(default_factory=lambda: {"nofile": 1024})


@dataclass(frozen=True, slots=True, kw_only=True)
class PullProgress:
    """One step of an image pull, for ``image.pull`` events."""

    image: str
    status: str
    current: int | None = None
    total: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputLine:
    stream: str  # "stdout" | "stderr"
    line: str


class AttachedOutput(Protocol):
    """A container's output, attached to before it started: its lines as they are written.

    Iterating blocks until the next line; it ends once the container has exited and every
    line was yielded. ``close()`` lets go of the connection (a start that failed)."""

    def __iter__(self) -> Iterator[OutputLine]:
        ...

    def __next__(self) -> OutputLine:
        ...

    def close(self) -> None:
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ManagedContainer:
    """A container carrying flwd's labels, found on the runtime."""

    id: str
    name: str
    run_id: str
    job_id: str
    running: bool


class ContainerRuntime(Protocol):
    """Starts, streams, stops and removes job containers (Podman and Docker adapters).

    Every method raises ``RuntimeUnavailableError`` when the engine cannot be reached;
    pull/create/start failures raise ``OciError`` with the runtime's own message.
    Constructors do no I/O: the connection is made on first use.
    """

    def probe(self) -> RuntimeInfo:
        """Reach the engine and describe it."""
        ...

    def ensure_image(
        self, image: str, policy: str, progress: Callable[[PullProgress], None]
    ) -> bool:
        """Make *image* present per *policy* (if-not-present|always|never); True if pulled."""
        ...

    def create(self, spec: ContainerSpec) -> str:
        """Create (not start) the container; return its id.

        Raises ``ContainerNameConflictError`` when ``spec.name`` is taken.
        """
        ...

    def attach(self, container_id: str) -> AttachedOutput:
        """Attach to a created, not yet started container's stdout and stderr, as ``podman
        run``/``docker run`` do; returns once attached, so nothing written after ``start``
        is missed.

        Yields every line once, in order per stream, from the first byte to the last (a final
        line without newline included) with no polling. Should the connection break while the
        container still runs, the rest is read from the runtime's log, without repeating a line.
        """
        ...

    def start(self, container_id: str) -> None:
        ...

    def output(self, container_id: str) -> Iterator[OutputLine]:
        """Read stdout/stderr line by line from the runtime's log, from the container's first
        line, until it exits: for a container started by another process, already running or
        exited (no attach can see what it wrote before)."""
        ...

    def wait(self, container_id: str) -> int:
        """Block until the container exits; return its exit code."""
        ...

    def stop(self, container_id: str, grace_seconds: float) -> None:
        """SIGTERM, then SIGKILL after *grace_seconds*. No error if already stopped."""
        ...

    def kill(self, container_id: str) -> None:
        """SIGKILL now. No error if already stopped."""
        ...

    def remove(self, container_id: str) -> None:
        """Remove the container (forced). No error if it is already gone."""
        ...

    def managed(self) -> Sequence[ManagedContainer]:
        """Every container carrying flwd's ``flwd.run-id`` label."""
        ...

    def close(self) -> None:
        """Release clients and any private service this adapter started."""
        ...
