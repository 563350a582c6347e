"""An add-on job through the engine the CLI and API use (fakes for runtime and add-on images):
its pinned image, its manifest command, no job directory, its origin in plan and run.created."""

from __future__ import annotations

from pathlib import Path

import pytest
from dependency_injector import providers

from flwd.adapters.docker_addons import DockerAddonImages
from flwd.adapters.fake_runtime import FakeRuntime
from flwd.adapters.fakes import FakeAddonImages, FakeRunWorkspace
from flwd.adapters.podman_addons import PodmanAddonImages
from flwd.adapters.runtime_detect import RuntimeEndpoint
from flwd.domain.model import JobSpec
from flwd.domain.plan.assembly import plan_as_dict
from flwd.domain.plan.use_cases import RunRequest
from flwd.domain.spec.addon_load import LoadedAddon, load_addon
from flwd.entrypoints.config import FlwdConfig
from flwd.entrypoints.container import Container, build_container
from flwd.ports.kinds import RuntimeKind
from flwd.ports.store import EventRecord
from tests.fixed_jobs import FixedJobs

REF = "registry.example/tools/hello:1"
MANIFEST = {"apiVersion": "flwd.addon/v1", "kind": "AddOn",
            "metadata": {"name": "hello-tools", "version": "1.2.0"},
            "jobs": [{"id": "hello", "command": ["/bin/sh", "/opt/hello/hello.sh"],
                      "argspec": {"args": [{"name": "name", "type": "string", "required": True},
                                           {"name": "token", "type": "string", "format": "secret"}]}}]}


@pytest.fixture
def loaded(engine: Container) -> LoadedAddon:
    images = FakeAddonImages()
    images.publish(REF, MANIFEST)
    engine.addon_images.override(providers.Object(images))
    addon = load_addon(engine.addon_images(), source="greet", ref=REF, progress=lambda _: None)
    engine.list_jobs.override(providers.Object(FixedJobs(addon.manifest.jobs)))
    return addon


def test_add_on_container_runs_the_pinned_image_and_manifest_command_when_started(
    engine: Container, loaded: LoadedAddon, fake_runtime: FakeRuntime,
    fake_workspace: FakeRunWorkspace
) -> None:
    fake_runtime.images.add(loaded.image.pinned)
    fake_workspace.unreachable.add("")  # were the missing job directory checked, the run fails

    started = engine.start_run()(RunRequest(job="greet/hello", args={"name": "Ada", "token": "s3"}))
    record = started.result(timeout=30)

    spec = fake_runtime.created[0]
    assert record.status == "succeeded", record
    assert spec.image == loaded.image.pinned and record.image == loaded.image.pinned
    assert spec.command == ("/bin/sh", "/opt/hello/hello.sh")
    assert [m.target for m in spec.mounts] == ["/flwd/run", "/run/secrets"]
    assert spec.env["ARG_NAME"] == "Ada" and "ARG_TOKEN" not in spec.env
    assert fake_runtime.pulled == []


def test_run_created_carries_the_origin_when_the_job_is_an_add_on_job(
    engine: Container, loaded: LoadedAddon, fake_runtime: FakeRuntime
) -> None:
    fake_runtime.images.add(loaded.image.pinned)
    events: list[EventRecord] = []

    engine.start_run()(RunRequest(job="greet/hello", args={"name": "Ada"}),
                       listeners=[events.append]).result(timeout=30)

    assert events[0].type == "run.created"
    assert events[0].data["origin"] == {"source": "greet", "kind": "oci", "ref": REF,
                                        "digest": loaded.image.digest, "addon_version": "1.2.0"}


def test_pinned_image_is_pulled_when_missing_from_the_local_store(
    engine: Container, loaded: LoadedAddon, fake_runtime: FakeRuntime
) -> None:
    record = engine.start_run()(RunRequest(job="greet/hello", args={"name": "Ada"})).result(30)

    assert record.status == "succeeded" and fake_runtime.pulled == [loaded.image.pinned]


def test_plan_shows_the_pinned_image_origin_and_no_job_mount_when_planned(
    engine: Container, loaded: LoadedAddon
) -> None:
    _, prepared = engine.plan_job()(RunRequest(job="greet/hello", args={"name": "Ada"}))
    plan = plan_as_dict(prepared.plan)

    assert plan["image"] == loaded.image.pinned
    assert plan["origin"]["digest"] == loaded.image.digest
    assert [m["target"] for m in plan["mounts"]] == ["/flwd/run"]


def test_local_job_plan_has_no_origin_and_keeps_its_job_mount(tmp_path: Path) -> None:
    job = JobSpec(id="local", directory="/srv/local", spec_path="/srv/local/job.yaml",
                  image="alpine:3.20", command=("true",))
    container = build_container(FlwdConfig(jobs_dirs=(str(tmp_path),), data_dir=str(tmp_path / "d")))
    container.list_jobs.override(providers.Object(FixedJobs((job,))))

    _, prepared = container.plan_job()(RunRequest(job="local"))
    plan = plan_as_dict(prepared.plan)

    assert plan["origin"] is None and [m["target"] for m in plan["mounts"]] == ["/flwd/job", "/flwd/run"]


@pytest.mark.parametrize(("kind", "adapter"), [(RuntimeKind.PODMAN, PodmanAddonImages),
                                               (RuntimeKind.DOCKER, DockerAddonImages)])
def test_addon_images_provider_follows_the_runtime_kind_found(
        tmp_path: Path, kind: RuntimeKind, adapter: type) -> None:
    container = build_container(FlwdConfig(jobs_dirs=(str(tmp_path),), data_dir=str(tmp_path / "d")))
    container.runtime_found.override(providers.Object(
        RuntimeEndpoint(kind=kind, url="unix:///nonexistent.sock")))

    images = container.addon_images()
    container.shutdown_resources()

    assert type(images) is adapter


def relaxed_addon(engine: Container) -> None:
    images = FakeAddonImages()
    relaxed = {**MANIFEST, "jobs": [{**MANIFEST["jobs"][0], "container": {"network": "bridge"}}]}  # type: ignore[dict-item]
    images.publish(REF, relaxed)
    addon = load_addon(images, source="greet", ref=REF, progress=lambda _: None)
    engine.list_jobs.override(providers.Object(FixedJobs(addon.manifest.jobs)))


@pytest.mark.parametrize(("profile", "verdict"), [("secure", "deny"), ("disabled", "warn")])
def test_add_on_relaxation_is_policy_checked_like_any_job_when_planned(
    engine: Container, profile: str, verdict: str
) -> None:
    relaxed_addon(engine)

    _, prepared = engine.plan_job()(RunRequest(job="greet/hello", args={"name": "Ada"},
                                               requested_profile=profile))
    network = [d for d in prepared.plan.decisions if d.subject == "container.network"]

    assert [d.decision.value for d in network] == [verdict]

