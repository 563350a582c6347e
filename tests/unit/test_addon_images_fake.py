"""FakeAddonImages keeps the AddonImages contract; the load use case on it."""

from __future__ import annotations

import pytest

from flwd.adapters.fakes import FakeAddonImages
from flwd.domain.errors import AddonManifestError, OciError, RuntimeUnavailableError
from flwd.domain.spec.addon_load import load_addon
from flwd.ports.addons import AddonImages, MANIFEST_PATHS
from tests.contracts.addons import Published, check_addon_images_contract

REF = "registry.example/tools/hello:1"


def manifest(version: str = "1.0.0", command: str = "/opt/hello.sh",
             job_id: str = "hello") -> dict[str, object]:
    return {"apiVersion": "flwd.addon/v1", "kind": "AddOn",
            "metadata": {"name": "hello-tools", "version": version},
            "jobs": [{"id": job_id, "command": [command],
                      "argspec": {"args": [{"name": "name", "type": "string"}]}}]}


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

