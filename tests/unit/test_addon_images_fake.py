"""FakeAddonImages keeps the AddonImages contract; load and re-pin use cases on it."""

from __future__ import annotations

import pytest

from flwd.adapters.fakes import FakeAddonImages
from flwd.domain.errors import (
    AddonManifestError,
    JobNotFoundError,
    OciError,
    RuntimeUnavailableError,
    SpecInvalidError,
)
from flwd.domain.model import JobSpec
from flwd.domain.spec.addon_load import load_addon, repin_addon_job
from flwd.ports.addons import AddonImages, MANIFEST_PATHS
from tests.contracts.addons import Published, check_addon_images_contract

REF = "registry.example/tools/hello:1"


def manifest(version: str = "1.0.0", command: str = "/opt/hello.sh",
             job_id: str = "hello") -> dict[str, object]:
    return {"apiVersion": "flwd.addon/v1", "kind": "AddOn",
            "metadata": {"name": "hello-tools", "version": version},
            "jobs": [{"id": job_id, "command": [command],
                      "argspec": {"args": [{"name": "name", "type": "string"}]}}]}


def loaded_job(images: FakeAddonImages) -> JobSpec:
    return load_addon(images, source="greet", ref=REF, progress=lambda _: None).manifest.jobs[0]


def test_fake_keeps_the_addon_images_contract_when_published() -> None:
    images = FakeAddonImages()
    digest = images.publish(REF, manifest())
    bare = images.publish("registry.example/tools/bare:1", None)

    check_addon_images_contract(
        images,
        Published(ref=REF, digest=digest, missing_ref="registry.example/tools/hello:2"),
        Published(ref="registry.example/tools/bare:1", digest=bare, missing_ref=""))

    assert images.containers == set() and images.created == 2


def test_fake_conforms_to_the_port_when_assigned() -> None:
    images: AddonImages = FakeAddonImages()

    assert images.present("registry.example/x@sha256:" + "0" * 64) is False


def test_unavailable_fake_raises_the_runtime_error_when_configured() -> None:
    images = FakeAddonImages(unavailable=True)

    with pytest.raises(RuntimeUnavailableError):
        images.pull(REF, lambda _: None)


def test_load_addon_pins_the_digest_and_reports_progress_when_pulled() -> None:
    images = FakeAddonImages()
    digest = images.publish(REF, manifest())
    steps: list[str] = []

    loaded = load_addon(images, source="greet", ref=REF, progress=lambda s: steps.append(s.status))

    assert loaded.image.digest == digest
    assert loaded.image.pinned == f"registry.example/tools/hello@{digest}"
    assert [j.image for j in loaded.manifest.jobs] == [loaded.image.pinned]
    assert steps == ["pulling", "pulled"]


def test_load_addon_is_e_addon_manifest_when_the_image_has_none() -> None:
    images = FakeAddonImages()
    images.publish(REF, None)

    with pytest.raises(AddonManifestError) as err:
        load_addon(images, source="greet", ref=REF, progress=lambda _: None)

    assert MANIFEST_PATHS[0] in err.value.detail and images.containers == set()


def test_load_addon_is_e_oci_when_the_tag_is_missing() -> None:
    with pytest.raises(OciError):
        load_addon(FakeAddonImages(), source="greet", ref=REF, progress=lambda _: None)


def test_repin_keeps_the_job_and_records_nothing_when_the_tag_did_not_move() -> None:
    images = FakeAddonImages()
    images.publish(REF, manifest())
    job = loaded_job(images)

    repinned = repin_addon_job(images, job, lambda _: None)

    assert repinned.job is job and repinned.event is None and repinned.loaded is None
    assert images.pulled == [REF, REF]


def test_repin_runs_the_new_digest_and_its_manifest_with_an_event_when_the_tag_moved() -> None:
    images = FakeAddonImages()
    old = images.publish(REF, manifest())
    job = loaded_job(images)
    new = images.publish(REF, manifest(version="1.1.0", command="/opt/hello2.sh"))

    repinned = repin_addon_job(images, job, lambda _: None)

    assert repinned.job.image.endswith(f"@{new}") and repinned.job.command == ("/opt/hello2.sh",)
    assert repinned.job.origin is not None and repinned.job.origin.addon_version == "1.1.0"
    assert repinned.event == {"source": "greet", "ref": REF, "old_digest": old, "new_digest": new}
    assert repinned.loaded is not None and repinned.loaded.image.digest == new


def test_repin_is_job_not_found_when_the_moved_tag_dropped_the_job() -> None:
    images = FakeAddonImages()
    images.publish(REF, manifest())
    job = loaded_job(images)
    images.publish(REF, manifest(job_id="other"))

    with pytest.raises(JobNotFoundError):
        repin_addon_job(images, job, lambda _: None)


def test_repin_is_the_job_error_when_the_moved_tag_broke_the_job() -> None:
    images = FakeAddonImages()
    images.publish(REF, manifest())
    job = loaded_job(images)
    broken = manifest()
    broken["jobs"] = [{"id": "hello"}]
    images.publish(REF, broken)

    with pytest.raises(SpecInvalidError) as err:
        repin_addon_job(images, job, lambda _: None)

    assert err.value.context["field"] == "jobs[0].command"


def test_repin_pulls_nothing_when_the_job_is_local() -> None:
    images = FakeAddonImages()
    job = JobSpec(id="local", directory="/srv/local", spec_path="job.yaml", image="alpine:3.20")

    assert repin_addon_job(images, job, lambda _: None).job is job and images.pulled == []
