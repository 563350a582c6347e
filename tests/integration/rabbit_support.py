"""A private RabbitMQ for tests: Debian's rabbitmq-server as a node of its own, on a random free
port, its data, logs, config and Erlang cookie in a temp dir, run as user ``rabbitmq`` when
root (else as the current user), stopped after.

Never touches the system's node: its own node name, AMQP port, distribution port and epmd
(``ERL_EPMD_PORT``, started here and stopped by its pid), so other engineers' nodes never
collide. Clients log in as a user of its own (``default_user``), from loopback or the *bind*
addresses (a test host's veth address). ``RabbitNode.ctl`` runs ``rabbitmqctl`` against it.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping

import pytest

from tests.integration.pg_support import free_port

RABBIT_HINT = "install Debian's rabbitmq-server (.ci/setup-runtimes.sh PACKAGES)"
BIN = Path("/usr/lib/rabbitmq/bin")
_USER = "rabbitmq"
START_SECONDS = 90.0


@dataclass
class RabbitNode:
    """One RabbitMQ node, started with :meth:`start`, stopped with :meth:`stop` (by its pid).

    *settings* are extra ``rabbitmq.conf`` lines (``consumer_timeout = 3000``); *advanced* the
    ``rabbit`` application's settings that only ``advanced.config`` takes (Erlang terms).
    """

    directory: Path
    port: int
    bind: tuple[str, ...] = ("127.0.0.1",)
    settings: Mapping[str, str] = field(default_factory=dict)
    advanced: Mapping[str, str] = field(default_factory=dict)
    nodename: str = field(default_factory=lambda: f"flwd{uuid.uuid4().hex[:10]}@localhost")
    dist_port: int = field(default_factory=free_port)
    epmd_port: int = field(default_factory=free_port)
    user: str = "flwd"
    password: str = field(default_factory=lambda: "pw-" + secrets.token_hex(8))
    _server: subprocess.Popen[bytes] | None = None
    _epmd: subprocess.Popen[bytes] | None = None

    @classmethod
    def create(cls, bind: tuple[str, ...] = ("127.0.0.1",), settings: Mapping[str, str] = {},
               advanced: Mapping[str, str] = {}) -> RabbitNode:
        if not (BIN / "rabbitmq-server").exists() or shutil.which("epmd") is None:
            pytest.fail(f"no {BIN}/rabbitmq-server or epmd; {RABBIT_HINT}")
        directory = Path(tempfile.mkdtemp(prefix="flwd-rabbit-"))
        node = cls(directory=directory, port=free_port(), bind=bind, settings=dict(settings),
                   advanced=dict(advanced))
        node._write_files()
        if os.geteuid() == 0:
            user = _user()
            for path in (directory, *directory.rglob("*")):
                os.chown(path, user.pw_uid, user.pw_gid)
        return node

    @property
    def url(self) -> str:
        return self.url_for()

    def url_for(self, host: str = "127.0.0.1", vhost: str = "") -> str:
        """The broker's ``amqp://`` URL at *host* (one of the ``bind`` addresses), for *vhost*
        (default ``/``)."""
        return f"amqp://{self.user}:{self.password}@{host}:{self.port}/{vhost}"

    @property
    def data_dir(self) -> Path:
        """Where the node keeps its state and messages (``RABBITMQ_MNESIA_BASE``)."""
        return self.directory / "mnesia"

    def start(self) -> None:
        """Start epmd and the node, and wait (bounded) until a client can log in."""
        if self._epmd is None or self._epmd.poll() is not None:
            self._epmd = self._spawn(["epmd", "-port", str(self.epmd_port),
                                      "-address", "127.0.0.1"], "epmd.log")
        self._server = self._spawn([str(BIN / "rabbitmq-server")], "server.out")
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self._server.poll() is not None:
                break
            if self.answers():
                return
            time.sleep(0.5)
        pytest.fail(f"rabbitmq node {self.nodename} did not start: {self.log_tail()}")

    def answers(self, url: str | None = None, timeout: float = 2.0) -> bool:
        """Whether the broker takes an AMQP login (at *url*, default :attr:`url`) now."""
        import kombu

        connection = kombu.Connection(url or self.url, connect_timeout=timeout)
        try:
            connection.ensure_connection(max_retries=1, timeout=timeout)
            return True
        except Exception:  # noqa: BLE001 - not up yet, in whichever way
            return False
        finally:
            connection.release()

    def stop(self) -> None:
        """Stop the node (SIGTERM to its start script, which stops it gracefully), waiting
        until it is gone; its epmd stays for a restart (``remove`` stops it)."""
        if self._server is not None:
            _terminate(self._server, 60)
            self._server = None

    def remove(self) -> None:
        self.stop()
        if self._epmd is not None:
            _terminate(self._epmd, 10)
            self._epmd = None
        shutil.rmtree(self.directory, ignore_errors=True)

    def ctl(self, *args: str, timeout: float = 60) -> str:
        """``rabbitmqctl ARGS`` against this node (its cookie, epmd and name); its stdout."""
        done = subprocess.run([str(BIN / "rabbitmqctl"), "-q", *args], env=self._env(),
                              capture_output=True, text=True, timeout=timeout, cwd="/",
                              **_as_owner())
        if done.returncode != 0:
            raise AssertionError(f"rabbitmqctl {' '.join(args)}: {done.stderr or done.stdout}")
        return done.stdout

    def new_vhost(self) -> str:
        """A fresh virtual host the user may use; its URL."""
        name = f"t{uuid.uuid4().hex[:12]}"
        self.ctl("add_vhost", name)
        self.ctl("set_permissions", "-p", name, self.user, ".*", ".*", ".*")
        return self.url_for(vhost=name)

    def depths(self, vhost: str = "/") -> dict[str, int]:
        """Messages per queue of *vhost*, ready and unacknowledged, as ``rabbitmqctl`` lists."""
        rows = self.ctl("list_queues", "-p", vhost, "--no-table-headers", "name", "messages")
        return {name: int(count) for name, count in
                (line.split("\t") for line in rows.splitlines() if "\t" in line)}

    def files_bytes(self) -> bytes:
        """Every file the node keeps under its data dir, concatenated (secrets search)."""
        return b"".join(path.read_bytes() for path in sorted(self.data_dir.rglob("*"))
                        if path.is_file())

    def log_tail(self) -> str:
        logs = [*sorted((self.directory / "log").glob("*.log")), self.directory / "server.out"]
        return "\n".join(p.read_text(errors="replace")[-1500:] for p in logs if p.exists())

    def _write_files(self) -> None:
        lines = [f"listeners.tcp.{n} = {address}:{self.port}"
                 for n, address in enumerate(self.bind, 1)]
        lines += [f"default_user = {self.user}", f"default_pass = {self.password}",
                  "loopback_users = none", "log.file.level = warning",
                  *(f"{key} = {value}" for key, value in self.settings.items())]
        (self.directory / "rabbitmq.conf").write_text("\n".join(lines) + "\n")
        terms = ", ".join(f"{{{key}, {value}}}" for key, value in self.advanced.items())
        (self.directory / "advanced.config").write_text(f"[{{rabbit, [{terms}]}}].\n")
        (self.directory / "enabled_plugins").write_text("[].\n")
        (self.directory / "rabbitmq-env.conf").write_text("")
        cookie = self.directory / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(20))
        cookie.chmod(0o400)

    def _env(self) -> dict[str, str]:
        d = self.directory
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(d),
                "LANG": "C.UTF-8", "RABBITMQ_NODENAME": self.nodename,
                "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(self.dist_port),
                "ERL_EPMD_PORT": str(self.epmd_port), "ERL_EPMD_ADDRESS": "127.0.0.1",
                "RABBITMQ_MNESIA_BASE": str(d / "mnesia"), "RABBITMQ_LOG_BASE": str(d / "log"),
                "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
                "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
                "RABBITMQ_PID_FILE": str(d / "rabbitmq.pid"),
                # the distribution port on loopback only: rabbitmqctl is the only peer
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}"}

    def _spawn(self, argv: list[str], log_name: str) -> subprocess.Popen[bytes]:
        with open(self.directory / log_name, "ab") as sink:
            return subprocess.Popen(argv, env=self._env(), cwd=self.directory,
                                    stdin=subprocess.DEVNULL, stdout=sink,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    **_as_owner())


def _as_owner() -> dict[str, str]:
    """Popen's ``user``/``group`` for the node's user when root (it refuses nothing, but its
    files then belong to the package's user); nothing otherwise."""
    return {"user": _USER, "group": _USER} if os.geteuid() == 0 else {}


def _terminate(process: subprocess.Popen[bytes], seconds: float) -> None:
    """SIGTERM to *process*, then SIGKILL to its own process group (started with a session of
    its own: its Erlang VM) when it has not ended within *seconds*."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def _user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(_USER)
    except KeyError:
        pytest.fail(f"no user {_USER!r}; {RABBIT_HINT}")


@contextmanager
def running_rabbit(bind: tuple[str, ...] = ("127.0.0.1",), settings: Mapping[str, str] = {},
                   advanced: Mapping[str, str] = {}) -> Iterator[RabbitNode]:
    """A new node listening on *bind*, started; stopped and deleted on exit."""
    node = RabbitNode.create(bind, settings, advanced)
    try:
        node.start()
        yield node
    finally:
        node.remove()


@pytest.fixture(scope="session")
def rabbit_node() -> Iterator[RabbitNode]:
    """A private RabbitMQ for the whole session (started once, stopped at the end)."""
    with running_rabbit() as node:
        yield node


@pytest.fixture
def rabbit_url(rabbit_node: RabbitNode) -> Iterator[str]:
    """A fresh virtual host on the session's node, deleted after the test."""
    url = rabbit_node.new_vhost()
    yield url
    rabbit_node.ctl("delete_vhost", url.rsplit("/", 1)[1])


@pytest.fixture
def broker_url(request: pytest.FixtureRequest) -> str:
    """A fresh queue_url on the broker a test is parametrized with (indirectly): ``"redis"``
    (the default: redis_support.py's ``redis_url``) or ``"rabbit"`` (``rabbit_url``)."""
    kind = getattr(request, "param", "redis")
    return str(request.getfixturevalue("rabbit_url" if kind == "rabbit" else "redis_url"))
