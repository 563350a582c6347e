"""FilesystemSecretWriter: the writer contract plus modes, ownership, clean-up and leftovers."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Callable

import pytest

from flwd.adapters.fs_secrets import FilesystemSecretWriter, default_base_dir
from flwd.domain.errors import SecretMaterialisationError
from flwd.ports.secrets import SecretFile, SecretWriter
from tests.contracts.secrets import check_secret_writer_contract

VALUE = b"hunter2-very-distinct-\x00-value"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="changing ownership needs root")


def _read_back(directory: str, name: str) -> bytes | None:
    path = Path(directory) / name
    return path.read_bytes() if path.exists() else None


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return tmp_path / "secrets"


@pytest.fixture
def writer(base: Path) -> FilesystemSecretWriter:
    return FilesystemSecretWriter(base)


def test_writer_keeps_the_writer_contract_when_empty(writer: FilesystemSecretWriter) -> None:
    typed: SecretWriter = writer

    check_secret_writer_contract(typed, _read_back)


def test_constructor_touches_nothing_when_called(base: Path) -> None:
    FilesystemSecretWriter(base)

    assert not base.exists()


def test_run_dir_is_private_and_files_read_only_when_materialised(
    writer: FilesystemSecretWriter, base: Path
) -> None:
    directory = Path(writer.materialise("r1", [SecretFile(name="token", value=VALUE)]))

    assert directory == base / "r1"
    assert _mode(base) == 0o711
    assert _mode(directory) == 0o700
    assert _mode(directory / "token") == 0o400
    assert (directory / "token").read_bytes() == VALUE
    writer.remove("r1")


def test_value_lives_in_exactly_one_file_when_materialised(
    writer: FilesystemSecretWriter, tmp_path: Path
) -> None:
    writer.materialise("r1", [SecretFile(name="token", value=VALUE)])

    holders = [p for p in tmp_path.rglob("*") if p.is_file() and VALUE in p.read_bytes()]

    assert holders == [tmp_path / "secrets" / "r1" / "token"]
    writer.remove("r1")


def test_remove_leaves_nothing_when_files_are_read_only(
    writer: FilesystemSecretWriter, base: Path
) -> None:
    writer.materialise("r1", [SecretFile(name="a", value=b"1"), SecretFile(name="b", value=b"2")])

    writer.remove("r1")

    assert list(base.iterdir()) == []


def test_nothing_is_left_when_a_write_fails_midway(
    writer: FilesystemSecretWriter, base: Path
) -> None:
    not_bytes: bytes = "text" * 1  # type: ignore[assignment]
    files = [SecretFile(name="good", value=b"1"), SecretFile(name="bad", value=not_bytes)]

    with pytest.raises(TypeError):
        writer.materialise("r1", files)

    assert list(base.iterdir()) == []


def test_leftovers_lists_run_dirs_when_a_crash_left_them(
    writer: FilesystemSecretWriter, base: Path
) -> None:
    assert writer.leftovers() == []
    writer.materialise("r2", [])
    writer.materialise("r1", [SecretFile(name="t", value=b"x")])
    (base / "stray-file").write_bytes(b"")

    assert writer.leftovers() == ["r1", "r2"]

    for run_id in writer.leftovers():
        writer.remove(run_id)
    assert writer.leftovers() == []


def test_refuses_a_base_dir_when_it_is_a_symlink(tmp_path: Path) -> None:
    link = tmp_path / "secrets"
    link.symlink_to(tmp_path)
    writer = FilesystemSecretWriter(link)

    with pytest.raises(SecretMaterialisationError):
        writer.materialise("r1", [SecretFile(name="t", value=b"x")])

    assert not (tmp_path / "r1").exists()


def test_base_dir_is_tightened_when_it_exists_too_open(base: Path) -> None:
    base.mkdir(mode=0o777)
    os.chmod(base, 0o777)

    FilesystemSecretWriter(base).materialise("r1", [])

    assert _mode(base) == 0o711


@needs_root
def test_refuses_a_base_dir_when_another_uid_owns_it(base: Path) -> None:
    base.mkdir(mode=0o711)
    os.chown(base, 4321, 4321)

    with pytest.raises(SecretMaterialisationError) as err:
        FilesystemSecretWriter(base).materialise("r1", [])

    assert "owned by uid" in err.value.detail
    assert not (base / "r1").exists()


def _as_unprivileged(check: Callable[[], None], home: Path) -> None:
    """Run *check* as this user, or, when we are root, in a child that became ``nobody``."""
    if os.geteuid() != 0:
        check()
        return
    os.chown(home, 65534, 65534)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        code = 1
        try:
            os.setgid(65534)
            os.setuid(65534)
            check()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_foreign_owner_is_a_clear_error_when_not_root() -> None:
    home = Path(tempfile.mkdtemp(prefix="flwd-unprivileged-"))

    def check() -> None:
        base = home / "secrets"
        with pytest.raises(SecretMaterialisationError) as err:
            FilesystemSecretWriter(base).materialise(
                "r1", [SecretFile(name="t", value=b"x")], owner=(4321, 4321))
        assert "needs root" in err.value.detail
        assert list(base.iterdir()) == []

    try:
        _as_unprivileged(check, home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


@needs_root
def test_files_belong_to_the_mapped_owner_when_owner_is_given(
    writer: FilesystemSecretWriter,
) -> None:
    files = [SecretFile(name="t", value=b"x")]
    directory = Path(writer.materialise("r1", files, owner=(4321, 8765)))

    owners = {(p.stat().st_uid, p.stat().st_gid) for p in (directory, directory / "t")}

    assert owners == {(4321, 8765)}
    writer.remove("r1")
    assert not directory.exists()


def test_owner_equal_to_ours_needs_no_chown_when_given(writer: FilesystemSecretWriter) -> None:
    files = [SecretFile(name="t", value=b"x")]
    directory = writer.materialise("r1", files, owner=(os.getuid(), os.getgid()))

    assert Path(directory, "t").stat().st_uid == os.getuid()
    writer.remove("r1")


def test_default_base_prefers_the_runtime_dir_when_set(tmp_path: Path) -> None:
    assert default_base_dir({"XDG_RUNTIME_DIR": str(tmp_path)}) == tmp_path / "flwd-secrets"


def test_default_base_falls_back_to_shm_when_no_runtime_dir(tmp_path: Path) -> None:
    chosen = default_base_dir({"XDG_RUNTIME_DIR": str(tmp_path / "gone")}, shm=str(tmp_path))

    assert chosen == tmp_path / f"flwd-secrets-{os.getuid()}"


def test_default_base_falls_back_to_temp_when_no_tmpfs(tmp_path: Path) -> None:
    chosen = default_base_dir({}, shm=str(tmp_path / "no-shm"))

    assert chosen == Path(tempfile.gettempdir()) / f"flwd-secrets-{os.getuid()}"
