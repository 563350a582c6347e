"""Shared fixtures: fakes of every port, from flwd.adapters.fakes."""

from __future__ import annotations

import pytest

from flwd.adapters.fakes import (
    FakeClock,
    FakeJobCatalog,
    FakeRunIds,
    FakeRunStore,
    FakeRunWorkspace,
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


# --- the fake runtime and a whole engine wired with fakes ----------------------------

from pathlib import Path  # noqa: E402
from typing import Iterator  # noqa: E402

from dependency_injector import providers  # noqa: E402

from flwd.adapters.fake_addons import FakeAddonImages  # noqa: E402
from flwd.adapters.fake_signatures import FakeSignatureVerifier  # noqa: E402
from flwd.adapters.fake_runtime import FakeRuntime  # noqa: E402
from flwd.entrypoints.config import FlwdConfig  # noqa: E402
from flwd.entrypoints.container import Container, build_container  # noqa: E402
from tests.unit.fake_engine import FakeEngine  # noqa: E402

TEST_IMAGE = "docker.io/library/alpine:3.20"


@pytest.fixture
def fake_runtime() -> FakeRuntime:
    return FakeRuntime(images={TEST_IMAGE})


@pytest.fixture
def jobs_root(tmp_path: Path) -> Path:
    root = tmp_path / "jobs"
    root.mkdir()
    return root


def write_job(root: Path, job_id: str, spec: str, script: str | None = None) -> Path:
    """A job directory under *root* with *spec* as job.yaml (and main.sh if given)."""
    directory = root / job_id
    directory.mkdir(parents=True)
    (directory / "job.yaml").write_text(spec)
    if script is not None:
        (directory / "main.sh").write_text(script)
    return directory


@pytest.fixture
def fake_workspace() -> FakeRunWorkspace:
    return FakeRunWorkspace()


@pytest.fixture
def engine(tmp_path: Path, jobs_root: Path, fake_runtime: FakeRuntime,
           fake_secrets: object, fake_workspace: FakeRunWorkspace) -> Iterator[Container]:
    """The real container with the runtime, secret writer and run workspace replaced by fakes."""
    config = FlwdConfig(jobs_dirs=(str(jobs_root),), data_dir=str(tmp_path / "data"),
                        cancel_grace=1.0)
    container = build_container(config)
    container.runtime.override(providers.Object(fake_runtime))
    container.addon_images.override(providers.Object(FakeAddonImages()))
    container.signatures.override(providers.Object(FakeSignatureVerifier()))
    container.secrets.override(providers.Object(fake_secrets))
    container.workspace.override(providers.Object(fake_workspace))
    container.env.override(providers.Object({"HOME": str(tmp_path), "HOST_CANARY": "x"}))
    yield container
    container.supervisor().shutdown(cancel=True)
    container.reset_override()


@pytest.fixture
def fake_engine(fake_runtime: FakeRuntime, fake_store: FakeRunStore, fake_catalog: FakeJobCatalog,
                fake_secrets: FakeSecretWriter, fake_workspace: FakeRunWorkspace,
                fake_ids: FakeRunIds) -> Iterator[FakeEngine]:
    """The use cases wired by hand on the fakes above: no container, no SQLite, no YAML."""
    engine = FakeEngine(runtime=fake_runtime, runs=fake_store, catalog=fake_catalog,
                        secrets=fake_secrets, workspace=fake_workspace, ids=fake_ids)
    yield engine
    engine.supervisor().shutdown(cancel=True)
