"""Sources end to end (SPEC section 10) on rootless Podman and Docker with the local registry:
add -> list -> plan -> run through the CLI and the API, trust, registry policy, manifests,
moved tags and refresh, a deleted image, secrets, and cosign signatures."""

from __future__ import annotations

import io as stdio
import json
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from flwd.adapters.runtime_detect import RuntimeEndpoint
from flwd.entrypoints.cli.main import main
from flwd.entrypoints.cli.render import Io
from flwd.entrypoints.config import FlwdConfig
from flwd.entrypoints.container import Container, build_container
from flwd.ports.kinds import RuntimeKind
from tests.integration.addon_images import PushedAddon, mixed_manifest, push_addon
from tests.integration.cosign_sign import SigningKeys, cosign_keys, sign_image  # noqa: F401 (fixture)
from tests.integration.e2e_support import RUNTIMES, Runtime, runtime_for
from tests.integration.oci_registry import LocalRegistry
from tests.unit.http_support import auth, make_app

UNSIGNED_OK = "verify_signatures: disabled\n"
SECRET = "s3cr3t-add-on-value"
PEEK = """\
#!/bin/sh
echo "secret file: $(cat /run/secrets/token)"
echo "in env: $(env | grep -c s3cr3t || true)"
echo "args: $FLWD_ARGS_JSON"
"""
PEEK_MANIFEST = """\
apiVersion: flwd.addon/v1
kind: AddOn
metadata: {name: peek, version: 1.0.0}
jobs:
  - id: peek
    command: ["/bin/sh", "/opt/hello/peek.sh"]
    argspec:
      args:
        - {name: who, type: string, default: me}
        - {name: token, type: string, format: secret, required: true}
"""


@pytest.fixture(scope="module", params=RUNTIMES)
def rt(request: pytest.FixtureRequest, registry_podman: str) -> Runtime:
    if request.param == "podman":
        return Runtime(name="podman", socket=registry_podman)
    return runtime_for(request.param, request)


Engine = Callable[..., Container]


@pytest.fixture
def make_engine(rt: Runtime, shared_tmp: Path) -> Iterator[Engine]:
    """``make_engine(policy_text, profile=None)``: the real container on the runtime under
    test, with its own data directory and policy file."""
    built: list[Container] = []

    def make(policy: str = UNSIGNED_OK, profile: str | None = None) -> Container:
        base = shared_tmp / f"e{len(built)}"
        (base / "jobs").mkdir(parents=True)
        (base / "policy.yaml").write_text(policy)
        container = build_container(FlwdConfig(
            jobs_dirs=(str(base / "jobs"),), data_dir=str(base / "data"),
            runtime=RuntimeKind(rt.name), policy_file=str(base / "policy.yaml"),
            default_profile=profile))
        container.runtime_found.override(providers.Object(
            RuntimeEndpoint(kind=RuntimeKind(rt.name), url=rt.socket)))
        built.append(container)
        return container

    yield make
    for container in built:
        container.shutdown_resources()


def cli(engine: Container, *argv: str) -> tuple[int, str, str]:
    out, err = stdio.StringIO(), stdio.StringIO()
    code = main(list(argv), Io(out=out, err=err), {"HOME": "/nonexistent"}, container=engine)
    return code, out.getvalue(), err.getvalue()


def cli_json(engine: Container, *argv: str) -> Any:
    code, out, err = cli(engine, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def add(engine: Container, pushed: PushedAddon, name: str = "greet") -> tuple[int, str, str]:
    return cli(engine, ":sources", "add", name, pushed.ref, "--trusted")


def remove_local_image(rt: Runtime, image: str) -> None:
    found = rt.cli("image", "inspect", "--format", "{{.Id}}", image)
    assert found.returncode == 0, found.stderr
    assert rt.cli("rmi", "-f", found.stdout.strip()).returncode == 0


def test_addon_job_is_added_listed_planned_and_run_when_trusted(
        rt: Runtime, make_engine: Engine, local_registry: LocalRegistry) -> None:
    engine = make_engine()
    pushed = push_addon(local_registry, "e2e")

    code, out, err = add(engine, pushed)
    assert code == 0, err
    assert f"pinned to {pushed.digest}" in out
    (source,) = cli_json(engine, ":sources")["sources"]
    assert (source["digest"], source["jobs"], source["addon"]) == (
        pushed.digest, ["greet/hello"], {"name": "hello-tools", "version": "1.0.0"})
    (job,) = [j for j in cli_json(engine, ":jobs")["jobs"] if j["id"] == "greet/hello"]
    origin = {"source": "greet", "kind": "oci", "ref": pushed.ref, "digest": pushed.digest,
              "addon_version": "1.0.0"}
    assert job["origin"] == origin
    plan = cli_json(engine, ":plan", "greet/hello", "--name", "Ada")
    assert plan["image"] == pushed.pinned and plan["command"] == ["/bin/sh", "/opt/hello/hello.sh"]

    code, out, err = cli(engine, "greet/hello", "--name", "Ada")
    assert (code, out) == (0, "Hello Ada\n"), err
    (run,) = engine.query_runs().page(job_id="greet/hello", status=None, limit=5).runs
    assert dict(run.origin) == origin and run.image == pushed.pinned
    created = engine.query_runs().events(run.run_id)[0]
    assert created.type == "run.created" and created.data["origin"] == origin

    remove_local_image(rt, pushed.pinned)  # a later run pulls the pinned digest again
    before = local_registry.mark()
    code, out, err = cli(engine, "greet/hello", "--name", "Bob")
    assert (code, out) == (0, "Hello Bob\n"), err
    asked = local_registry.requests(pushed.repository, before)
    assert any(r.startswith(f"GET /v2/{pushed.repository}/blobs/") for r in asked), asked

    assert cli(engine, ":sources", "remove", "greet")[0] == 0
    assert engine.query_runs().get(run.run_id).origin["digest"] == pushed.digest
    assert cli(engine, "greet/hello", "--name", "Eve")[2].startswith("error[job.not.found]")


def test_untrusted_source_is_refused_before_any_pull_when_not_trusted(
        make_engine: Engine, local_registry: LocalRegistry) -> None:
    engine = make_engine()
    pushed = push_addon(local_registry, "untrusted")
    before = local_registry.mark()

    code, out, err = cli(engine, ":sources", "add", "greet", pushed.ref)

    assert code == 125 and out == ""
    assert err.startswith("error[source.trust.required]: ")
    assert local_registry.requests(pushed.repository, before) == []


def test_registry_outside_allowed_registries_is_denied_when_adding(
        make_engine: Engine, local_registry: LocalRegistry) -> None:
    engine = make_engine(UNSIGNED_OK + "allowed_registries: [ghcr.io]\n")
    pushed = push_addon(local_registry, "denied")

    code, _, err = add(engine, pushed)

    assert code == 125 and err.startswith("error[image.registry.not.allowed]: ")
    assert cli_json(engine, ":sources") == {"sources": []}


def test_missing_manifest_is_refused_and_bad_jobs_are_listed_when_adding(
        make_engine: Engine, local_registry: LocalRegistry) -> None:
    engine = make_engine()
    bare = push_addon(local_registry, "bare", manifest="")
    mixed = push_addon(local_registry, "mixed", manifest=mixed_manifest())

    bare_code, _, bare_err = add(engine, bare, "bare")
    mixed_code, _, mixed_err = add(engine, mixed, "mixed")

    assert bare_code == 2 and bare_err.startswith("error[E_ADDON_MANIFEST]: ")
    assert mixed_code == 0, mixed_err
    jobs = cli_json(engine, ":jobs")
    assert [j["id"] for j in jobs["jobs"]] == ["mixed/hello"]
    assert sorted(bad["id"] for bad in jobs["invalid"]) == ["mixed/bad-type", "mixed/no-command"]
    assert [s["name"] for s in cli_json(engine, ":sources")["sources"]] == ["mixed"]


def test_moved_tag_keeps_the_pinned_digest_until_refresh_when_the_registry_changes(
        make_engine: Engine, local_registry: LocalRegistry) -> None:
    engine = make_engine()
    first = push_addon(local_registry, "moving")
    add(engine, first)
    moved = push_addon(local_registry, "moving", repository=first.repository, version="2.0.0")
    assert moved.digest != first.digest

    before = cli_json(engine, ":plan", "greet/hello", "--name", "Ada")["image"]
    code, out, err = cli(engine, ":sources", "refresh", "greet")
    after = cli_json(engine, ":plan", "greet/hello", "--name", "Ada")["image"]

    assert before == first.pinned and after == moved.pinned
    assert code == 0 and f"digest {first.digest} -> {moved.digest}" in out, err
    assert cli(engine, "greet/hello", "--name", "Ada")[1] == "Hello Ada\n"


def test_cli_and_api_give_identical_answers_when_they_share_a_store(
        make_engine: Engine, local_registry: LocalRegistry) -> None:
    engine = make_engine()
    pushed = push_addon(local_registry, "both")
    with TestClient(make_app(engine)) as client:
        added = client.post("/sources", json={"type": "oci", "name": "greet", "ref": pushed.ref,
                                              "trusted": True}, headers=auth())
        sources = client.get("/sources", headers=auth()).json()
        jobs = client.get("/jobs", headers=auth()).json()
        untrusted = client.post("/sources", json={"name": "x", "ref": pushed.ref}, headers=auth())

    assert added.status_code == 201, added.text
    assert cli_json(engine, ":sources") == sources
    assert cli_json(engine, ":jobs") == jobs
    code, _, err = cli(engine, ":sources", "add", "x", pushed.ref)
    assert untrusted.status_code == 422 and untrusted.json()["code"] == "source.trust.required"
    assert code == 125 and err.startswith("error[source.trust.required]")


def test_addon_secrets_stay_in_the_secret_file_when_an_addon_job_runs(
        make_engine: Engine, local_registry: LocalRegistry, tmp_path: Path) -> None:
    engine = make_engine()
    pushed = push_addon(local_registry, "peek", manifest=PEEK_MANIFEST,
                        extra_files={"/opt/hello/peek.sh": PEEK})
    add(engine, pushed, "peek")
    (tmp_path / "token").write_text(SECRET)

    code, out, err = cli(engine, "peek/peek", "--token", f"@{tmp_path / 'token'}")

    assert code == 0, err
    assert out.splitlines() == ["secret file: ***", "in env: 0", 'args: {"who":"me"}']
    plan = cli(engine, ":plan", "peek/peek", "--token", f"@{tmp_path / 'token'}", "--json")[1]
    assert SECRET not in plan and SECRET not in err
    db = Path(engine.config.db_path())
    assert not any(SECRET.encode() in f.read_bytes() for f in db.parent.glob("flwd.db*"))


@pytest.fixture
def signed_policy(cosign_keys: SigningKeys, shared_tmp: Path) -> str:
    cosign_keys.trusted.write_public(shared_tmp / "cosign.pub")
    return f"signature_keys: [{shared_tmp / 'cosign.pub'}]\n"


def test_signatures_decide_the_add_when_policy_names_a_key(
        make_engine: Engine, local_registry: LocalRegistry, cosign_keys: SigningKeys,
        signed_policy: str) -> None:
    secure, permissive = make_engine(signed_policy), make_engine(signed_policy, "permissive")
    unsigned = push_addon(local_registry, "unsigned")
    stranger = push_addon(local_registry, "stranger")
    sign_image(local_registry, stranger.repository, stranger.digest, cosign_keys.stranger)
    signed = push_addon(local_registry, "signed")
    sign_image(local_registry, signed.repository, signed.digest, cosign_keys.trusted)

    refused, invalid = add(secure, unsigned, "u"), add(secure, stranger, "s")
    warned, accepted = add(permissive, unsigned, "u"), add(secure, signed, "ok")

    assert refused[0] == 125 and refused[2].startswith("error[image.signature.required]")
    assert invalid[0] == 125 and invalid[2].startswith("error[image.signature.invalid]")
    assert warned[0] == 0 and warned[2].startswith("warning[image.signature.required]")
    assert accepted[0] == 0 and accepted[2] == "", accepted
    assert [s["name"] for s in cli_json(secure, ":sources")["sources"]] == ["ok"]
    ran = cli(secure, "ok/hello", "--name", "Ada")  # checked again before the run
    assert ran[:2] == (0, "Hello Ada\n"), ran
    warned_run = cli(permissive, "u/hello", "--name", "Bo")
    assert warned_run[0] == 0 and "warning[image.signature.required]" in warned_run[2]
    (run,) = permissive.query_runs().page(job_id="u/hello", status=None, limit=5).runs
    assert any(e.type == "policy.decision" and e.data["decision"] == "warn"
               and e.data["code"] == "image.signature.required"
               for e in permissive.query_runs().events(run.run_id))
