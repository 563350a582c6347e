"""The SecretSealer contract, run against the fake and the AES-GCM adapter alike."""

from __future__ import annotations

from typing import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flwd.adapters.fakes import FakeSecretSealer
from flwd.adapters.secret_sealer import AesGcmSecretSealer
from flwd.domain.errors import SecretKeyMissingError, SecretSealInvalidError
from flwd.ports.sealing import SecretKey, SecretSealer

KEY = SecretKey(text="k" * 16 + "correct-horse-battery", source="test")
OTHER_KEY = SecretKey(text="o" * 16 + "another-horse-battery", source="test")
SECRETS = {"token": b"s3cr3t-value", "cert": bytes(range(256))}

Make = Callable[[SecretKey | None], SecretSealer]
SEALERS: list[Make] = [FakeSecretSealer, AesGcmSecretSealer]


@pytest.fixture(params=SEALERS, ids=["fake", "aes-gcm"])
def make(request: pytest.FixtureRequest) -> Make:
    maker: Make = request.param
    return maker


def test_open_gives_back_the_secrets_when_same_key_and_run(make: Make) -> None:
    sealed = make(KEY).seal("run-1", SECRETS)

    assert make(KEY).open("run-1", sealed) == SECRETS  # another process with the same key


def test_open_gives_back_no_secrets_when_none_were_sealed(make: Make) -> None:
    sealer = make(KEY)

    assert sealer.open("run-1", sealer.seal("run-1", {})) == {}


def test_open_is_secret_key_invalid_when_sealed_with_another_key(make: Make) -> None:
    sealed = make(OTHER_KEY).seal("run-1", SECRETS)

    with pytest.raises(SecretSealInvalidError) as caught:
        make(KEY).open("run-1", sealed)
    assert caught.value.code == "secret.key.invalid"


def test_open_is_secret_key_invalid_when_replayed_for_another_run(make: Make) -> None:
    sealer = make(KEY)
    sealed = sealer.seal("run-1", SECRETS)

    with pytest.raises(SecretSealInvalidError):
        sealer.open("run-2", sealed)


@pytest.mark.parametrize("position", [0, 5, 20, -1])
def test_open_is_secret_key_invalid_when_a_byte_was_altered(make: Make, position: int) -> None:
    sealer = make(KEY)
    sealed = bytearray(sealer.seal("run-1", SECRETS))
    sealed[position] ^= 0x01

    with pytest.raises(SecretSealInvalidError):
        sealer.open("run-1", bytes(sealed))


@pytest.mark.parametrize("sealed", [b"", b"\x01", b"\x02" + bytes(40)])
def test_open_is_secret_key_invalid_when_message_is_truncated_or_foreign(
        make: Make, sealed: bytes) -> None:
    with pytest.raises(SecretSealInvalidError):
        make(KEY).open("run-1", sealed)


def test_seal_and_open_are_secret_key_missing_when_no_key(make: Make) -> None:
    sealed = make(KEY).seal("run-1", SECRETS)
    keyless = make(None)

    with pytest.raises(SecretKeyMissingError) as caught:
        keyless.seal("run-1", SECRETS)
    assert caught.value.code == "secret.key.missing"
    with pytest.raises(SecretKeyMissingError):
        keyless.open("run-1", sealed)


def test_key_text_is_in_no_repr_or_error_when_opening_fails(make: Make) -> None:
    sealer = make(KEY)
    with pytest.raises(SecretSealInvalidError) as caught:
        sealer.open("run-2", sealer.seal("run-1", SECRETS))

    shown = " ".join([repr(sealer), repr(KEY), str(KEY), str(caught.value),
                      repr(caught.value.context)])
    assert KEY.text not in shown
    assert "s3cr3t-value" not in shown


def test_each_seal_differs_when_same_secrets_are_sealed_twice(make: Make) -> None:
    sealer = make(KEY)

    assert sealer.seal("run-1", SECRETS) != sealer.seal("run-1", SECRETS)


_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_.-", min_size=1, max_size=12)
# eight bytes and more: a shorter value could turn up in random ciphertext by chance
_values = st.binary(min_size=8, max_size=200)


@settings(max_examples=60, deadline=None)
@given(secrets=st.dictionaries(_names, _values, max_size=5), run_id=st.uuids())
def test_sealed_bytes_never_contain_a_secret_value_when_any_secrets_are_sealed(
        secrets: dict[str, bytes], run_id: object) -> None:
    for sealer in (FakeSecretSealer(KEY), AesGcmSecretSealer(KEY)):
        sealed = sealer.seal(str(run_id), secrets)

        assert not [value for value in secrets.values() if value in sealed]
        assert KEY.text.encode() not in sealed
        assert sealer.open(str(run_id), sealed) == secrets


def test_adapters_conform_to_the_port_without_a_key_when_constructed() -> None:
    sealers: list[SecretSealer] = [FakeSecretSealer(None), AesGcmSecretSealer(None)]

    assert [repr(s).endswith("(key=missing)") for s in sealers] == [True, True]
