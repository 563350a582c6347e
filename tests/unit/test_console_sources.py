"""The console's sources page: add-ons as ``/sources`` lists them; adding (trust asked for
explicitly), refreshing and removing them need ``sources:write`` as on the API."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from flwd.domain.sources.use_cases import no_signature_check
from flwd.entrypoints.container import Container
from tests.unit.console_support import console_app, post_form, sign_in
from tests.unit.http_support import ADMIN, READER, auth, close, fake_runtime, make_container

REF = "localhost:5000/addons/greet:1"
ADDON = {"apiVersion": "flwd.addon/v1", "kind": "AddOn",
         "metadata": {"name": "greet", "version": "2.1.0"},
         "jobs": [{"id": "hello", "command": ["/bin/sh", "-c", 'echo "Hello $ARG_NAME"'],
                   "argspec": {"args": [{"name": "name", "type": "string", "required": True}]}},
                  {"id": "bad1", "command": "not a list"}]}


@pytest.fixture
def addons(tmp_path: Path) -> Iterator[tuple[Container, TestClient[Any]]]:
    container = make_container(tmp_path, fake_runtime())
    container.signature_check.override(providers.Object(no_signature_check))
    container.addon_images().publish(REF, ADDON)
    with TestClient(console_app(container)) as client:
        yield container, client
    close(container)


def test_adding_a_trusted_addon_lists_its_jobs_with_their_source(
        addons: tuple[Container, TestClient[Any]]) -> None:
    _, client = addons
    sign_in(client, ADMIN)

    added = post_form(client, "/ui/sources/", [("name", "greet"), ("ref", REF), ("trusted", "true"),
                                                ("pull_policy", "on-add")])
    jobs = client.get("/ui/jobs").text
    job = client.get("/ui/jobs/greet/hello").text

    assert added.status_code == 201 and 'data-source="greet"' in added.text
    assert 'href="/ui/jobs/greet/hello"' in added.text and "greet/bad1" in added.text
    assert "<td>greet</td>" in jobs and "source greet" in job and "pinned to" in job


def test_adding_without_trust_is_refused_beside_the_form(addons: tuple[Container, TestClient[Any]]) -> None:
    _, client = addons
    sign_in(client, ADMIN)

    refused = post_form(client, "/ui/sources/", [("name", "greet"), ("ref", REF)])
    listed = client.get("/sources", headers=auth()).json()["sources"]

    assert refused.status_code == 422
    assert 'id="add-problem"' in refused.text and "source.trust.required" in refused.text
    assert f'value="{REF}"' in refused.text and listed == []


def test_refresh_and_remove_act_on_the_source_when_posted(addons: tuple[Container, TestClient[Any]]) -> None:
    container, client = addons
    sign_in(client, ADMIN)
    post_form(client, "/ui/sources/", [("name", "greet"), ("ref", REF), ("trusted", "true")])

    refreshed = post_form(client, "/ui/sources/greet/refresh", [], page_path="/ui/sources/")
    removed = post_form(client, "/ui/sources/greet/remove", [], page_path="/ui/sources/")
    listed = client.get("/sources", headers=auth()).json()["sources"]

    assert refreshed.status_code == 200 and "greet: unchanged" in refreshed.text
    assert removed.status_code == 303 and listed == []


def test_reader_sees_sources_but_no_way_to_change_them(addons: tuple[Container, TestClient[Any]]) -> None:
    _, client = addons
    client.post("/sources", json={"name": "greet", "ref": REF, "trusted": True}, headers=auth())
    sign_in(client, READER)

    page = client.get("/ui/sources/")
    forced = post_form(client, "/ui/sources/greet/remove", [], page_path="/ui/sources/")

    assert page.status_code == 200 and 'data-source="greet"' in page.text
    assert "Add source" not in page.text and "Remove" not in page.text
    assert forced.status_code == 403
    assert len(client.get("/sources", headers=auth()).json()["sources"]) == 1
