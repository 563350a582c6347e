"""A private Redis for tests: Debian's redis-server on loopback, a random free port, its data
in a temp dir, run as user ``redis`` when root (else as the current user), stopped after.

Never touches the system's Redis. ``RedisServer.keys()`` and ``dump()`` read what the broker
holds (``redis-cli --scan`` and ``DUMP``), for tests that look for secrets there.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from tests.integration.pg_support import free_port

REDIS_HINT = "install Debian's redis-server (.ci/setup-runtimes.sh PACKAGES)"
_USER = "redis"


@dataclass
class RedisServer:
    """One redis-server, started with :meth:`start`, stopped with :meth:`stop` (by its pid)."""

    directory: Path
    port: int
    # where it listens: loopback (always first: the helpers below read through it), plus e.g.
    # a test host's veth address (then protected mode, which admits only loopback clients
    # without a password, is off)
    bind: tuple[str, ...] = ("127.0.0.1",)

    @classmethod
    def create(cls, bind: tuple[str, ...] = ("127.0.0.1",)) -> RedisServer:
        if shutil.which("redis-server") is None:
            pytest.fail(f"no redis-server on PATH; {REDIS_HINT}")
        directory = Path(tempfile.mkdtemp(prefix="flwd-redis-"))
        if os.geteuid() == 0:
            user = _user()
            os.chown(directory, user.pw_uid, user.pw_gid)
        return cls(directory=directory, port=free_port(), bind=bind)

    @property
    def url(self) -> str:
        return self.url_for(0)

    @property
    def pidfile(self) -> Path:
        return self.directory / "redis.pid"

    def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", " ".join(self.bind),
                "--daemonize", "yes", "--pidfile", str(self.pidfile), "--dir", str(self.directory),
                "--logfile", str(self.directory / "redis.log"), "--save", "", "--appendonly", "no",
                "--protected-mode", "yes" if self.bind == ("127.0.0.1",) else "no"]
        if os.geteuid() == 0:
            argv = ["su", _USER, "-s", "/bin/sh", "-c", shlex.join(argv)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd="/")
        if done.returncode != 0:
            pytest.fail(f"redis-server failed: {done.stderr or done.stdout}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.pidfile.exists() and self.cli("PING").strip() == "PONG":
                return
            time.sleep(0.1)
        pytest.fail(f"redis-server on port {self.port} did not answer: {self._log_tail()}")

    def stop(self) -> None:
        """Stop it by the pid it wrote (never by name), and wait until it is gone."""
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def cli(self, *args: str, raw: bool = False) -> str:
        done = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.port),
                               *(["--no-raw"] if raw else []), *args],
                              capture_output=True, text=True, timeout=30, check=False)
        return done.stdout

    def url_for(self, db: int, host: str = "127.0.0.1") -> str:
        """The URL of database *db*, reached at *host* (one of the ``bind`` addresses)."""
        return f"redis://{host}:{self.port}/{db}"

    def keys(self, db: int = 0) -> list[str]:
        """Every key of database *db* (``redis-cli --scan``)."""
        return [line for line in self.cli("-n", str(db), "--scan").splitlines() if line]

    def dump(self, db: int = 0) -> bytes:
        """``DUMP`` of every key of database *db*, and every list's and hash's contents."""
        import redis  # redis-py: installed with celery[redis]

        client = redis.Redis(host="127.0.0.1", port=self.port, db=db)
        try:
            chunks = []
            for key in client.scan_iter():
                chunks += [key, client.dump(key) or b""]
                kind = client.type(key)
                if kind == b"list":
                    chunks += client.lrange(key, 0, -1)
                elif kind == b"hash":
                    for field, value in client.hgetall(key).items():
                        chunks += [field, value]
                elif kind == b"zset":
                    chunks += client.zrange(key, 0, -1)
            return b"\n".join(chunks)
        finally:
            client.close()

    def rdb(self) -> bytes:
        """The bytes of an RDB snapshot written now (``SAVE``; none is written otherwise)."""
        self.cli("SAVE")
        path = self.directory / "dump.rdb"
        return path.read_bytes() if path.exists() else b""

    def _log_tail(self) -> str:
        log = self.directory / "redis.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else ""


def _user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(_USER)
    except KeyError:
        pytest.fail(f"no user {_USER!r}; {REDIS_HINT}")


@contextmanager
def running_redis(bind: tuple[str, ...] = ("127.0.0.1",)) -> Iterator[RedisServer]:
    """A new Redis listening on *bind*, started; stopped and deleted on exit."""
    server = RedisServer.create(bind)
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A private Redis for the whole session (started once, stopped at the end)."""
    with running_redis() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The session's Redis, emptied after the test."""
    yield redis_server.url
    redis_server.cli("FLUSHALL")
