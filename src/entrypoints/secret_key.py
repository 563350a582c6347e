"""The cluster-mode secret key (SPEC sections 9 and 11): ``FLWD_SECRET_KEY``, or the file named
by ``FLWD_SECRET_KEY_FILE`` / ``secret_key_file``. Any text of at least 32 characters (surrounding
whitespace, such as the file's final newline, is not part of it). Like ssh with a private key,
the file must be a regular file owned by this user (or root) that neither group nor others may
read or write; anything else is ``config.invalid``. No message here ever holds the key."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Mapping

from flwd.domain.errors import ConfigInvalidError
from flwd.ports.sealing import MIN_KEY_CHARS, SecretKey

_MAX_KEY_FILE_BYTES = 64 * 1024


def resolve_secret_key(file_setting: str | None, env: Mapping[str, str]) -> SecretKey | None:
    """The key from ``FLWD_SECRET_KEY``, else ``FLWD_SECRET_KEY_FILE``, else the config file's
    ``secret_key_file`` (*file_setting*); None when none is set (single-host mode needs none)."""
    if env.get("FLWD_SECRET_KEY"):
        return checked_key(env["FLWD_SECRET_KEY"], "FLWD_SECRET_KEY", field="FLWD_SECRET_KEY")
    path = env.get("FLWD_SECRET_KEY_FILE") or file_setting
    if not path:
        return None
    return read_key_file(Path(os.path.expanduser(path)))


def checked_key(text: str, source: str, *, field: str = "secret_key_file") -> SecretKey:
    """*text* as a key, or ``config.invalid`` naming *source* (never the text) when short."""
    key = text.strip()
    if len(key) < MIN_KEY_CHARS:
        raise ConfigInvalidError(
            f"{source}: the secret key is shorter than {MIN_KEY_CHARS} characters "
            "(make one with: openssl rand -base64 32)", field=field)
    return SecretKey(text=key, source=source)


def read_key_file(path: Path) -> SecretKey:
    """The key in *path*, after the ownership and permission checks of ``_check_file``."""
    where = f"secret_key_file {path}"
    try:
        info = path.stat()
    except OSError as exc:
        raise ConfigInvalidError(f"{where}: cannot read it: {exc.strerror}",
                                 field="secret_key_file") from None
    _check_file(info, path)
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_KEY_FILE_BYTES + 1)
        text = data.decode()
    except (OSError, UnicodeDecodeError):
        raise ConfigInvalidError(f"{where}: cannot read it as UTF-8 text",
                                 field="secret_key_file") from None
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise ConfigInvalidError(f"{where}: larger than 64 KiB", field="secret_key_file")
    return checked_key(text, str(path))


def _check_file(info: os.stat_result, path: Path) -> None:
    where = f"secret_key_file {path}"
    if not stat.S_ISREG(info.st_mode):
        raise ConfigInvalidError(f"{where}: not a regular file", field="secret_key_file")
    if info.st_uid not in (os.geteuid(), 0):
        raise ConfigInvalidError(f"{where}: owned by uid {info.st_uid}, not by this user or root",
                                 field="secret_key_file")
    if info.st_mode & 0o077:
        raise ConfigInvalidError(
            f"{where}: permissions {stat.S_IMODE(info.st_mode):04o} are too open: group and "
            f"others must have no access (chmod 600 {path})",
            field="secret_key_file")
