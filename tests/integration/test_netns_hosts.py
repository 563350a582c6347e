"""The namespace hosts themselves: services reachable over the veth only, and cut-off works."""

from __future__ import annotations

import socket
import subprocess
import sys
from contextlib import suppress
from pathlib import Path

from tests.integration.netns_hosts import Host, HostLab, host_network
from tests.integration.redis_support import RedisServer

PROBE = """\
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
try:
    socket.create_connection((host, port), timeout=float(sys.argv[3])).close()
except OSError as exc:
    print(type(exc).__name__, exc)
    sys.exit(1)
"""
PG_QUERY = "import psycopg, sys; print(psycopg.connect(sys.argv[1], connect_timeout=5)" \
    ".execute('select 41 + 1').fetchone()[0])"


def _tcp_from(host: Host, address: str, port: int, timeout: float = 3) -> bool:
    done = host.run([sys.executable, "-c", PROBE, address, str(port), str(timeout)],
                    timeout=timeout + 20)
    return done.returncode == 0


def _tcp_here(address: str, port: int) -> bool:
    with suppress(OSError), socket.create_connection((address, port), timeout=3):
        return True
    return False


def test_host_reaches_postgres_and_redis_over_its_veth_when_linked(
        hosts: HostLab, bridge_redis: RedisServer) -> None:
    host = hosts.hosts[0]
    pg = host.run([sys.executable, "-c", PG_QUERY, hosts.pg.url()], timeout=60)
    assert pg.stdout.strip() == "42", pg.stderr
    redis = host.run(["redis-cli", "-h", hosts.network.gateway, "-p", str(bridge_redis.port),
                      "PING"])
    assert redis.stdout.strip() == "PONG", redis.stderr


def test_host_reaches_neither_service_when_its_veth_is_down(
        hosts: HostLab, bridge_redis: RedisServer) -> None:
    host, other = hosts.hosts[:2]
    host.cut()
    assert host.is_cut()
    assert not _tcp_from(host, hosts.pg.host, hosts.pg.port)
    assert not _tcp_from(host, hosts.network.gateway, bridge_redis.port)
    assert _tcp_from(other, hosts.pg.host, hosts.pg.port)  # only the cut host is off
    host.restore()
    assert not host.is_cut()
    assert _tcp_from(host, hosts.pg.host, hosts.pg.port, timeout=10)
    assert _tcp_from(host, hosts.network.gateway, bridge_redis.port, timeout=10)


def test_hosts_reach_services_on_the_bridge_only_when_started_for_them(
        hosts: HostLab, bridge_redis: RedisServer) -> None:
    host = hosts.hosts[0]
    assert not _tcp_here("127.0.0.1", hosts.pg.port)  # PostgreSQL: the bridge address alone
    for port in (hosts.pg.port, bridge_redis.port):
        assert _tcp_here(hosts.network.gateway, port)
        assert not _tcp_from(host, "127.0.0.1", port, timeout=1)  # the host's own loopback


def test_host_process_sees_host_address_and_machine_sockets_when_spawned(
        hosts: HostLab, tmp_path: Path) -> None:
    host = hosts.hosts[1]
    log = tmp_path / "spawn.log"
    process = host.spawn(["sh", "-c", "ip -4 -o addr show dev eth0; test -S \"$SOCK\" && "
                          "echo socket-visible; echo hostname=$(hostname)"], log=log,
                         env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                              "SOCK": "/var/run/docker.sock"})
    assert process.wait(timeout=30) == 0
    text = log.read_text()
    assert f"inet {host.address}/24" in text
    assert "socket-visible" in text
    assert f"hostname={host.name}" in text


def test_processes_and_namespaces_are_removed_when_the_network_closes_after_a_failure(
        tmp_path: Path) -> None:
    names: list[str] = []
    try:
        with host_network(1) as network:
            host = network.hosts[0]
            names = [host.name, host.link, network.bridge]
            sleeper = host.spawn(["sleep", "300"], log=tmp_path / "sleep.log")
            raise KeyError("a failing test")
    except KeyError:
        pass
    assert sleeper.poll() is not None
    assert not Path(f"/run/netns/{names[0]}").exists()
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True,
                           check=True).stdout
    assert names[1] not in links and names[2] not in links
