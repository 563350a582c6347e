"""The SecretWriter contract, run against FakeSecretWriter and FilesystemSecretWriter."""

from __future__ import annotations

from typing import Callable

import pytest

from flwd.domain.errors import SecretMaterialisationError
from flwd.ports.secrets import SecretFile, SecretWriter

ReadBack = Callable[[str, str], "bytes | None"]
"""``read_back(directory, name)``: the bytes a job would read there, or None when absent."""

UNSAFE_NAMES = ["", ".", "..", "../escape", "a/b", "/abs", "sp ace", "semi;colon", "x" * 200]


def check_secret_writer_contract(writer: SecretWriter, read_back: ReadBack) -> None:
    """Every rule of the SecretWriter port; *writer* must start with no run directories."""
    _check_writes_and_removes(writer, read_back)
    _check_refuses_a_second_materialisation(writer, read_back)
    _check_refuses_unsafe_names(writer)
    _check_refuses_unsafe_run_ids(writer)


def _check_writes_and_removes(writer: SecretWriter, read_back: ReadBack) -> None:
    files = [SecretFile(name="token", value=b"s3cr3t\n"), SecretFile(name="db.pass", value=b"")]

    directory = writer.materialise("run-a", files)

    assert read_back(directory, "token") == b"s3cr3t\n"
    assert read_back(directory, "db.pass") == b""
    assert read_back(directory, "other") is None
    assert "run-a" in writer.leftovers()

    writer.remove("run-a")
    writer.remove("run-a")  # already gone: no error
    writer.remove("never-made")

    assert read_back(directory, "token") is None
    assert "run-a" not in writer.leftovers()


def _check_refuses_a_second_materialisation(writer: SecretWriter, read_back: ReadBack) -> None:
    directory = writer.materialise("run-b", [SecretFile(name="one", value=b"1")])

    with pytest.raises(SecretMaterialisationError):
        writer.materialise("run-b", [SecretFile(name="two", value=b"2")])

    assert read_back(directory, "one") == b"1"
    assert read_back(directory, "two") is None
    empty = writer.materialise("run-c", [])
    assert read_back(empty, "one") is None
    writer.remove("run-b")
    writer.remove("run-c")
    assert list(writer.leftovers()) == []


def _check_refuses_unsafe_names(writer: SecretWriter) -> None:
    for name in UNSAFE_NAMES:
        files = [SecretFile(name="fine", value=b"v"), SecretFile(name=name, value=b"v")]
        with pytest.raises(SecretMaterialisationError):
            writer.materialise("run-d", files)
        assert list(writer.leftovers()) == []
    duplicated = [SecretFile(name="same", value=b"1"), SecretFile(name="same", value=b"2")]
    with pytest.raises(SecretMaterialisationError):
        writer.materialise("run-d", duplicated)
    assert list(writer.leftovers()) == []


def _check_refuses_unsafe_run_ids(writer: SecretWriter) -> None:
    for run_id in UNSAFE_NAMES:
        with pytest.raises(SecretMaterialisationError):
            writer.materialise(run_id, [SecretFile(name="token", value=b"v")])
        with pytest.raises(SecretMaterialisationError):
            writer.remove(run_id)
    assert list(writer.leftovers()) == []
