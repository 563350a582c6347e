"""Secret files on tmpfs: one private directory per run, written in place and removed after."""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Mapping, Sequence

from flwd.domain.errors import SecretMaterialisationError
from flwd.ports.secrets import SecretFile

_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_BASE_MODE = 0o711  # others may traverse to a run dir they are given, never list runs
_RUN_MODE = 0o700


def check_safe_segment(value: str, what: str) -> None:
    """Refuse anything but a plain file name (``[A-Za-z0-9_.-]``, not ``.``/``..``)."""
    if not isinstance(value, str) or not _SAFE_SEGMENT.fullmatch(value) or value in {".", ".."}:
        raise SecretMaterialisationError(f"unsafe {what}: {value!r}", value=repr(value))


def default_base_dir(environ: Mapping[str, str] | None = None, shm: str = "/dev/shm") -> Path:
    """``$XDG_RUNTIME_DIR/flwd-secrets``, else ``<shm>/flwd-secrets-<uid>``, else temp."""
    runtime_dir = (os.environ if environ is None else environ).get("XDG_RUNTIME_DIR")
    if runtime_dir and os.path.isdir(runtime_dir):
        return Path(runtime_dir) / "flwd-secrets"
    if os.path.isdir(shm):
        return Path(shm) / f"flwd-secrets-{os.getuid()}"
    return Path(tempfile.gettempdir()) / f"flwd-secrets-{os.getuid()}"


class FilesystemSecretWriter:
    """``SecretWriter`` writing ``<base>/<run_id>/<name>`` (dir 0700, files 0400).

    Files are created with ``O_EXCL|O_NOFOLLOW`` and written in place, never staged
    elsewhere. With *owner* differing from our own ids (needs root), the directory and files
    are handed to that uid/gid so container root can read them under a uid mapping.
    """

    def __init__(self, base_dir: str | Path | None = None) -> None:
        self._base_dir = Path(base_dir) if base_dir is not None else None

    @property
    def base_dir(self) -> Path:
        if self._base_dir is None:
            self._base_dir = default_base_dir()
        return self._base_dir

    def materialise(
        self, run_id: str, files: Sequence[SecretFile], owner: tuple[int, int] | None = None
    ) -> str:
        check_safe_segment(run_id, "run id")
        names = [secret.name for secret in files]
        for name in names:
            check_safe_segment(name, "secret name")
        if len(set(names)) != len(names):
            raise SecretMaterialisationError("a secret file name is given twice", run_id=run_id)
        run_dir = self._ensure_base() / run_id
        try:
            os.mkdir(run_dir, _RUN_MODE)
        except FileExistsError as exc:
            raise SecretMaterialisationError(
                f"secrets directory for run {run_id} already exists", run_id=run_id
            ) from exc
        except OSError as exc:
            raise _error(run_id, f"cannot create {run_dir}", exc) from exc
        try:
            os.chmod(run_dir, _RUN_MODE)  # whatever the umask
            for secret in files:
                _write(run_dir / secret.name, secret, owner)
            if _foreign(owner):
                assert owner is not None
                os.chown(run_dir, *owner)
        except BaseException as exc:
            _remove_tree(run_dir)
            if isinstance(exc, OSError):
                raise _error(run_id, _explain(exc, owner), exc) from exc
            raise
        return str(run_dir)

    def remove(self, run_id: str) -> None:
        check_safe_segment(run_id, "run id")
        try:
            _remove_tree(self.base_dir / run_id)
        except OSError as exc:
            raise _error(run_id, "cannot remove the secrets directory", exc) from exc

    def recover(self, run_id: str) -> tuple[str, ...]:
        """The values still on disk for *run_id* (to keep redacting a reattached run)."""
        check_safe_segment(run_id, "run id")
        values = []
        try:
            entries = list(os.scandir(self.base_dir / run_id))
        except FileNotFoundError:
            return ()
        for entry in entries:
            if entry.is_file(follow_symlinks=False):
                with open(entry.path, "rb") as handle:
                    values.append(handle.read().decode("utf-8", errors="replace"))
        return tuple(values)

    def leftovers(self) -> list[str]:
        """Run ids whose secrets directory still exists (after a crash), sorted."""
        try:
            entries = list(os.scandir(self.base_dir))
        except FileNotFoundError:
            return []
        return sorted(e.name for e in entries if e.is_dir(follow_symlinks=False))

    def _ensure_base(self) -> Path:
        """Create the base (0711) or check that the existing one is ours and not a link."""
        base = self.base_dir
        try:
            base.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                os.mkdir(base, _BASE_MODE)
            except FileExistsError:
                pass
            info = os.lstat(base)
        except OSError as exc:
            raise SecretMaterialisationError(
                f"cannot prepare the secrets directory {base}: {exc}", path=str(base)
            ) from exc
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            raise SecretMaterialisationError(
                f"{base} is not a directory owned by uid {os.getuid()}; refusing to use it",
                path=str(base),
            )
        if stat.S_IMODE(info.st_mode) != _BASE_MODE:
            try:
                os.chmod(base, _BASE_MODE)
            except OSError as exc:
                raise SecretMaterialisationError(
                    f"cannot restrict {base} to mode {_BASE_MODE:o}: {exc}", path=str(base)
                ) from exc
        return base


def _write(path: Path, secret: SecretFile, owner: tuple[int, int] | None) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o400)
    try:
        os.fchmod(fd, secret.mode & 0o700)  # never group or other bits
        if _foreign(owner):
            assert owner is not None
            os.fchown(fd, *owner)
        view = memoryview(secret.value)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _foreign(owner: tuple[int, int] | None) -> bool:
    return owner is not None and tuple(owner) != (os.getuid(), os.getgid())


def _remove_tree(path: Path) -> None:
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        pass


def _explain(exc: OSError, owner: tuple[int, int] | None) -> str:
    if isinstance(exc, PermissionError) and _foreign(owner):
        assert owner is not None
        return (
            f"cannot hand secret files to uid {owner[0]} gid {owner[1]} "
            f"(changing ownership needs root; flwd runs as uid {os.getuid()})"
        )
    return "cannot write a secret file"


def _error(run_id: str, what: str, exc: OSError) -> SecretMaterialisationError:
    return SecretMaterialisationError(f"{what}: {exc.strerror or exc}", run_id=run_id)
