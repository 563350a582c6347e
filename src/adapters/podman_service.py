"""A private `podman system service` that flwd starts for itself when no Podman service listens."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Mapping
from urllib.parse import urlparse

from flwd.domain.errors import RuntimeUnavailableError

MAX_SOCKET_PATH = 100  # AF_UNIX paths must stay under 108 bytes, keep a margin
CRUN_HINT = (
    'the OCI runtime crun cannot run containers on this host; set runtime = "runc" under '
    "[engine] in containers.conf (/etc/containers/ or ~/.config/containers/)"
)


def ping(url: str, timeout: float) -> dict[str, str]:
    """``GET /_ping`` over a raw socket; the answer's headers (lower-case names) if it is 200.

    Much cheaper than building an SDK client: detection pings every candidate first.
    Raises ``OSError`` when nothing answers, or answers something else than 200.
    """
    parsed = urlparse(url)
    if parsed.scheme in ("unix", "http+unix"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        address: str | tuple[str, int] = parsed.path
    elif parsed.scheme in ("tcp", "http"):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        address = (parsed.hostname or "localhost", parsed.port or 2375)
    else:
        raise OSError(f"cannot ping a {parsed.scheme or 'schemeless'} address")
    with sock:
        sock.settimeout(timeout)
        sock.connect(address)
        sock.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 8192:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
    status, *lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    if not status.startswith("HTTP/1.") or status.split(" ")[1:2] != ["200"]:
        raise OSError(f"unexpected answer to /_ping: {status or 'nothing'}")
    headers = (line.partition(":") for line in lines)
    return {name.strip().lower(): value.strip() for name, _, value in headers}


def _socket_dir(env: Mapping[str, str]) -> Path:
    for base in (env.get("XDG_RUNTIME_DIR", ""), tempfile.gettempdir(), "/tmp"):
        if base and os.access(base, os.W_OK | os.X_OK) and len(base) < MAX_SOCKET_PATH - 40:
            return Path(tempfile.mkdtemp(prefix="flwd-podman-", dir=base))  # mode 0700
    raise RuntimeUnavailableError("no short, writable directory for a private Podman socket")


class PrivatePodmanService:
    """Runs ``podman system service --time=0`` on a private socket until ``stop()``/exit.

    The OCI runtime comes from containers.conf as usual (this host needs ``runtime = "runc"``).
    """

    def __init__(
        self, podman: str = "podman", *, env: Mapping[str, str] | None = None,
        startup_timeout: float = 5.0,
    ) -> None:
        self._podman = podman
        self._env = dict(os.environ if env is None else env)
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None
        self.url = ""

    def start(self) -> str:
        """Start the service and wait until it answers; return its ``unix://`` URL."""
        binary = shutil.which(self._podman, path=self._env.get("PATH"))
        if binary is None:
            raise RuntimeUnavailableError(f"{self._podman} is not installed (not on PATH)")
        self._dir = _socket_dir(self._env)
        self.url = f"unix://{self._dir}/podman.sock"
        log = open(self._dir / "service.log", "wb")  # noqa: SIM115 - handed to the child
        with log:
            self._process = subprocess.Popen(
                [binary, "system", "service", "--time=0", self.url],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=_local_env(self._env),
                start_new_session=True,  # its own process group: stop() signals only it
            )
        atexit.register(self.stop)
        try:
            self._wait_until_up()
        except RuntimeUnavailableError:
            self.stop()
            raise
        return self.url

    def _wait_until_up(self) -> None:
        assert self._process is not None and self._dir is not None
        deadline = time.monotonic() + self._startup_timeout
        while True:
            try:
                ping(self.url, timeout=0.5)
                return
            except OSError as exc:
                reason = str(exc)
            if self._process.poll() is not None:
                reason = f"exited with {self._process.returncode}: {self._log_tail()}"
                break
            if time.monotonic() > deadline:
                reason = f"no answer within {self._startup_timeout:g}s ({reason})"
                break
            time.sleep(0.05)
        raise RuntimeUnavailableError(
            f"private Podman service on {self.url} failed to start: {reason}",
            runtime="podman", socket=self.url,
        )

    def _log_tail(self) -> str:
        assert self._dir is not None
        try:
            text = (self._dir / "service.log").read_text(errors="replace").strip()
        except OSError:
            return "no log"
        tail = " | ".join(text.splitlines()[-3:]) or "no output"
        return f"{tail} ({CRUN_HINT})" if "crun" in text else tail

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        """SIGTERM the service's process group, SIGKILL after 5 s; remove the socket dir."""
        process, self._process = self._process, None
        if process is not None:
            atexit.unregister(self.stop)
            _terminate(process)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


def _local_env(env: Mapping[str, str]) -> dict[str, str]:
    """*env* without the variables that turn ``podman`` into a remote client, which has
    no ``system service`` of its own (detection never gets here with CONTAINER_HOST set, but
    a containers.conf connection or CONTAINER_CONNECTION may still say remote)."""
    remote = ("CONTAINER_HOST", "CONTAINER_CONNECTION", "CONTAINER_SSHKEY")
    return {key: value for key, value in env.items() if key not in remote}


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue
