"""The shipped fakes keep the port contracts and their own knobs."""

from __future__ import annotations

import re

import pytest

from flwd.adapters.fakes import (
    FakeClock,
    FakeJobCatalog,
    FakeRunIds,
    FakeRunStore,
    FakeSecretWriter,
)
from flwd.adapters.system import SystemClock, UuidRunIds
from flwd.domain.errors import SecretMaterialisationError
from flwd.ports.catalog import JobDocument
from flwd.ports.clock import Clock, IdSource
from flwd.ports.secrets import SecretFile, SecretWriter
from flwd.ports.store import RunStore
from tests.contracts.secrets import check_secret_writer_contract
from tests.contracts.sources import check_source_store_contract
from tests.contracts.store import (
    check_count_by_status,
    check_list_limit_is_capped,
    check_store_contract,
)

RFC3339_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def test_fakes_conform_to_their_ports_when_assigned() -> None:
    store: RunStore = FakeRunStore()
    writer: SecretWriter = FakeSecretWriter()
    clock: Clock = FakeClock()
    ids: IdSource = FakeRunIds()

    pairs = [(RunStore, store), (SecretWriter, writer), (Clock, clock), (IdSource, ids)]
    for port, adapter in pairs:
        assert _port_methods(port) <= set(dir(adapter)), port.__name__


def _port_methods(port: type) -> set[str]:
    return {name for name in vars(port) if not name.startswith("_")}


def test_fake_store_keeps_the_store_contract_when_empty(fake_store: FakeRunStore) -> None:
    check_store_contract(fake_store)


def test_fake_store_counts_runs_by_status_when_metrics_ask(fake_store: FakeRunStore) -> None:
    check_count_by_status(fake_store)


def test_fake_store_caps_the_page_size_when_limit_is_huge(fake_store: FakeRunStore) -> None:
    check_list_limit_is_capped(fake_store)


def test_fake_secret_writer_keeps_the_writer_contract_when_empty(
    fake_secrets: FakeSecretWriter,
) -> None:
    check_secret_writer_contract(fake_secrets, fake_secrets.read)


def test_fake_secret_writer_records_files_owner_and_removal_when_used(
    fake_secrets: FakeSecretWriter,
) -> None:
    fake_secrets.materialise("r0001", [SecretFile(name="token", value=b"v")], owner=(1000, 1000))
    assert fake_secrets.files == {"r0001": {"token": b"v"}}
    assert fake_secrets.owners == {"r0001": (1000, 1000)}

    fake_secrets.remove("r0001")

    assert fake_secrets.files == {}
    assert fake_secrets.removed == ["r0001"]


def test_fake_secret_writer_refuses_and_writes_nothing_when_told_to_fail() -> None:
    writer = FakeSecretWriter(fail=True)

    with pytest.raises(SecretMaterialisationError) as err:
        writer.materialise("r0001", [SecretFile(name="token", value=b"v")])

    assert err.value.code == "secret.write.failed"
    assert writer.files == {}


def test_fake_clock_moves_wall_and_monotonic_time_when_advanced(fake_clock: FakeClock) -> None:
    assert fake_clock.now_iso() == "2026-01-01T00:00:00.000Z"
    before = fake_clock.monotonic()

    fake_clock.advance(61.25)

    assert fake_clock.now_iso() == "2026-01-01T00:01:01.250Z"
    assert fake_clock.monotonic() - before == 61.25


def test_fake_run_ids_count_up_when_asked(fake_ids: FakeRunIds) -> None:
    ids = [fake_ids.new_run_id() for _ in range(3)]

    assert ids == ["r0001", "r0002", "r0003"]
    assert fake_ids.issued == ids


def test_fake_catalog_serves_its_list_when_the_list_changes(fake_catalog: FakeJobCatalog) -> None:
    doc = JobDocument(
        default_id="hello", spec_path="/j/hello/job.yaml", directory="/j/hello", data={}
    )

    fake_catalog.docs.append(doc)

    assert fake_catalog.documents() == (doc,)


def test_system_clock_gives_utc_milliseconds_when_read() -> None:
    clock: Clock = SystemClock()

    first, later = clock.monotonic(), clock.monotonic()

    assert RFC3339_MS.fullmatch(clock.now_iso())
    assert later >= first


def test_uuid_run_ids_are_twelve_fresh_hex_digits_when_generated() -> None:
    ids: IdSource = UuidRunIds()

    generated = {ids.new_run_id() for _ in range(1000)}

    assert len(generated) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{12}", run_id) for run_id in generated)


def test_runtime_fake_is_served_from_fakes_when_imported() -> None:
    from flwd.adapters import fake_runtime, fakes

    assert fakes.FakeRuntime is fake_runtime.FakeRuntime


def test_fake_store_keeps_the_source_store_contract_when_empty(fake_store: FakeRunStore) -> None:
    check_source_store_contract(fake_store)
