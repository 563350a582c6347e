"""The policy's verify_signatures and signature_keys (SPEC section 10), parsed and loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from flwd.adapters.pem_keys import PemSignatureKeyReader
from flwd.domain.errors import ConfigInvalidError
from flwd.domain.model import SignatureMode
from flwd.domain.policy.bundle import parse_policy
from flwd.entrypoints.container import load_policy
from tests.cosign_support import new_key_pair

KEYS = new_key_pair()


@pytest.mark.parametrize("text, mode", [
    ("required", SignatureMode.REQUIRED),
    ("Permissive", SignatureMode.PERMISSIVE),
    ("disabled", SignatureMode.DISABLED),
])
def test_parse_policy_reads_verify_signatures_when_given_a_mode(text: str,
                                                                mode: SignatureMode) -> None:
    assert parse_policy({"verify_signatures": text}).verify_signatures is mode


def test_parse_policy_leaves_verify_signatures_to_profile_when_absent() -> None:
    assert parse_policy({}).verify_signatures is None


@pytest.mark.parametrize("value", ["strict", True, ["required"], ""])
def test_parse_policy_refuses_verify_signatures_when_not_a_mode(value: object) -> None:
    with pytest.raises(ConfigInvalidError) as err:
        parse_policy({"verify_signatures": value}, source="p.yaml")

    assert err.value.context["field"] == "verify_signatures"
    assert "required, permissive, disabled" in err.value.detail


def test_parse_policy_reads_keys_relative_to_policy_dir_when_paths_are_relative(
        tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    KEYS.write_public(tmp_path / "keys" / "release.pub")

    bundle = parse_policy({"signature_keys": ["keys/release.pub"]},
                          keys=PemSignatureKeyReader(tmp_path))

    assert [key.path for key in bundle.signature_keys] == [str(tmp_path / "keys/release.pub")]
    assert bundle.signature_keys[0].pem == KEYS.public_pem


def test_parse_policy_refuses_keys_when_file_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigInvalidError) as err:
        parse_policy({"signature_keys": ["nope.pub"]}, source="p.yaml",
                     keys=PemSignatureKeyReader(tmp_path, "p.yaml"))

    assert err.value.code == "config.invalid"
    assert "nope.pub" in err.value.detail and "cannot be read" in err.value.detail
    assert err.value.context["path"] == str(tmp_path / "nope.pub")


def test_parse_policy_refuses_keys_when_file_is_not_a_public_key(tmp_path: Path) -> None:
    (tmp_path / "bad.pub").write_text("hello\n")

    with pytest.raises(ConfigInvalidError) as err:
        parse_policy({"signature_keys": ["bad.pub"]}, keys=PemSignatureKeyReader(tmp_path))

    assert "bad.pub" in err.value.detail and "not a PEM public key" in err.value.detail


@pytest.mark.parametrize("value", ["a.pub", [""], [3]])
def test_parse_policy_refuses_keys_when_not_a_list_of_paths(tmp_path: Path,
                                                           value: object) -> None:
    with pytest.raises(ConfigInvalidError) as err:
        parse_policy({"signature_keys": value}, keys=PemSignatureKeyReader(tmp_path))

    assert err.value.context["field"] == "signature_keys"


def test_parse_policy_refuses_keys_when_no_reader_is_given() -> None:
    with pytest.raises(ConfigInvalidError):
        parse_policy({"signature_keys": ["a.pub"]})


def test_load_policy_reads_keys_beside_policy_file_when_loading_from_file(tmp_path: Path) -> None:
    KEYS.write_public(tmp_path / "release.pub")
    policy = tmp_path / "policy.yaml"
    policy.write_text("verify_signatures: required\nsignature_keys: [release.pub]\n")

    bundle = load_policy(str(policy))

    assert bundle.verify_signatures is SignatureMode.REQUIRED
    assert bundle.signature_keys[0].path == str(tmp_path / "release.pub")


def test_load_policy_names_policy_and_key_when_key_is_unreadable(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("signature_keys: [gone.pub]\n")

    with pytest.raises(ConfigInvalidError) as err:
        load_policy(str(policy))

    assert str(policy) in err.value.detail and "gone.pub" in err.value.detail
