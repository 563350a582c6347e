"""``store_url`` (SPEC sections 9 and 11): PostgreSQL chosen by a URL, checked, never echoed
with its password; absent, the SQLite store under data_dir as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from flwd.adapters.pg_url import redact
from flwd.adapters.sqlite_store import SqliteRunStore
from flwd.adapters.system import LocalRunOwners
from flwd.domain.errors import ConfigInvalidError
from flwd.entrypoints.config import CliOverrides, load_config
from flwd.entrypoints.container import build_container
from flwd.ports.kinds import StoreKind

URL = "postgresql://flwd:s3cret-pw@db.example:5433/flwd?sslmode=require"


def _config_file(tmp_path: Path, text: str) -> CliOverrides:
    (tmp_path / "flwd.yaml").write_text(text)
    return CliOverrides(config=str(tmp_path / "flwd.yaml"))


def test_store_is_sqlite_under_data_dir_when_no_store_url_is_given(tmp_path: Path) -> None:
    config = load_config(CliOverrides(data_dir=str(tmp_path)), {})

    assert (config.store, config.store_url) == (StoreKind.SQLITE, None)
    store = build_container(config).store()
    assert isinstance(store, SqliteRunStore) and store.path == tmp_path / "flwd.db"


def test_store_is_postgresql_when_the_file_names_a_store_url(tmp_path: Path) -> None:
    config = load_config(_config_file(tmp_path, f"store_url: '{URL}'\n"), {})

    assert (config.store, config.store_url) == (StoreKind.POSTGRESQL, URL)
    assert "s3cret" not in repr(config)


def test_env_store_url_overrides_the_file_when_both_are_set(tmp_path: Path) -> None:
    overrides = _config_file(tmp_path, f"store_url: '{URL}'\n")

    config = load_config(overrides, {"FLWD_STORE_URL": "postgres://other/flwd"})

    assert (config.store, config.store_url) == (StoreKind.POSTGRESQL, "postgres://other/flwd")


def test_container_selects_the_postgresql_store_without_connecting_when_url_is_set() -> None:
    config = load_config(CliOverrides(), {"FLWD_STORE_URL": "postgresql://127.0.0.1:1/none"})

    store = build_container(config).store()  # connects on first use only: no server needed

    assert type(store).__name__ == "PostgresRunStore"
    assert store.url == "postgresql://127.0.0.1:1/none"  # type: ignore[union-attr]


@pytest.mark.parametrize("url", [
    "mysql://flwd:s3cret-pw@db/flwd",
    "postgresql://flwd:s3cret-pw@db:notaport/flwd",
    "postgresql://flwd:s3cret-pw@db:99999/flwd",
    "postgresql://flwd:s3cret-pw@db/flwd#frag",
    "postgresql:///flwd",
    "db.example:5432",
    "postgresql://flwd:s3cret-pw@db/fl\nwd",
])
def test_store_url_is_config_invalid_without_the_password_when_malformed(url: str) -> None:
    with pytest.raises(ConfigInvalidError) as caught:
        load_config(CliOverrides(), {"FLWD_STORE_URL": url})

    assert caught.value.code == "config.invalid"
    assert caught.value.context["field"] == "store_url"
    assert "FLWD_STORE_URL" in caught.value.detail
    assert "s3cret" not in caught.value.detail


@pytest.mark.parametrize("value", ["", "   ", 5, ["postgresql://db/flwd"]])
def test_file_store_url_is_config_invalid_when_not_a_url_string(tmp_path: Path,
                                                               value: object) -> None:
    overrides = _config_file(tmp_path, f"store_url: {value!r}\n" if value != "" else "store_url: ''\n")

    with pytest.raises(ConfigInvalidError) as caught:
        load_config(overrides, {})

    assert caught.value.context["field"] == "store_url"


def test_socket_directory_store_url_is_accepted_when_host_is_a_parameter() -> None:
    url = "postgresql:///flwd?host=/run/postgresql"

    assert load_config(CliOverrides(), {"FLWD_STORE_URL": url}).store_url == url


@pytest.mark.parametrize(("url", "shown"), [
    (URL, "postgresql://flwd:***@db.example:5433/flwd?sslmode=require"),
    ("postgresql://db/flwd?user=a&password=pw", "postgresql://db/flwd?user=a&password=***"),
    ("postgresql://flwd@db/flwd", "postgresql://flwd@db/flwd"),
])
def test_redact_hides_every_password_when_a_url_is_shown(url: str, shown: str) -> None:
    assert redact(url) == shown


@pytest.mark.parametrize(("shared", "owner", "alive"), [
    (True, "other-host.example:4242", True),  # cannot be seen from here: never adopted
    (False, "other-host.example:4242", False),  # SQLite: an old tag of this data dir
    (True, "other-host.example:x", False),
    (True, ":4242", False),
])
def test_other_hosts_runs_count_as_alive_only_when_the_store_is_shared(
        shared: bool, owner: str, alive: bool) -> None:
    assert LocalRunOwners(shared_store=shared).alive(owner) is alive


def test_container_shares_runs_across_hosts_only_when_store_url_is_set(tmp_path: Path) -> None:
    local = build_container(load_config(CliOverrides(data_dir=str(tmp_path)), {}))
    shared = build_container(load_config(CliOverrides(data_dir=str(tmp_path)),
                                         {"FLWD_STORE_URL": "postgresql://db/flwd"}))

    assert local.owners().alive("other-host.example:4242") is False
    assert shared.owners().alive("other-host.example:4242") is True
