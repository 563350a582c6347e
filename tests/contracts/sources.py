"""The SourceStore contract (sources live in the run store), run against the fake, SQLite and
PostgreSQL stores, each given empty."""

from __future__ import annotations

import threading
from typing import Any, Protocol

import pytest

from flwd.domain.errors import SourceExistsError, SourceNotFoundError
from flwd.ports.sources import Source, SourceStore
from flwd.ports.store import RunStore
from tests.contracts.store import make_run

DIGEST = "sha256:" + "a" * 64


class _Both(SourceStore, RunStore, Protocol):
    """A run store that also keeps sources."""


def make_source(name: str, **changes: Any) -> Source:
    values: dict[str, Any] = {
        "name": name, "ref": f"localhost:5000/addons/{name}:1", "digest": DIGEST,
        "image": f"localhost:5000/addons/{name}@{DIGEST}",
        "manifest": "apiVersion: flwd.addon/v1\nkind: AddOn\n", "addon_name": name,
        "addon_version": "1.0.0", "added_at": "2026-01-01T00:00:00.000Z",
        "refreshed_at": "2026-01-01T00:00:00.000Z",
    }
    values.update(changes)
    return Source(**values)


def check_source_store_contract(store: _Both) -> None:
    """Every rule of the SourceStore port; *store* must start empty."""
    _check_add_get_list(store)
    _check_names_are_unique(store)
    _check_replace_and_remove(store)
    _check_replace_keeps_a_source_added_again_meanwhile(store)
    _check_concurrent_adds_of_one_name(store)
    _check_runs_keep_their_origin_after_remove(store)


def _check_add_get_list(store: _Both) -> None:
    assert store.list_sources() == []
    tools = make_source("tools", pull_policy="on-run", trusted=True, manifest="é\n" * 3)

    store.add_source(make_source("zeta"))
    store.add_source(tools)

    assert store.get_source("tools") == tools
    assert store.get_source("nope") is None
    assert [s.name for s in store.list_sources()] == ["tools", "zeta"]


def _check_names_are_unique(store: _Both) -> None:
    with pytest.raises(SourceExistsError) as err:
        store.add_source(make_source("tools", ref="other:1"))

    assert err.value.code == "source.exists"
    stored = store.get_source("tools")
    assert stored is not None and stored.ref != "other:1"


def _check_replace_and_remove(store: _Both) -> None:
    repinned = make_source("tools", digest="sha256:" + "b" * 64, refreshed_at="2026-01-02T00:00:00.000Z")

    store.replace_source(repinned)
    removed = store.remove_source("tools")

    assert removed == repinned
    assert store.get_source("tools") is None
    for action in (lambda: store.remove_source("tools"),
                   lambda: store.replace_source(repinned)):
        with pytest.raises(SourceNotFoundError) as err:
            action()
        assert err.value.code == "source.not.found"
    assert [s.name for s in store.list_sources()] == ["zeta"]


def _check_replace_keeps_a_source_added_again_meanwhile(store: _Both) -> None:
    """A refresh that pulled the old reference while the source was removed and added again
    with another one must not write the old reference back."""
    first = make_source("again")
    store.add_source(first)
    store.remove_source("again")
    second = make_source("again", ref="localhost:5000/addons/other:2",
                         added_at="2026-01-03T00:00:00.000Z")
    store.add_source(second)

    with pytest.raises(SourceNotFoundError) as err:
        store.replace_source(first.evolve(digest="sha256:" + "c" * 64))

    assert err.value.code == "source.not.found" and store.get_source("again") == second
    store.remove_source("again")


def _check_concurrent_adds_of_one_name(store: _Both) -> None:
    outcomes: list[str] = []

    def add(ref: str) -> None:
        try:
            store.add_source(make_source("raced", ref=ref))
            outcomes.append("added")
        except SourceExistsError:
            outcomes.append("exists")

    threads = [threading.Thread(target=add, args=(f"r{i}:1",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["added", "exists", "exists", "exists"]


def _check_runs_keep_their_origin_after_remove(store: _Both) -> None:
    origin = {"source": "zeta", "kind": "oci", "ref": "localhost:5000/addons/zeta:1",
              "digest": DIGEST, "addon_version": "1.0.0"}
    store.create(make_run("o1", 1, job_id="zeta/hello", origin=origin), "run.created",
                 {"origin": origin})

    store.remove_source("zeta")

    run = store.get("o1")
    assert run is not None and dict(run.origin) == origin
    assert store.get_source("zeta") is None
    plain = make_run("o2", 2)
    store.create(plain, "run.created", {})
    assert dict(store.get("o2").origin) == {}  # type: ignore[union-attr]
