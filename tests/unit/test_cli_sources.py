"""``flwd :sources``: add, list, refresh and remove through the CLI, and the same answers as
the API over one container (fake add-on images and runtime)."""

from __future__ import annotations

import io as stdio
import json
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers

from flwd.adapters.fake_runtime import FakeRuntime
from flwd.domain.sources.use_cases import no_signature_check
from flwd.entrypoints.cli.main import main
from flwd.entrypoints.cli.render import Io
from flwd.entrypoints.container import Container
from litestar.testing import TestClient
from tests.unit.http_support import auth, close, fake_runtime, make_app, make_container

REF = "localhost:5000/addons/greet:1"
ADDON = {"apiVersion": "flwd.addon/v1", "kind": "AddOn",
         "metadata": {"name": "greet", "version": "2.1.0"},
         "jobs": [{"id": "hello", "command": ["/bin/sh", "-c", 'echo "Hello $ARG_NAME"'],
                   "argspec": {"args": [{"name": "name", "type": "string", "required": True}]}},
                  {"id": "bad1", "command": "not a list"}, {"id": "bad2", "timeout": "never",
                                                            "command": ["/bin/true"]}]}


@pytest.fixture(autouse=True)
def unsigned_allowed(engine: Container) -> None:
    """Signatures have their own tests (below, and test_signatures): here they are not checked."""
    engine.signature_check.override(providers.Object(no_signature_check))
    engine.signature_check_for.override(providers.Object(unchecked))


def unchecked(*, profile: object) -> Any:
    return no_signature_check


def cli(engine: Container, *argv: str) -> tuple[int, str, str]:
    out, err = stdio.StringIO(), stdio.StringIO()
    code = main(list(argv), Io(out=out, err=err), {"HOME": "/nonexistent"}, container=engine)
    return code, out.getvalue(), err.getvalue()


def test_sources_add_list_plan_and_run_an_addon_job_when_trusted(engine: Container) -> None:
    digest = engine.addon_images().publish(REF, ADDON)

    code, out, err = cli(engine, ":sources", "add", "greet", REF, "--trusted")
    assert (code, err) == (0, ""), err
    assert f"pinned to {digest}" in out and "greet/hello" in out

    _, listed, _ = cli(engine, ":sources", "--json")
    (source,) = json.loads(listed)["sources"]
    assert (source["name"], source["digest"], source["jobs"]) == ("greet", digest, ["greet/hello"])
    assert sorted(bad["id"] for bad in source["invalid"]) == ["greet/bad1", "greet/bad2"]
    _, jobs, _ = cli(engine, ":jobs", "--json")
    hello = next(job for job in json.loads(jobs)["jobs"] if job["id"] == "greet/hello")
    assert hello["origin"] == {"source": "greet", "kind": "oci", "ref": REF, "digest": digest,
                               "addon_version": "2.1.0"}
    _, plan, _ = cli(engine, ":plan", "greet/hello", "--name", "Ada", "--json")
    assert json.loads(plan)["image"] == f"localhost:5000/addons/greet@{digest}"
    code, _, err = cli(engine, "greet/hello", "--name", "Ada")
    assert code == 0, err
    run = engine.query_runs().page(job_id="greet/hello", status=None, limit=5).runs[0]
    assert run.origin["digest"] == digest and run.image.endswith(digest)


def test_sources_add_exits_125_with_trust_required_when_not_trusted(engine: Container) -> None:
    engine.addon_images().publish(REF, ADDON)

    code, out, err = cli(engine, ":sources", "add", "greet", REF)

    assert code == 125 and out == ""
    assert err.startswith("error[source.trust.required]: ")


def test_sources_refresh_and_remove_say_what_changed_when_the_tag_moved(engine: Container) -> None:
    images = engine.addon_images()
    first = images.publish(REF, ADDON)
    cli(engine, ":sources", "add", "greet", REF, "--trusted")
    moved = images.publish(REF, {**ADDON, "jobs": [ADDON["jobs"][0], {"id": "new", "command": ["/bin/true"]}]})

    code, out, _ = cli(engine, ":sources", "refresh", "greet")
    assert code == 0
    assert f"digest {first} -> {moved}" in out and "jobs added: greet/new" in out

    code, out, _ = cli(engine, ":sources", "remove", "greet")
    assert code == 0 and out.startswith("removed source greet")
    code, _, err = cli(engine, ":sources", "remove", "greet")
    assert code == 2 and err.startswith("error[source.not.found]")


def test_sources_add_is_refused_with_signature_required_when_unsigned_under_secure(
        engine: Container) -> None:
    engine.signature_check.reset_override()
    engine.addon_images().publish(REF, ADDON)

    code, out, err = cli(engine, ":sources", "add", "greet", REF, "--trusted")

    assert code == 125 and out == ""
    assert err.startswith("error[image.signature.required]: ")
    assert engine.store().list_sources() == []


def test_cli_and_api_give_identical_sources_when_they_share_a_store(tmp_path: Path) -> None:
    container = make_container(tmp_path, fake_runtime())
    container.signature_check.override(providers.Object(no_signature_check))
    container.signature_check_for.override(providers.Object(unchecked))
    container.addon_images().publish(REF, ADDON)
    with TestClient(make_app(container)) as client:
        added = client.post("/sources", json={"name": "greet", "ref": REF, "trusted": True},
                            headers=auth())
        api: dict[str, Any] = client.get("/sources", headers=auth()).json()
        one = client.get("/sources/greet", headers=auth()).json()
        denied = client.post("/sources", json={"name": "x", "ref": REF}, headers=auth())

    _, listed, _ = cli(container, ":sources", "--json")
    code, _, err = cli(container, ":sources", "add", "x", REF)
    close(container)

    assert added.status_code == 201 and added.headers["location"] == "/sources/greet"
    assert json.loads(listed) == api and api["sources"] == [one]
    assert denied.status_code == 422 and denied.json()["code"] == "source.trust.required"
    assert code == 125 and err.startswith("error[source.trust.required]")


@pytest.mark.parametrize("trusted", ["true", 1, "1"])
def test_api_add_is_request_invalid_pulling_nothing_when_trusted_is_not_a_json_boolean(
    tmp_path: Path, trusted: object
) -> None:
    """Litestar's lenient body conversion read "true", 1 and "1" as the explicit opt-in."""
    container = make_container(tmp_path, fake_runtime())
    container.signature_check.override(providers.Object(no_signature_check))
    images = container.addon_images()
    images.publish(REF, ADDON)
    with TestClient(make_app(container)) as client:
        answer = client.post("/sources", json={"name": "greet", "ref": REF, "trusted": trusted},
                             headers=auth())
    close(container)

    assert answer.status_code == 400 and answer.json()["code"] == "request.invalid"
    assert images.pulled == [] and container.store().get_source("greet") is None


def test_on_run_source_is_repinned_and_the_run_says_so_when_the_tag_moved(engine: Container) -> None:
    images = engine.addon_images()
    first = images.publish(REF, ADDON)
    cli(engine, ":sources", "add", "greet", REF, "--trusted", "--pull-policy", "on-run")
    moved = images.publish(REF, {**ADDON, "metadata": {"name": "greet", "version": "2.2.0"}})

    code, _, err = cli(engine, "greet/hello", "--name", "Ada")

    assert code == 0, err
    run = engine.query_runs().page(job_id="greet/hello", status=None, limit=5).runs[0]
    repinned = [e.data for e in engine.query_runs().events(run.run_id) if e.type == "source.repinned"]
    assert repinned == [{"source": "greet", "ref": REF, "old_digest": first, "new_digest": moved}]
    assert run.image.endswith(moved) and engine.store().get_source("greet").digest == moved


def test_run_is_refused_source_changed_when_the_source_is_repinned_after_its_check(
    engine: Container, fake_runtime: FakeRuntime
) -> None:
    """A refresh landing between a run's signature check and its planning made the run use
    a digest no check of its own had seen."""
    images = engine.addon_images()
    images.publish(REF, ADDON)
    cli(engine, ":sources", "add", "greet", REF, "--trusted")
    moved = images.publish(REF, {**ADDON, "metadata": {"name": "greet", "version": "2.2.0"}})

    def checked_then_refreshed_meanwhile(image: str, digest: str) -> tuple[()]:
        engine.refresh_source()("greet")  # another process re-pins right after this check
        return ()

    engine.signature_check_for.override(providers.Object(
        lambda *, profile: checked_then_refreshed_meanwhile))

    code, _, err = cli(engine, "greet/hello", "--name", "Ada")

    assert code == 125 and "error[source.changed]" in err, err
    run = engine.query_runs().page(job_id="greet/hello", status=None, limit=5).runs[0]
    assert run.status == "error" and run.image.endswith(moved)
    assert fake_runtime.created == []


def test_on_add_source_is_not_pulled_again_when_a_job_runs(engine: Container) -> None:
    images = engine.addon_images()
    first = images.publish(REF, ADDON)
    cli(engine, ":sources", "add", "greet", REF, "--trusted")
    images.publish(REF, {**ADDON, "metadata": {"name": "greet", "version": "2.2.0"}})

    code, _, err = cli(engine, "greet/hello", "--name", "Ada")

    assert code == 0, err
    assert images.pulled == [REF]
    run = engine.query_runs().page(job_id="greet/hello", status=None, limit=5).runs[0]
    assert run.image.endswith(first)


def test_declared_source_is_added_by_the_sources_command_when_missing(
        engine: Container, tmp_path: Path) -> None:
    digest = engine.addon_images().publish(REF, ADDON)
    config = tmp_path / "flwd.yaml"
    config.write_text(f"sources:\n  - {{name: greet, type: oci, ref: '{REF}', trusted: true}}\n"
                      f"  - {{name: shady, ref: '{REF}'}}\n")

    code, out, err = cli(engine, "--config", str(config), ":sources", "--json")
    again = cli(engine, "--config", str(config), ":sources", "--json")

    assert code == 0
    assert [s["name"] for s in json.loads(out)["sources"]] == ["greet"]
    assert f"added source greet declared in the configuration ({REF} pinned to {digest})" in err
    assert "warning[source.trust.required]: source shady declared in" in err
    assert engine.addon_images().pulled == [REF] and "added source" not in again[2]


def test_config_refuses_malformed_sources_when_loading(tmp_path: Path) -> None:
    from flwd.domain.errors import ConfigInvalidError
    from flwd.entrypoints.config import CliOverrides, load_config

    for text in ("sources: {a: 1}\n", "sources: [{name: a}]\n", "sources: [{name: a, ref: x, trustd: true}]\n",
                 "sources: [{name: a, ref: x, trusted: yes please}]\n",
                 "sources: [{name: a, ref: x}, {name: a, ref: y}]\n"):
        (tmp_path / "flwd.yaml").write_text(text)
        with pytest.raises(ConfigInvalidError):
            load_config(CliOverrides(config=str(tmp_path / "flwd.yaml")), {})


class _Terminal(stdio.StringIO):
    def isatty(self) -> bool:
        return True


def test_sources_add_draws_the_pull_progress_line_when_stderr_is_a_terminal(engine: Container) -> None:
    engine.addon_images().publish(REF, ADDON)
    out, err = stdio.StringIO(), _Terminal()

    code = main([":sources", "add", "greet", REF, "--trusted"], Io(out=out, err=err),
                {"HOME": "/nonexistent"}, container=engine)

    assert code == 0
    assert err.getvalue().startswith(f"\rpulling {REF}") and err.getvalue().endswith("\n")


def test_remote_sources_commands_answer_as_local_ones_when_given_a_server(tmp_path: Path) -> None:
    from tests.unit.http_support import ADMIN, served

    container = make_container(tmp_path, fake_runtime())
    container.signature_check.override(providers.Object(no_signature_check))
    container.signature_check_for.override(providers.Object(unchecked))
    digest = container.addon_images().publish(REF, ADDON)
    with served(make_app(container)) as base:
        def remote(*argv: str) -> tuple[int, str, str]:
            out, err = stdio.StringIO(), stdio.StringIO()
            code = main(["--server", base, "--token", ADMIN, *argv], Io(out=out, err=err),
                        {"HOME": "/nonexistent"})
            return code, out.getvalue(), err.getvalue()

        added = remote(":sources", "add", "greet", REF, "--trusted")
        listed = remote(":sources", "--json")
        untrusted = remote(":sources", "add", "x", REF)
        refreshed = remote(":sources", "refresh", "greet")
        removed = remote(":sources", "remove", "greet")
        missing = remote(":sources", "remove", "greet")
    local = cli(container, ":sources", "--json")
    close(container)

    assert added[0] == 0 and f"pinned to {digest}" in added[1]
    assert json.loads(listed[1])["sources"][0]["digest"] == digest
    assert untrusted[0] == 125 and untrusted[2].startswith("error[source.trust.required]")
    assert refreshed[0] == 0 and "digest unchanged" in refreshed[1]
    assert removed[0] == 0 and missing[0] == 2 and missing[2].startswith("error[source.not.found]")
    assert json.loads(local[1]) == {"sources": []}


def test_plan_only_server_validates_then_refuses_to_add_a_source_when_it_has_no_runtime(
        tmp_path: Path) -> None:
    from flwd.ports.kinds import DispatchKind

    container = make_container(tmp_path, fake_runtime(), dispatch=DispatchKind.NONE)
    images = container.addon_images()
    images.publish(REF, ADDON)
    with TestClient(make_app(container, runtime_enabled=False)) as client:
        untrusted = client.post("/sources", json={"name": "greet", "ref": REF}, headers=auth())
        refused = client.post("/sources", json={"name": "greet", "ref": REF, "trusted": True},
                              headers=auth())
    close(container)

    assert untrusted.json()["code"] == "source.trust.required"
    assert refused.status_code == 422 and refused.json()["code"] == "container.runtime.unavailable"
    assert images.pulled == []


def test_addon_run_is_refused_unsigned_under_secure_and_warned_under_permissive(
        engine: Container) -> None:
    engine.addon_images().publish(REF, ADDON)
    cli(engine, ":sources", "add", "greet", REF, "--trusted")
    engine.signature_check_for.reset_override()

    refused = cli(engine, "greet/hello", "--name", "Ada")
    warned = cli(engine, "greet/hello", "--name", "Ada", "--profile", "permissive")

    assert refused[0] == 125 and refused[2].startswith("error[image.signature.required]")
    (run,) = engine.query_runs().page(job_id="greet/hello", status=None, limit=5).runs
    assert warned[0] == 0 and run.profile == "permissive"
    decisions = [e.data for e in engine.query_runs().events(run.run_id)
                 if e.type == "policy.decision" and e.data["subject"] == "image.signature"]
    assert [(d["decision"], d["code"]) for d in decisions] == [("warn", "image.signature.required")]


def test_sources_names_its_actions_when_given_an_unknown_one(engine: Container) -> None:
    code, out, err = cli(engine, ":sources", "bogus")

    assert code == 2 and out == ""
    assert err.startswith("error[usage.invalid]: unknown :sources action 'bogus' (actions: add, refresh, remove")
