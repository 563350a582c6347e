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
from typing import TYPE_CHECKING, Callable, Mapping

if TYPE_CHECKING:
    from flwd.entrypoints.config import FlwdConfig

# AF_UNIX paths are limited to 108 bytes with the terminating NUL (sun_path)
_MAX_PATH_BYTES = 107
_CONNECT_TIMEOUT = 1.0
# variables that change which runtime a run reaches
_RUNTIME_VARIABLES = ("CONTAINER_HOST", "DOCKER_HOST", "XDG_RUNTIME_DIR")
DISABLE_VARIABLE = "FLWD_RESIDENT"


def watched_files(config: FlwdConfig) -> tuple[str, ...]:
    """Files a server reads once, at its start: the policy file. A server that loaded an older
    version of one must not take a run (a tightened or a broken policy would not apply)."""
    return (os.path.abspath(os.path.expanduser(config.policy_file)),) if config.policy_file else ()


def _identity(path: str) -> str:
    """``path<TAB>inode:size:mtime``, or ``path<TAB>-`` when it cannot be read."""
    try:
        info = os.stat(path)
    except OSError:
        return f"{path}\t-"
    return f"{path}\t{info.st_dev}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}"


def socket_path(config: FlwdConfig, env: Mapping[str, str],
                profile_override: str | None = None) -> str:
    """Where a server with *config* (and ``:serve --profile``) listens, and a CLI looks."""
    facts = (
        tuple(os.path.abspath(os.path.expanduser(root)) for root in config.jobs_dirs),
        str(getattr(config.runtime, "value", config.runtime)),
        tuple(_identity(path) for path in watched_files(config)),
        config.default_profile, config.env_profile, profile_override, config.cancel_grace,
        tuple(env.get(name, "") for name in _RUNTIME_VARIABLES),
    )
    data = repr(facts).encode()
    digest = f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}"
    return os.path.join(os.path.abspath(config.data_path), f"resident-{digest}.sock")


def handoff_path(path: str) -> str:
    """Where the server whose API socket is *path* takes whole ``flwd JOB`` command lines
    (``cli.handoff``): beside it, same fingerprint."""
    return path.removesuffix(".sock") + ".run.sock"


# Variables whose values are secrets stay out of the memo's key (cluster and remote settings
# never hand off anyway; FLWD_SERVER and FLWD_STORE_URL, which decide that, are in it).
_SECRET_VARIABLES = ("FLWD_SECRET_KEY", "FLWD_TOKEN", "FLWD_TOKENS")


def recall(env: Mapping[str, str], options: Mapping[str, object]) -> str | None:
    """The hand-off socket a previous ``flwd JOB`` found for the same global *options*,
    working directory, configuration file (same path, inode, size and mtime), ``FLWD_*`` and
    runtime variables, without reading the configuration (``remember``); None when there is
    no memo of this user's alone."""
    directory = _memo_dir(env)
    if directory is None or not _private(directory, stat.S_ISDIR):
        return None
    path = os.path.join(directory, _memo_key(env, options))
    if not _private(path, stat.S_ISREG):
        return None
    try:
        with open(path, encoding="utf-8") as memo:
            handoff, *watched = memo.read(8192).strip().split("\n")
    except OSError:
        return None
    if any(_identity(line.rpartition("\t")[0]) != line for line in watched):
        return None  # a watched file changed since: that server runs with its old version
    return handoff or None


def remember(env: Mapping[str, str], options: Mapping[str, object], handoff: str,
             watched: tuple[str, ...] = ()) -> None:
    """Note *handoff* for ``recall``, valid while each *watched* file stays as it is now; best
    effort (a memo that cannot be written is none)."""
    directory = _memo_dir(env)
    if directory is None:
        return
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        if not _private(directory, stat.S_ISDIR):
            return
        path = os.path.join(directory, _memo_key(env, options))
        staging = f"{path}.{os.getpid()}"
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as memo:
            memo.write("\n".join([handoff, *map(_identity, watched)]))
        os.replace(staging, path)
    except OSError:
        return


def _memo_dir(env: Mapping[str, str]) -> str | None:
    if env.get("XDG_RUNTIME_DIR"):
        return os.path.join(env["XDG_RUNTIME_DIR"], "flwd")
    home = env.get("HOME")
    return os.path.join(home, ".cache", "flwd") if home else None


def _memo_key(env: Mapping[str, str], options: Mapping[str, object]) -> str:
    from flwd.entrypoints.config_paths import config_candidates

    facts: list[object] = [os.getcwd(), os.getuid(), sorted(options.items())]
    facts.extend(_identity(os.path.abspath(candidate)) for candidate in config_candidates(env))
    facts.append(sorted((name, value) for name, value in env.items()
                        if (name.startswith("FLWD_") and name not in _SECRET_VARIABLES)
                        or name in ("HOME", *_RUNTIME_VARIABLES)))
    data = repr(facts).encode()
    return f"handoff-{zlib.crc32(data):08x}{zlib.adler32(data):08x}"


def _private(path: str, kind: Callable[[int], bool], others: int = 0o022) -> bool:
    """*path* is a *kind* (not a link), this user's, with none of the *others* mode bits
    (default: writable by nobody else)."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return kind(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & others


def disabled(env: Mapping[str, str]) -> bool:
    """``FLWD_RESIDENT=0`` (or no, false, off): every command runs in-process."""
    return env.get(DISABLE_VARIABLE, "").strip().lower() in ("0", "no", "false", "off")


def find_resident(path: str, env: Mapping[str, str]) -> str | None:
    """*path* if a resident flwd answers there: a socket owned by this user, mode 0600 or
    stricter, accepting a connection. Anything else (none, stale, foreign, too open, disabled
    by ``FLWD_RESIDENT=0``) answers None, silently: the run then happens in-process."""
    if disabled(env):
        return None
    if len(os.fsencode(path)) > _MAX_PATH_BYTES:
        return None
    return path if owner_only_socket(path) and answers(path) else None


def owner_only_socket(path: str) -> bool:
    """*path* is a unix socket of this user's that no one else may read or write."""
    return _private(path, stat.S_ISSOCK, 0o077)


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
