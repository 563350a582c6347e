"""Worker *hosts* for cluster tests: network namespaces on a private bridge (SPEC section 11).

One :class:`HostNetwork` per test session: a bridge ``fl<tag>b`` in the root namespace holding
``10.231.X.1/24`` (X random, checked against this machine's addresses and other sessions' claims)
and, per host, a namespace ``flwd-<tag>-hN`` joined to the bridge by a veth pair (host side
``fl<tag>vN``, inside ``eth0`` = ``10.231.X.(10+N)``). Services the hosts need (PostgreSQL,
Redis) listen on the bridge address only, so a host reaches them over its veth or not at all,
and :meth:`Host.cut` (veth down) really cuts it off.

Processes start in a host with ``nsenter --net=/run/netns/NAME`` (never ``ip netns exec``, which
remounts /sys and breaks cgroup access). Unix sockets are files, so a worker in a host still
drives the machine's dockerd and rootless Podman. Everything is removed on exit, failed test or
not: processes (by process group), namespaces, links, the claim file; a later session also
removes what a session killed before its cleanup left behind (its owner pid is gone).
"""

from __future__ import annotations

import os
import random
import shlex
import shutil
import signal
import subprocess
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import pytest

from tests.integration.pg_support import PgCluster, running_cluster
from tests.integration.redis_support import RedisServer, running_redis

CLAIMS = Path("/run/flwd-netns")
NETNS_DIR = Path("/run/netns")
FIRST_OCTETS = "10.231"
HINT = "network-namespace hosts need root with CAP_NET_ADMIN, iproute2 and util-linux (nsenter)"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {shlex.join(args)}: {done.stderr.strip()}")
    return done


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Host:
    """One worker host: a network namespace with one veth into the bridge."""

    name: str
    index: int
    address: str
    link: str
    network: HostNetwork

    @property
    def netns(self) -> Path:
        return NETNS_DIR / self.name

    def argv(self, command: Sequence[str]) -> list[str]:
        """*command* wrapped to run in this host: its network namespace and, in a UTS namespace
        of its own, its host name (workers name themselves after their host)."""
        return ["nsenter", f"--net={self.netns}", "--", "unshare", "--uts", "--",
                "sh", "-c", 'hostname "$0" && exec "$@"', self.name, *command]

    def adopt(self, process: subprocess.Popen[bytes]) -> None:
        """Count *process* (started with :meth:`argv` by another helper) as running in this
        host: it is stopped with the host's other processes."""
        self.network.processes.append((self.name, process))

    def spawn(self, command: Sequence[str], *, log: Path, env: Mapping[str, str] | None = None,
              cwd: Path | None = None) -> subprocess.Popen[bytes]:
        """Start *command* in this host (own session, output to *log*); stopped on cleanup."""
        with open(log, "ab") as sink:
            process = subprocess.Popen(self.argv(command), stdout=sink, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, env=None if env is None
                                       else dict(env), cwd=cwd, start_new_session=True)
        self.adopt(process)
        return process

    def run(self, command: Sequence[str], *, timeout: float = 30,
            env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run *command* in this host to completion (bounded by *timeout*)."""
        return subprocess.run(self.argv(command), capture_output=True, text=True, timeout=timeout,
                              env=None if env is None else dict(env), check=False)

    def cut(self) -> None:
        """Cut this host off the network: its veth's bridge side goes down."""
        _ip("link", "set", self.link, "down")

    def restore(self) -> None:
        _ip("link", "set", self.link, "up")

    def is_cut(self) -> bool:
        line = _ip("-o", "link", "show", self.link).stdout
        return "UP" not in line.partition("<")[2].partition(">")[0].split(",")


@dataclass
class HostNetwork:
    """The bridge, its hosts and every process started in them."""

    tag: str
    third_octet: int
    hosts: list[Host] = field(default_factory=list)
    # (host name, process) for every process started in a host
    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    @property
    def bridge(self) -> str:
        return f"fl{self.tag}b"

    @property
    def gateway(self) -> str:
        """The bridge's address: where services for the hosts listen."""
        return f"{FIRST_OCTETS}.{self.third_octet}.1"

    @property
    def subnet(self) -> str:
        return f"{FIRST_OCTETS}.{self.third_octet}.0/24"

    def add_host(self) -> Host:
        index = len(self.hosts) + 1
        host = Host(name=f"flwd-{self.tag}-h{index}", index=index,
                    address=f"{FIRST_OCTETS}.{self.third_octet}.{10 + index}",
                    link=f"fl{self.tag}v{index}", network=self)
        self.hosts.append(host)
        _ip("netns", "add", host.name)
        _ip("link", "add", host.link, "type", "veth", "peer", "name", "eth0", "netns", host.name)
        _ip("link", "set", host.link, "master", self.bridge)
        _ip("link", "set", host.link, "up")
        _ip("-n", host.name, "link", "set", "lo", "up")
        _ip("-n", host.name, "addr", "add", f"{host.address}/24", "dev", "eth0")
        _ip("-n", host.name, "link", "set", "eth0", "up")
        _ip("-n", host.name, "route", "add", "default", "via", self.gateway)
        return host

    def idle_host(self) -> Host:
        """A host no live process was started in (a new one when every host is busy)."""
        busy = {name for name, process in self.processes if process.poll() is None}
        for host in self.hosts:
            if host.name not in busy:
                return host
        return self.add_host()

    def stop_processes(self, grace: float = 5, since: int = 0) -> None:
        """SIGTERM the process groups started in a host (the *since*-th on), SIGKILL what is
        left after *grace*."""
        mine = [process for _, process in self.processes[since:]]
        del self.processes[since:]
        running = [p for p in mine if p.poll() is None]
        for process in running:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in running:
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for process in mine:
            with suppress(ProcessLookupError):  # the group may outlive its leader
                os.killpg(process.pid, signal.SIGKILL)
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)

    def restore_all(self) -> None:
        for host in self.hosts:
            with suppress(RuntimeError):
                host.restore()

    def close(self) -> None:
        try:
            self.stop_processes()
        finally:
            _remove_links(self.tag, [h.name for h in self.hosts])
            (CLAIMS / self.tag).unlink(missing_ok=True)


def _remove_links(tag: str, namespaces: Sequence[str]) -> None:
    """Delete *tag*'s namespaces (their veth ends go with them), host-side veths and bridge."""
    for name in namespaces:
        _ip("netns", "del", name, check=False)
    links = _ip("-o", "link", "show", check=False).stdout
    for line in links.splitlines():
        link = line.split(":", 2)[1].strip().split("@", 1)[0] if ":" in line else ""
        if link.startswith(f"fl{tag}v"):
            _ip("link", "del", link, check=False)
    _ip("link", "del", f"fl{tag}b", check=False)


def reap_stale() -> None:
    """Remove namespaces and links of sessions that died before their cleanup ran."""
    if not CLAIMS.is_dir():
        return
    for claim in CLAIMS.iterdir():
        try:
            pid = int(claim.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if _alive(pid):
            continue
        names = [p.name for p in NETNS_DIR.glob(f"flwd-{claim.name}-h*")] \
            if NETNS_DIR.is_dir() else []
        _remove_links(claim.name, names)
        claim.unlink(missing_ok=True)


def _claimed_octets() -> set[int]:
    taken = set()
    for claim in CLAIMS.iterdir():
        with suppress(OSError, ValueError, IndexError):
            taken.add(int(claim.read_text().split()[1]))
    return taken


def _claim() -> tuple[str, int]:
    """A fresh tag and a free 10.231.X.0/24, recorded in CLAIMS so parallel sessions skip it."""
    CLAIMS.mkdir(mode=0o755, exist_ok=True)
    in_use = _ip("-4", "-o", "addr", "show").stdout + _ip("-4", "route", "show").stdout
    for _ in range(64):
        tag, octet = os.urandom(3).hex(), random.randint(2, 254)
        if f"{FIRST_OCTETS}.{octet}." in in_use or octet in _claimed_octets():
            continue
        try:
            fd = os.open(CLAIMS / tag, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w") as out:
            out.write(f"{os.getpid()} {octet}\n")
        return tag, octet
    raise RuntimeError(f"no free {FIRST_OCTETS}.X.0/24 subnet found")


def check_netns_support() -> None:
    """Fail (not skip) with a hint when this machine cannot build namespace hosts."""
    missing = [tool for tool in ("ip", "nsenter") if shutil.which(tool) is None]
    if missing or os.geteuid() != 0:
        pytest.fail(f"cannot build worker hosts (missing {missing or 'root'}); {HINT}")


@contextmanager
def host_network(count: int = 2) -> Iterator[HostNetwork]:
    """A bridge with *count* hosts; all of it removed on exit."""
    check_netns_support()
    reap_stale()
    tag, octet = _claim()
    network = HostNetwork(tag=tag, third_octet=octet)
    try:
        _ip("link", "add", network.bridge, "type", "bridge")
        _ip("addr", "add", f"{network.gateway}/24", "dev", network.bridge)
        _ip("link", "set", network.bridge, "up")
        for _ in range(count):
            network.add_host()
        yield network
    finally:
        network.close()


# -- pytest fixtures ------------------------------------------------------------------------


@dataclass
class HostLab:
    """The session's hosts plus the PostgreSQL they share (on the bridge address only)."""

    network: HostNetwork
    pg: PgCluster

    @property
    def hosts(self) -> list[Host]:
        return self.network.hosts


@pytest.fixture(scope="session")
def host_lab() -> Iterator[HostLab]:
    """Two namespace hosts and a private PostgreSQL on their bridge, for the whole session."""
    with host_network(2) as network, \
            running_cluster(listen=network.gateway, allow=network.subnet) as pg:
        yield HostLab(network=network, pg=pg)


@pytest.fixture
def hosts(host_lab: HostLab) -> Iterator[HostLab]:
    """The session's lab for one test: afterwards its processes are stopped, links back up."""
    before = len(host_lab.network.processes)
    try:
        yield host_lab
    finally:
        host_lab.network.stop_processes(since=before)
        host_lab.network.restore_all()


@pytest.fixture
def bridge_redis(host_lab: HostLab) -> Iterator[RedisServer]:
    """A fresh redis-server for one test, listening on the hosts' bridge address (and on the
    machine's loopback, which no host can reach: each namespace has a loopback of its own)."""
    with running_redis(bind=("127.0.0.1", host_lab.network.gateway)) as server:
        yield server
