"""Shared fixtures: fakes of every port, from flwd.adapters.fakes."""

from __future__ import annotations

import pytest

from flwd.adapters.fakes import (
    FakeClock,
    FakeJobCatalog,
    FakeRunIds,
    FakeRunStore,
    FakeSecretWriter,
)

# --- fakes of the ports (store, secrets, clock, ids, catalog) ------------------------


@pytest.fixture
def fake_store() -> FakeRunStore:
    return FakeRunStore()


@pytest.fixture
def fake_secrets() -> FakeSecretWriter:
    return FakeSecretWriter()


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake_ids() -> FakeRunIds:
    return FakeRunIds()


@pytest.fixture
def fake_catalog() -> FakeJobCatalog:
    return FakeJobCatalog([])
