"""Finds the container runtime to use (SPEC section 6): which kind, and where it answers, fast."""

from __future__ import annotations

import shutil
import socket
import time
from dataclasses import dataclass
from functools import partial
from typing import Mapping
from urllib.parse import urlparse

from flwd.adapters._runtime_common import DEFAULT_DOCKER_SOCKET
from flwd.adapters.podman_service import PrivatePodmanService, ping
from flwd.domain.errors import RuntimeUnavailableError
from flwd.ports.kinds import RuntimeKind, one_of

PING_TIMEOUT = 0.4
BUDGET_SECONDS = 1.5  # pinging everything must fit, so "nothing reachable" fails in < 2 s
SYSTEM_PODMAN_SOCKET = "unix:///run/podman/podman.sock"
PINGABLE = ("unix", "http+unix", "tcp", "http")
NAMED = ((RuntimeKind.PODMAN, "CONTAINER_HOST"), (RuntimeKind.DOCKER, "DOCKER_HOST"))
PRIVATE_SERVICE = "private podman service"


@dataclass(frozen=True, slots=True, kw_only=True)
class RuntimeEndpoint:
    """Where the runtime of *kind* answers. ``service`` is the private Podman service flwd
    started for it, which the runtime adapter stops when it is closed."""

    kind: RuntimeKind  # podman | docker, never auto
    url: str
    service: PrivatePodmanService | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Address:
    """A place a runtime may answer, and where flwd learnt of it."""

    kind: RuntimeKind
    url: str
    source: str  # CONTAINER_HOST, XDG_RUNTIME_DIR, system socket, ..., private podman service


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


def addresses(
    kind: RuntimeKind, env: Mapping[str, str], system_podman_url: str = SYSTEM_PODMAN_SOCKET,
    docker_url: str = DEFAULT_DOCKER_SOCKET,
) -> list[Address]:
    """Where *kind* may answer, in the order tried.

    An address the user named (``CONTAINER_HOST`` for Podman, ``DOCKER_HOST`` for Docker) is
    a choice: when *kind* would use one, only the named addresses are tried, and a private
    service is never started. With nothing named: Podman's user socket, its system socket, a
    private ``podman system service``, then Docker's default socket (each only for a *kind*
    that uses that runtime).
    """
    named = [Address(kind=runtime, url=env[variable], source=variable)
             for runtime, variable in NAMED
             if env.get(variable) and kind in (RuntimeKind.AUTO, runtime)]
    if named:
        return named
    found = []
    if kind in (RuntimeKind.AUTO, RuntimeKind.PODMAN):
        if env.get("XDG_RUNTIME_DIR"):
            found.append(Address(kind=RuntimeKind.PODMAN, source="XDG_RUNTIME_DIR",
                                 url=f"unix://{env['XDG_RUNTIME_DIR']}/podman/podman.sock"))
        found.append(Address(kind=RuntimeKind.PODMAN, url=system_podman_url,
                             source="system socket"))
        found.append(Address(kind=RuntimeKind.PODMAN, url="", source=PRIVATE_SERVICE))
    if kind in (RuntimeKind.AUTO, RuntimeKind.DOCKER):
        found.append(Address(kind=RuntimeKind.DOCKER, url=docker_url, source="default socket"))
    unique: dict[str, Address] = {}  # XDG_RUNTIME_DIR's socket may be the system one
    for address in found:
        unique.setdefault(address.url, address)
    return list(unique.values())


def _check(address: Address, deadline: float) -> Candidate:
    found = partial(Candidate, runtime=address.kind, url=address.url, source=address.source)
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return found(reachable=False, reason="not tried (time budget spent)")
    scheme = urlparse(address.url).scheme
    if scheme == "ssh":
        try:
            _reach_ssh_host(address.url, remaining)
        except OSError as exc:
            return found(reachable=False, reason=f"its SSH host does not answer: {_reason(exc)}")
        return found(reachable=True, reason="SSH host answers; the service itself is not checked")
    if scheme not in PINGABLE:  # other schemes: the SDK will tell
        return found(reachable=True, reason="not checked")
    try:
        headers = ping(address.url, timeout=min(PING_TIMEOUT, remaining))
    except OSError as exc:
        return found(reachable=False, reason=_reason(exc))
    if address.kind is RuntimeKind.PODMAN and "libpod-api-version" not in headers:
        return found(reachable=False,
                     reason="answers, but is not a Podman service (no Libpod-Api-Version)")
    return found(reachable=True)


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
    env: Mapping[str, str], kind: RuntimeKind = RuntimeKind.AUTO, *,
    system_podman_url: str = SYSTEM_PODMAN_SOCKET, docker_url: str = DEFAULT_DOCKER_SOCKET,
) -> list[Candidate]:
    """Ping every address *kind* would try, in order; starts nothing."""
    deadline = time.monotonic() + BUDGET_SECONDS
    plan = addresses(kind, env, system_podman_url, docker_url)
    return [_check(address, deadline) for address in plan if address.source != PRIVATE_SERVICE]


def find_runtime(
    kind: str, *, env: Mapping[str, str], system_podman_url: str = SYSTEM_PODMAN_SOCKET,
    docker_url: str = DEFAULT_DOCKER_SOCKET,
) -> RuntimeEndpoint:
    """The kind of runtime to use for the setting *kind* (auto|podman|docker), and where.

    Tries ``addresses()`` in order, the first that answers ``/_ping`` (a Podman address must
    answer as Podman) wins; the private service is started when its turn comes and
    ``podman`` is on PATH. Raises ``RuntimeUnavailableError``
    (``container.runtime.unavailable``) listing every address tried and why it failed.
    """
    setting = _setting(kind)
    deadline = time.monotonic() + BUDGET_SECONDS
    tried: list[str] = []
    plan = addresses(setting, env, system_podman_url, docker_url)
    for address in plan:
        if address.source == PRIVATE_SERVICE:
            endpoint = _private_podman(env, tried)
            if endpoint is not None:
                return endpoint
            continue
        candidate = _check(address, deadline)
        if candidate.reachable:
            return RuntimeEndpoint(kind=address.kind, url=address.url)
        tried.append(candidate.describe())
    raise _unavailable(tried, [a for a in plan if a.source in dict(NAMED).values()])


def _setting(kind: str) -> RuntimeKind:
    try:
        return RuntimeKind(kind)
    except ValueError:
        raise RuntimeUnavailableError(
            f"unknown runtime {kind!r}; choose one of {one_of(RuntimeKind)}", runtime=kind
        ) from None


def _unavailable(tried: list[str], named: list[Address]) -> RuntimeUnavailableError:
    detail = "no container runtime is reachable; tried: " + "; ".join(tried)
    if not named:
        return RuntimeUnavailableError(detail, tried=tuple(tried))
    names = " and ".join(address.source for address in named)
    return RuntimeUnavailableError(
        f"{detail} ({names} named the runtime to use, so flwd tries nothing else and starts "
        f"no private service; unset {'them' if len(named) > 1 else 'it'} to let flwd find one)",
        tried=tuple(tried), socket=", ".join(address.url for address in named))


def _private_podman(env: Mapping[str, str], tried: list[str]) -> RuntimeEndpoint | None:
    if shutil.which("podman", path=env.get("PATH")) is None:
        tried.append(f"{PRIVATE_SERVICE}: podman is not installed (not on PATH)")
        return None
    service = PrivatePodmanService(env=env)
    try:
        url = service.start()
    except RuntimeUnavailableError as exc:
        tried.append(exc.detail)
        return None
    return RuntimeEndpoint(kind=RuntimeKind.PODMAN, url=url, service=service)
