"""Finds the container runtime to use (SPEC section 6): Podman first, then Docker, fast."""

from __future__ import annotations

import shutil
import socket
import time
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlparse

from flwd.adapters._runtime_common import DEFAULT_DOCKER_SOCKET
from flwd.adapters.podman_service import PrivatePodmanService, ping
from flwd.domain.errors import RuntimeUnavailableError
from flwd.ports.runtime import ContainerRuntime

KINDS = ("auto", "podman", "docker")
PING_TIMEOUT = 0.4
BUDGET_SECONDS = 1.5  # pinging everything must fit, so "nothing reachable" fails in < 2 s
SYSTEM_PODMAN_SOCKET = "unix:///run/podman/podman.sock"
PINGABLE = ("unix", "http+unix", "tcp", "http")


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """One place a runtime may answer, and whether it did (for detection and `flwd :doctor`)."""

    runtime: str  # podman | docker
    url: str
    source: str  # where the address came from, e.g. CONTAINER_HOST
    reachable: bool
    reason: str = ""  # why not, when not reachable

    def describe(self) -> str:
        state = "answers" if self.reachable else f"not reachable: {self.reason}"
        return f"{self.runtime} at {self.url} ({self.source}): {state}"


def podman_addresses(
    env: Mapping[str, str], system_url: str = SYSTEM_PODMAN_SOCKET
) -> list[tuple[str, str]]:
    """``(url, source)`` pairs for Podman, in SPEC order, without duplicates."""
    found = []
    if env.get("CONTAINER_HOST"):
        found.append((env["CONTAINER_HOST"], "CONTAINER_HOST"))
    if env.get("XDG_RUNTIME_DIR"):
        found.append((f"unix://{env['XDG_RUNTIME_DIR']}/podman/podman.sock", "XDG_RUNTIME_DIR"))
    found.append((system_url, "system socket"))
    return _unique(found)


def docker_addresses(env: Mapping[str, str]) -> list[tuple[str, str]]:
    if env.get("DOCKER_HOST"):
        return [(env["DOCKER_HOST"], "DOCKER_HOST")]
    return [(DEFAULT_DOCKER_SOCKET, "default socket")]


def _unique(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    unique: dict[str, str] = {}
    for url, source in pairs:
        unique.setdefault(url, source)
    return list(unique.items())


def _check(runtime: str, url: str, source: str, deadline: float) -> Candidate:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return Candidate(runtime=runtime, url=url, source=source, reachable=False,
                         reason="not tried (time budget spent)")
    scheme = urlparse(url).scheme
    if scheme == "ssh":
        try:
            _reach_ssh_host(url, remaining)
        except OSError as exc:
            return Candidate(runtime=runtime, url=url, source=source, reachable=False,
                             reason=f"its SSH host does not answer: {_reason(exc)}")
        return Candidate(runtime=runtime, url=url, source=source, reachable=True,
                         reason="SSH host answers; the service itself is not checked")
    if scheme not in PINGABLE:  # other schemes: the SDK will tell
        return Candidate(runtime=runtime, url=url, source=source, reachable=True,
                         reason="not checked")
    try:
        headers = ping(url, timeout=min(PING_TIMEOUT, remaining))
    except OSError as exc:
        return Candidate(runtime=runtime, url=url, source=source, reachable=False,
                         reason=_reason(exc))
    if runtime == "podman" and "libpod-api-version" not in headers:
        return Candidate(runtime=runtime, url=url, source=source, reachable=False,
                         reason="answers, but is not a Podman service (no Libpod-Api-Version)")
    return Candidate(runtime=runtime, url=url, source=source, reachable=True)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def _reach_ssh_host(url: str, timeout: float) -> None:
    """Connect to an ``ssh://`` address's host and port: the SDKs' SSH tunnels wait minutes on
    a host that cannot be resolved or reached, where SPEC section 6 wants an error at once."""
    parsed = urlparse(url)
    if not parsed.hostname:
        raise OSError(f"no host in {url}")
    with socket.create_connection((parsed.hostname, parsed.port or 22), timeout=timeout):
        pass


def describe_candidates(
    env: Mapping[str, str], kind: str = "auto", *, system_podman_url: str = SYSTEM_PODMAN_SOCKET
) -> list[Candidate]:
    """Ping every address *kind* would consider, in order; starts nothing."""
    deadline = time.monotonic() + BUDGET_SECONDS
    pairs = []
    if kind in ("auto", "podman"):
        pairs += [("podman", url, src) for url, src in podman_addresses(env, system_podman_url)]
    if kind in ("auto", "docker"):
        pairs += [("docker", url, src) for url, src in docker_addresses(env)]
    return [_check(runtime, url, src, deadline) for runtime, url, src in pairs]


def detect_runtime(
    kind: str, *, env: Mapping[str, str], system_podman_url: str = SYSTEM_PODMAN_SOCKET
) -> ContainerRuntime:
    """The runtime to use for *kind* (auto|podman|docker), connected lazily.

    Podman: ``CONTAINER_HOST``, ``$XDG_RUNTIME_DIR/podman/podman.sock``,
    ``/run/podman/podman.sock``, the first that answers ``/_ping``; else, when the ``podman``
    binary is on PATH, a private ``podman system service`` (stopped by ``close()`` or at exit).
    Docker (``auto`` when no Podman works, or ``docker``): ``DOCKER_HOST`` or the default
    socket. Raises ``RuntimeUnavailableError`` (``container.runtime.unavailable``) listing
    every address tried and why it failed.
    """
    if kind not in KINDS:
        raise RuntimeUnavailableError(
            f"unknown runtime {kind!r}; choose one of {', '.join(KINDS)}", runtime=kind)
    deadline = time.monotonic() + BUDGET_SECONDS
    tried: list[str] = []
    if kind in ("auto", "podman"):
        for url, source in podman_addresses(env, system_podman_url):
            candidate = _check("podman", url, source, deadline)
            if candidate.reachable:
                return _podman(url)
            tried.append(candidate.describe())
        private = _private_podman(env, tried)
        if private is not None:
            return private
    if kind in ("auto", "docker"):
        for url, source in docker_addresses(env):
            candidate = _check("docker", url, source, deadline)
            if candidate.reachable:
                return _docker(url)
            tried.append(candidate.describe())
    raise RuntimeUnavailableError(
        "no container runtime is reachable; tried: " + "; ".join(tried), tried=tuple(tried))


def _private_podman(env: Mapping[str, str], tried: list[str]) -> ContainerRuntime | None:
    if shutil.which("podman", path=env.get("PATH")) is None:
        tried.append("private podman service: podman is not installed (not on PATH)")
        return None
    service = PrivatePodmanService(env=env)
    try:
        url = service.start()
    except RuntimeUnavailableError as exc:
        tried.append(exc.detail)
        return None
    return _podman(url, service)


def _podman(url: str, service: PrivatePodmanService | None = None) -> ContainerRuntime:
    from flwd.adapters.podman_runtime import PodmanRuntime

    return PodmanRuntime(url, service=service)


def _docker(url: str) -> ContainerRuntime:
    from flwd.adapters.docker_runtime import DockerRuntime

    runtime: ContainerRuntime = DockerRuntime(base_url=url)
    return runtime
