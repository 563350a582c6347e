"""A resident local flwd: the private unix socket a ``flwd :serve`` listens on in the data
directory, and how ``flwd JOB`` finds it (stdlib only: the CLI imports this on every run).

The socket's name carries a fingerprint of the settings that decide what a run does (jobs
roots, runtime, policy, profiles, grace, runtime sockets), so a CLI only ever hands its run to
a server that would run it the same way; anything else runs in-process. Credential: the
socket is mode 0600 in a directory only its owner writes, and the server also checks each
connection's peer uid (SO_PEERCRED) against its own.
"""

from __future__ import annotations

import os
import socket
import stat
import struct
import zlib
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    from flwd.entrypoints.config import FlwdConfig

# AF_UNIX paths are limited to 108 bytes with the terminating NUL (sun_path)
_MAX_PATH_BYTES = 107
_CONNECT_TIMEOUT = 1.0
# variables that change which runtime a run reaches
_RUNTIME_VARIABLES = ("CONTAINER_HOST", "DOCKER_HOST", "XDG_RUNTIME_DIR")
DISABLE_VARIABLE = "FLWD_RESIDENT"


def socket_path(config: FlwdConfig, env: Mapping[str, str],
                profile_override: str | None = None) -> str:
    """Where a server with *config* (and ``:serve --profile``) listens, and a CLI looks."""
    facts = (
        tuple(os.path.abspath(os.path.expanduser(root)) for root in config.jobs_dirs),
        str(getattr(config.runtime, "value", config.runtime)),
        config.policy_file and os.path.abspath(os.path.expanduser(config.policy_file)),
        config.default_profile, config.env_profile, profile_override, config.cancel_grace,
        tuple(env.get(name, "") for name in _RUNTIME_VARIABLES),
    )
    data = repr(facts).encode()
    digest = f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}"
    return os.path.join(os.path.abspath(config.data_path), f"resident-{digest}.sock")


def find_resident(path: str, env: Mapping[str, str]) -> str | None:
    """*path* if a resident flwd answers there: a socket owned by this user, mode 0600 or
    stricter, accepting a connection. Anything else (none, stale, foreign, too open, disabled
    by ``FLWD_RESIDENT=0``) answers None, silently: the run then happens in-process."""
    if env.get(DISABLE_VARIABLE, "").strip().lower() in ("0", "no", "false", "off"):
        return None
    if len(os.fsencode(path)) > _MAX_PATH_BYTES:
        return None
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISSOCK(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None
    return path if answers(path) else None


def answers(path: str) -> bool:
    """Whether something listens on the unix socket *path* (a stale one refuses)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(_CONNECT_TIMEOUT)
    try:
        probe.connect(path)
    except OSError:
        return False
    finally:
        probe.close()
    return True


class PeerCheckedSocket(socket.socket):
    """A listening unix socket whose ``accept`` drops connections from any other user
    (asyncio's server accepts through this method). ``inode`` names the socket file it was
    bound to, so that a server removes only its own file at exit; ``path`` where it is
    reached (``getsockname()`` is the private name it was bound under)."""

    inode: int = 0
    path: str = ""

    def accept(self) -> tuple[socket.socket, object]:
        while True:
            conn, address = super().accept()
            if peer_uid(conn) == os.getuid():
                return conn, address
            conn.close()


def peer_uid(conn: socket.socket) -> int | None:
    """The uid of the process at the other end of a unix socket (Linux SO_PEERCRED)."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    try:
        raw = conn.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    except OSError:
        return None
    _pid, uid, _gid = struct.unpack("3i", raw)
    return int(uid)


def listen_resident(path: str) -> PeerCheckedSocket:
    """Listen on *path*, mode 0600, replacing a stale socket; raises OSError (the message
    says why) when another server answers there or the path cannot be bound."""
    if len(os.fsencode(path)) > _MAX_PATH_BYTES:
        raise OSError(f"the path {path} is longer than a unix socket allows")
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    if answers(path):
        raise OSError(f"another flwd :serve already listens on {path}")
    # bound under a private name first, made 0600, then renamed into place: never reachable
    # by others in between, whatever the umask, and a stale socket is replaced atomically
    staging = os.path.join(directory, f".resident-{os.getpid()}.sock")
    if len(os.fsencode(staging)) > _MAX_PATH_BYTES:
        staging = path
    sock = PeerCheckedSocket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        _unlink_quietly(staging)
        sock.bind(staging)
        os.chmod(staging, 0o600)
        if staging != path:
            os.replace(staging, path)
        sock.listen(128)
        sock.inode, sock.path = os.stat(path).st_ino, path
    except OSError:
        sock.close()
        _unlink_quietly(staging)
        raise
    return sock


def remove_resident(path: str, sock: PeerCheckedSocket) -> None:
    """Remove *path* if it is still *sock*'s (a later server may have replaced it)."""
    try:
        if os.stat(path).st_ino == sock.inode:
            os.unlink(path)
    except OSError:
        pass


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
