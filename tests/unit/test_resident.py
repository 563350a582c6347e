"""Finding a resident local flwd (``flwd :serve``'s unix socket in the data directory): only a
socket of this user, mode 0600, that answers, is used; anything else is ignored silently."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Iterator

import pytest

from flwd.domain.errors import UsageError
from flwd.entrypoints.cli.serve_args import parse_serve_args
from flwd.entrypoints.config import FlwdConfig
from flwd.entrypoints.resident import (
    PeerCheckedSocket,
    find_resident,
    listen_resident,
    peer_uid,
    remove_resident,
    socket_path,
)


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A short directory (unix socket paths must stay under 108 bytes)."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="rs-", dir="/tmp"))
    yield path
    for child in path.iterdir():
        child.unlink()
    path.rmdir()


@pytest.fixture
def listening(short_dir: Path) -> Iterator[PeerCheckedSocket]:
    sock = listen_resident(str(short_dir / "r.sock"))
    yield sock
    sock.close()


def _stale(path: Path) -> None:
    """A socket file nobody listens on any more (a server that was killed)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.close()


def test_find_resident_answers_none_when_no_socket(short_dir: Path) -> None:
    assert find_resident(str(short_dir / "r.sock"), {}) is None


def test_find_resident_answers_none_when_socket_is_stale(short_dir: Path) -> None:
    path = short_dir / "r.sock"
    _stale(path)
    os.chmod(path, 0o600)

    assert find_resident(str(path), {}) is None


def test_find_resident_answers_path_when_socket_answers(listening: PeerCheckedSocket) -> None:
    assert find_resident(listening.path, {}) == listening.path


def test_find_resident_answers_none_when_socket_is_open_to_others(
        listening: PeerCheckedSocket) -> None:
    os.chmod(listening.path, 0o660)

    assert find_resident(listening.path, {}) is None


@pytest.mark.skipif(os.getuid() != 0, reason="only root can give a file to another user")
def test_find_resident_answers_none_when_socket_belongs_to_another_user(
        listening: PeerCheckedSocket) -> None:
    os.chown(listening.path, os.getuid() + 4242, -1)

    assert find_resident(listening.path, {}) is None


def test_find_resident_answers_none_when_not_a_socket(short_dir: Path) -> None:
    path = short_dir / "r.sock"
    path.write_text("")
    path.chmod(0o600)

    assert find_resident(str(path), {}) is None


def test_find_resident_answers_none_when_disabled_by_environment(
        listening: PeerCheckedSocket) -> None:
    assert find_resident(listening.path, {"FLWD_RESIDENT": "0"}) is None


def test_listen_resident_makes_socket_owner_only_when_umask_is_open(short_dir: Path) -> None:
    previous = os.umask(0)
    try:
        sock = listen_resident(str(short_dir / "r.sock"))
    finally:
        os.umask(previous)

    assert (short_dir / "r.sock").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in short_dir.iterdir()) == ["r.sock"]
    sock.close()


def test_listen_resident_replaces_socket_when_stale(short_dir: Path) -> None:
    _stale(short_dir / "r.sock")

    sock = listen_resident(str(short_dir / "r.sock"))

    assert find_resident(sock.path, {}) == sock.path
    sock.close()


def test_listen_resident_refuses_when_another_server_answers(
        listening: PeerCheckedSocket) -> None:
    with pytest.raises(OSError, match="already listens"):
        listen_resident(listening.path)


def test_remove_resident_keeps_socket_when_another_server_replaced_it(
        listening: PeerCheckedSocket) -> None:
    listening.inode += 1  # as if a later server had bound the path anew

    remove_resident(listening.path, listening)

    assert Path(listening.path).exists()


def test_remove_resident_removes_socket_when_its_own(listening: PeerCheckedSocket) -> None:
    remove_resident(listening.path, listening)

    assert not Path(listening.path).exists()


def test_peer_uid_names_this_user_when_connected_to_self() -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with left, right:
        assert peer_uid(left) == os.getuid()


def test_socket_path_differs_when_jobs_roots_or_runtime_differ(tmp_path: Path) -> None:
    base = FlwdConfig(jobs_dirs=("jobs",), data_dir=str(tmp_path))
    other_jobs = FlwdConfig(jobs_dirs=("other",), data_dir=str(tmp_path))

    paths = {socket_path(base, {}), socket_path(other_jobs, {}),
             socket_path(base, {"DOCKER_HOST": "unix:///x.sock"}),
             socket_path(base, {}, profile_override="permissive")}

    assert len(paths) == 4
    assert socket_path(base, {}) == socket_path(FlwdConfig(jobs_dirs=("jobs",),
                                                           data_dir=str(tmp_path)), {})
    assert all(Path(p).parent == tmp_path for p in paths)


@pytest.mark.parametrize("extra", [["--bind", "127.0.0.1:9"], ["--dev"], ["--no-runtime"]])
def test_parse_serve_args_refuses_local_when_combined_with_tcp_options(extra: list[str]) -> None:
    with pytest.raises(UsageError):
        parse_serve_args(["--local", *extra], "127.0.0.1:8080")


def test_parse_serve_args_reads_local_when_given() -> None:
    assert parse_serve_args(["--local"], "127.0.0.1:8080").local is True


def test_socket_path_differs_when_the_policy_file_changes(tmp_path: Path) -> None:
    """A server keeps the policy it loaded: after an edit (a tightened or a broken policy) a
    CLI run must not be handed to it, but run in-process under the file as it is now."""
    policy = tmp_path / "policy.yaml"
    policy.write_text("allowed_profiles: [secure, permissive]\n")
    config = FlwdConfig(jobs_dirs=("jobs",), data_dir=str(tmp_path), policy_file=str(policy))
    before = socket_path(config, {})

    policy.write_text("allowed_profiles: [secure]\n")
    os.utime(policy, ns=(1, 1))

    assert socket_path(config, {}) != before
