"""An in-memory ContainerRuntime for tests: configured behaviour, recorded state, no I/O.

Knobs are plain attributes, read when the relevant call happens (a container's program —
``output_lines``, ``exit_code``, ``run_seconds`` — is fixed when it is created). The fake passes
``tests/contracts/runtime.py`` exactly like the Docker and Podman adapters.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Generator, Iterable, Iterator, Sequence

from flwd.adapters._runtime_common import (
    PULL_POLICIES,
    never_pull_error,
)
from flwd.domain.errors import ContainerNameConflictError, OciError, RuntimeUnavailableError
from flwd.ports.runtime import (
    LABEL_JOB_ID,
    LABEL_RUN_ID,
    ContainerSpec,
    ManagedContainer,
    OutputLine,
    PullProgress,
    RuntimeInfo,
)

EXIT_STOPPED = 143  # 128 + SIGTERM, what an init-wrapped job reports after a graceful stop
EXIT_KILLED = 137  # 128 + SIGKILL
_OUTAGE_POLL_SECONDS = 0.02  # how soon a blocked wait notices ``unavailable`` set mid-run


@dataclass(slots=True, kw_only=True)
class FakeContainer:
    """One fake container; ``state`` is created|running|exited."""

    id: str
    spec: ContainerSpec
    output_lines: tuple[OutputLine, ...]
    exit_code: int
    run_seconds: float
    state: str = "created"
    started_at: float | None = None
    started: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)
    final_exit_code: int | None = None


def _default_info() -> RuntimeInfo:
    return RuntimeInfo(name="fake", version="1.0", rootless=True, socket="fake://")


class FakeRuntime:
    """``ContainerRuntime`` in memory.

    Knobs: ``unavailable`` (also mid-run: blocked waits and output fail as when the daemon
    dies, and containers live on until removed once it is back), ``outage_on_exit`` (the
    runtime becomes unavailable as a container ends, as a daemon that stops its containers
    while shutting down), ``images`` (present locally), ``pull_fails``, ``pull_stall`` (when
    set, a pull first waits, reporting nothing, until this event is set: a registry that
    never answers), ``exit_code``, ``output_lines``, ``run_seconds`` (how long a started
    container runs; stop/kill end it early with 143/137), ``output_delay`` (when set, a log
read answers only this many seconds after the container has ended: a slow runtime),
``output_fails`` (a log read fails, the runtime lost, after handing over the lines), ``info``.
State: ``created``,
    ``containers``, ``attached`` (container id and its state when attached), ``started``,
    ``stopped``, ``killed``, ``removed``, ``pulled``, ``closed``.
    """

    def __init__(
        self,
        *,
        images: Iterable[str] = (),
        unavailable: bool = False,
        pull_fails: bool = False,
        pull_stall: threading.Event | None = None,
        exit_code: int = 0,
        output_lines: Iterable[OutputLine] = (),
        run_seconds: float = 0.0,
        output_delay: float = 0.0,
        output_fails: bool = False,
        info: RuntimeInfo | None = None,
        outage_on_exit: bool = False,
    ) -> None:
        self.images: set[str] = set(images)
        self.unavailable = unavailable
        self.pull_fails = pull_fails
        self.pull_stall = pull_stall
        self.exit_code = exit_code
        self.output_lines: list[OutputLine] = list(output_lines)
        self.run_seconds = run_seconds
        self.output_delay = output_delay
        self.output_fails = output_fails
        self.info = info or _default_info()
        self.outage_on_exit = outage_on_exit
        self.created: list[ContainerSpec] = []
        self.containers: dict[str, FakeContainer] = {}
        self.attached: list[tuple[str, str]] = []
        self.started: list[str] = []
        self.stopped: list[str] = []
        self.killed: list[str] = []
        self.removed: list[str] = []
        self.pulled: list[str] = []
        self.closed = False
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    # --- the port ------------------------------------------------------------------

    def probe(self) -> RuntimeInfo:
        self._reachable()
        return self.info

    def ensure_image(
        self, image: str, policy: str, progress: Callable[[PullProgress], None]
    ) -> bool:
        self._reachable()
        if policy not in PULL_POLICIES:
            raise ValueError(f"unknown pull policy {policy!r}; expected one of {PULL_POLICIES}")
        present = image in self.images
        if policy == "never" and not present:
            raise never_pull_error(image)
        if present and policy != "always":
            return False
        if self.pull_stall is not None:
            self.pull_stall.wait()
        progress(PullProgress(image=image, status="Pulling from fake registry"))
        if self.pull_fails:
            raise OciError(f"pull failed: fake registry refused {image}", image=image)
        progress(PullProgress(image=image, status="Download complete", current=1, total=1))
        with self._lock:
            self.images.add(image)
            self.pulled.append(image)
        return True

    def create(self, spec: ContainerSpec) -> str:
        self._reachable()
        with self._lock:
            if any(c.spec.name == spec.name for c in self.containers.values()):
                raise ContainerNameConflictError(
                    f"container name is already in use: {spec.name}", name=spec.name)
            if spec.image not in self.images:
                raise OciError(f"create failed: No such image: {spec.image}", image=spec.image)
            container = FakeContainer(
                id=f"fake{next(self._ids):012d}", spec=spec, output_lines=tuple(self.output_lines),
                exit_code=self.exit_code, run_seconds=self.run_seconds,
            )
            self.created.append(spec)
            self.containers[container.id] = container
            return container.id

    def start(self, container_id: str) -> None:
        self._reachable()
        with self._lock:
            container = self._get(container_id, "start")
            if container.state != "created":
                raise OciError(f"start failed: container {container_id} is {container.state}")
            container.state, container.started_at = "running", time.monotonic()
            container.started.set()
            self.started.append(container_id)

    def attach(self, container_id: str) -> Generator[OutputLine, None, None]:
        """The container's lines once it is started (the knobs apply as to ``output``)."""
        self._reachable()
        container = self._get(container_id, "attach")
        with self._lock:
            self.attached.append((container_id, container.state))

        def lines() -> Generator[OutputLine, None, None]:
            container.started.wait()
            yield from self.output(container_id)

        return lines()

    def output(self, container_id: str) -> Iterator[OutputLine]:
        self._reachable()
        container = self._get(container_id, "logs")
        if container.started_at is None:
            return  # like `docker logs -f` on a never-started container: nothing, at once
        if self.output_delay:
            self._wait_for_end(container)
            time.sleep(self.output_delay)
        yield from container.output_lines
        if self.output_fails:
            raise RuntimeUnavailableError("fake runtime lost while reading the log",
                                          runtime="fake", socket=self.info.socket)
        self._wait_for_end(container)

    def wait(self, container_id: str) -> int:
        self._reachable()
        container = self._get(container_id, "wait")
        self._wait_for_end(container)
        return container.final_exit_code or 0  # never started: 0 at once, as Docker does

    def stop(self, container_id: str, grace_seconds: float) -> None:
        self._end(container_id, EXIT_STOPPED, self.stopped)

    def kill(self, container_id: str) -> None:
        self._end(container_id, EXIT_KILLED, self.killed)

    def remove(self, container_id: str) -> None:
        self._reachable()
        with self._lock:
            container = self.containers.pop(container_id, None)
            if container is None:
                return
            self._finish(container, EXIT_KILLED)
            self.removed.append(container_id)

    def managed(self) -> Sequence[ManagedContainer]:
        self._reachable()
        with self._lock:
            containers = list(self.containers.values())
        return [
            ManagedContainer(
                id=c.id, name=c.spec.name, run_id=c.spec.labels[LABEL_RUN_ID],
                job_id=c.spec.labels.get(LABEL_JOB_ID, ""), running=self._running(c),
            )
            for c in containers
            if LABEL_RUN_ID in c.spec.labels
        ]

    def close(self) -> None:
        self.closed = True

    # --- helpers -------------------------------------------------------------------

    def _reachable(self) -> None:
        if self.unavailable:
            raise RuntimeUnavailableError("fake runtime is unavailable", runtime="fake",
                                          socket=self.info.socket)

    def _get(self, container_id: str, action: str) -> FakeContainer:
        with self._lock:
            container = self.containers.get(container_id)
        if container is None:
            raise OciError(f"{action} failed: No such container: {container_id}",
                           container=container_id)
        return container

    def _running(self, container: FakeContainer) -> bool:
        if container.state != "running":
            return False
        assert container.started_at is not None
        if time.monotonic() - container.started_at >= container.run_seconds:
            self._finish(container, container.exit_code)
            return False
        return True

    def _wait_for_end(self, container: FakeContainer) -> None:
        """Until the container ends; raises when the runtime becomes ``unavailable`` meanwhile
        (a blocked wait or log follow breaks when the daemon dies; the container lives on)."""
        if container.started_at is None:
            return
        while not container.ended.is_set():
            remaining = container.started_at + container.run_seconds - time.monotonic()
            if remaining <= 0:
                break
            if container.ended.wait(min(remaining, _OUTAGE_POLL_SECONDS)):
                break  # it ended first: its end was answered
            self._reachable()
        self._finish(container, container.exit_code)

    def _end(self, container_id: str, exit_code: int, record: list[str]) -> None:
        self._reachable()
        with self._lock:
            container = self.containers.get(container_id)
            if container is None or not self._running(container):
                return
            self._finish(container, exit_code)
            record.append(container_id)

    def _finish(self, container: FakeContainer, exit_code: int) -> None:
        with self._lock:
            if container.final_exit_code is None:
                container.final_exit_code = exit_code
                # answered before the runtime goes away (a daemon stops its containers first)
                self.unavailable = self.unavailable or self.outage_on_exit
            container.state = "exited"
            container.ended.set()
            container.started.set()  # an attach waiting for a start that never comes ends
