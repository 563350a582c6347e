"""A private PostgreSQL cluster for tests: initdb in a temp dir, loopback port, stopped after.

Never touches the system's default cluster. As root the server runs as user ``postgres``
(it refuses root), owning its directory; otherwise as the current user.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

PG_HINT = "install Debian's postgresql-15 (.ci/setup-runtimes.sh PACKAGES)"


def pg_bindir() -> Path:
    """The newest /usr/lib/postgresql/N/bin with initdb and pg_ctl."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if not found:
        pytest.fail(f"no PostgreSQL server binaries under /usr/lib/postgresql; {PG_HINT}")
    return found[-1].parent


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class PgCluster:
    """One initdb'd data directory, started with :meth:`start`, stopped with :meth:`stop`."""

    directory: Path
    port: int
    bindir: Path
    host: str = "127.0.0.1"

    @classmethod
    def create(cls, listen: str = "127.0.0.1", allow: str | None = None) -> PgCluster:
        """initdb a new cluster that will listen on *listen* only.

        *allow* (a CIDR such as ``10.231.7.0/24``) adds a trust line to pg_hba.conf for clients
        on that subnet; initdb's own lines admit loopback only.
        """
        directory = Path(tempfile.mkdtemp(prefix="flwd-pg-"))
        cluster = cls(directory=directory, port=free_port(listen), bindir=pg_bindir(),
                      host=listen)
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres", "postgres")
        cluster._as_owner(["initdb", "-D", str(directory / "data"), "-A", "trust", "-U",
                           "postgres", "--no-sync", "-E", "UTF8"])
        if allow is not None:
            with open(directory / "data" / "pg_hba.conf", "a", encoding="utf-8") as hba:
                hba.write(f"host all all {allow} trust\n")
        return cluster

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.directory} -c listen_addresses={self.host}"
                   " -c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._as_owner(["pg_ctl", "-D", str(self.directory / "data"), "-o", options,
                        "-l", str(self.directory / "server.log"), "-w", "-t", "60", "start"])

    def stop(self) -> None:
        self._as_owner(["pg_ctl", "-D", str(self.directory / "data"), "-m", "fast", "-w",
                        "stop"], check=False)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def new_database(self) -> str:
        """A fresh, empty database's URL."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        self.sql(f"CREATE DATABASE {name}")
        return self.url(name)

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run one statement with psql; its unaligned output."""
        done = subprocess.run(
            [str(self.bindir / "psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-d", self.url(database), "-c", statement],
            capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise AssertionError(f"psql {statement!r}: {done.stderr}")
        return done.stdout

    def _as_owner(self, argv: list[str], check: bool = True) -> None:
        argv = [str(self.bindir / argv[0]), *argv[1:]]
        if os.geteuid() == 0:
            argv = ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(argv)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd="/")
        if check and done.returncode != 0:
            log = self.directory / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            pytest.fail(f"{' '.join(argv)} failed: {done.stderr or done.stdout}\n{tail}")


@contextmanager
def running_cluster(listen: str = "127.0.0.1", allow: str | None = None) -> Iterator[PgCluster]:
    """A new cluster listening on *listen* (see :meth:`PgCluster.create`); deleted on exit."""
    cluster = PgCluster.create(listen, allow)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A private PostgreSQL for the whole session (started once, stopped at the end)."""
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> Iterator[str]:
    """An empty database on the session's cluster, dropped after the test."""
    url = pg_cluster.new_database()
    yield url
    pg_cluster.sql(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")
