"""Running an add-on job (SPEC section 10) through the normal run path on rootless Podman and
Docker: the add-on image pinned by digest, the manifest's command, the ULC arguments, and the
pinned digest pulled again when the image was deleted from the local store.

The catalog is the add-on's manifest as loaded through the container's ``addon_images``
provider (sources-core merges it into the real catalog); everything after it is the engine
the CLI and the API use.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
from dependency_injector import providers

from flwd.adapters.runtime_detect import RuntimeEndpoint
from flwd.domain.plan.assembly import plan_as_dict
from flwd.domain.plan.use_cases import RunRequest
from flwd.domain.spec.addon_load import LoadedAddon, load_addon
from flwd.entrypoints.config import FlwdConfig
from flwd.entrypoints.container import Container, build_container
from flwd.ports.kinds import RuntimeKind
from flwd.ports.store import EventRecord
from tests.fixed_jobs import FixedJobs
from tests.integration.addon_images import (
    HELLO_SCRIPT_PATH,
    PushedAddon,
    push_addon,
    volume_step,
    volumes_holding,
)
from tests.integration.e2e_support import RUNTIMES, Runtime, runtime_for
from tests.integration.oci_registry import LocalRegistry


@pytest.fixture(scope="module", params=RUNTIMES)
def rt(request: pytest.FixtureRequest, registry_podman: str) -> Runtime:
    if request.param == "podman":
        return Runtime(name="podman", socket=registry_podman)
    return runtime_for(request.param, request)


@pytest.fixture
def engine(rt: Runtime, shared_tmp: Path) -> Iterator[Container]:
    jobs = shared_tmp / "jobs"
    jobs.mkdir()
    container = build_container(FlwdConfig(jobs_dirs=(str(jobs),), data_dir=str(shared_tmp / "data"),
                                           runtime=RuntimeKind(rt.name)))
    container.runtime_found.override(providers.Object(
        RuntimeEndpoint(kind=RuntimeKind(rt.name), url=rt.socket)))
    container.list_jobs.override(providers.Object(FixedJobs()))
    yield container
    container.shutdown_resources()


def load(engine: Container, pushed: PushedAddon) -> LoadedAddon:
    loaded = load_addon(engine.addon_images(), source="greet", ref=pushed.ref,
                        progress=lambda _: None)
    engine.list_jobs.override(providers.Object(FixedJobs(loaded.manifest.jobs)))
    return loaded


def run(engine: Container, name: str) -> tuple[Any, list[EventRecord]]:
    events: list[EventRecord] = []
    started = engine.start_run()(RunRequest(job="greet/hello", args={"name": name}),
                                 listeners=[events.append])
    return started.result(timeout=180), events


def lines(events: list[EventRecord]) -> list[str]:
    return [str(e.data["line"]) for e in events if e.type == "run.output"]


def pulled(events: list[EventRecord]) -> list[bool]:
    return [bool(e.data["pulled"]) for e in events
            if e.type == "image.pull" and e.data.get("status") == "ready"]


def remove_local_image(rt: Runtime, image: str) -> None:
    found = rt.cli("image", "inspect", "--format", "{{.Id}}", image)
    assert found.returncode == 0, found.stderr
    done = rt.cli("rmi", "-f", found.stdout.strip())
    assert done.returncode == 0, done.stderr
    assert rt.cli("image", "inspect", image).returncode != 0


def test_add_on_job_runs_its_pinned_image_with_the_manifest_command_when_started(
    engine: Container, local_registry: LocalRegistry
) -> None:
    pushed = push_addon(local_registry, "run")
    loaded = load(engine, pushed)

    record, events = run(engine, "Ada")
    created = events[0].data

    assert record.status == "succeeded", [e.as_dict() for e in events]
    assert lines(events) == ["Hello Ada"]
    assert record.image == pushed.pinned and created["image"] == pushed.pinned
    assert created["origin"] == {"source": "greet", "kind": "oci", "ref": pushed.ref,
                                 "digest": pushed.digest, "addon_version": "1.0.0"}
    assert loaded.manifest.jobs[0].command == ("/bin/sh", "/opt/hello/hello.sh")


def test_plan_of_an_add_on_job_shows_the_pinned_image_and_no_job_directory(
    engine: Container, local_registry: LocalRegistry
) -> None:
    pushed = push_addon(local_registry, "plan")
    load(engine, pushed)

    _, prepared = engine.plan_job()(RunRequest(job="greet/hello", args={"name": "Ada"}))
    plan = plan_as_dict(prepared.plan)

    assert plan["image"] == pushed.pinned
    assert plan["command"] == ["/bin/sh", "/opt/hello/hello.sh"]
    assert [m["target"] for m in plan["mounts"]] == ["/flwd/run"]
    assert plan["origin"]["digest"] == pushed.digest


def test_pinned_digest_is_pulled_again_when_the_image_was_deleted_locally(
    rt: Runtime, engine: Container, local_registry: LocalRegistry
) -> None:
    pushed = push_addon(local_registry, "gone")
    load(engine, pushed)
    first, first_events = run(engine, "Ada")
    remove_local_image(rt, pushed.pinned)
    before = local_registry.mark()

    again, events = run(engine, "Bob")

    assert first.status == "succeeded" and pulled(first_events) == [False]
    assert again.status == "succeeded", [e.as_dict() for e in events]
    assert lines(events) == ["Hello Bob"] and pulled(events) == [True]
    assert {e.data["image"] for e in events if e.type == "image.pull"} == {pushed.pinned}
    assert local_registry.requests(pushed.repository, before)  # the registry was asked again


SECRET_MANIFEST = """\
apiVersion: flwd.addon/v1
kind: AddOn
metadata: {name: secret-tools, version: "1.0.0"}
jobs:
  - id: login
    command: ["/bin/sh", "/opt/secret/login.sh"]
    argspec:
      args:
        - {name: user, type: string, required: true}
        - {name: token, type: string, format: secret, required: true}
"""
SECRET_SCRIPT = """\
#!/bin/sh
echo "user $ARG_USER"
echo "mode $(stat -c %a /run/secrets/token)"
echo "value $(cat /run/secrets/token)"
env | grep -q "$(cat /run/secrets/token)" && echo "env leaks" || echo "env clean"
echo "json $FLWD_ARGS_JSON"
"""


def test_add_on_secret_is_a_0400_file_never_in_env_or_events_when_given(
    engine: Container, local_registry: LocalRegistry
) -> None:
    secret = "add-on-S3cr3t-value"
    pushed = push_addon(local_registry, "secret", manifest=SECRET_MANIFEST,
                        extra_files={"/opt/secret/login.sh": SECRET_SCRIPT})
    loaded = load_addon(engine.addon_images(), source="vault", ref=pushed.ref,
                        progress=lambda _: None)
    engine.list_jobs.override(providers.Object(FixedJobs(loaded.manifest.jobs)))
    events: list[EventRecord] = []

    record = engine.start_run()(RunRequest(job="vault/login", args={"user": "ada", "token": secret}),
                                listeners=[events.append]).result(timeout=180)

    assert record.status == "succeeded", [e.as_dict() for e in events]
    assert lines(events) == ["user ada", "mode 400", "value ***", "env clean",
                             'json {"user":"ada"}']
    assert secret not in repr([e.as_dict() for e in events]) and secret not in repr(record)


VOLUME_SCRIPT = """\
#!/bin/sh
touch /data/written 2>/dev/null && echo "data writable" || echo "data read-only"
"""


def test_add_on_job_cannot_write_to_its_images_volume_nor_leave_it_behind_when_run_secure(
    rt: Runtime, engine: Container, local_registry: LocalRegistry
) -> None:
    """An image's VOLUME was a writable volume beside the read-only rootfs on both runtimes,
    and libpod kept it after the run."""
    marker = f"marker-{uuid.uuid4().hex}"
    pushed = push_addon(local_registry, "volume", steps=volume_step(marker),
                        extra_files={HELLO_SCRIPT_PATH: VOLUME_SCRIPT})
    load(engine, pushed)

    record, events = run(engine, "Ada")

    assert record.status == "succeeded", [e.as_dict() for e in events]
    assert lines(events) == ["data read-only"]
    assert volumes_holding(rt, marker) == []
