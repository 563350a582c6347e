"""The AddonImages adapters (SPEC section 10) on rootless Podman and Docker against the local
registry: pull and pin, presence, and the manifest read without running the image."""

from __future__ import annotations

import time
import uuid
from typing import Iterator

import pytest

from flwd.adapters.docker_addons import DockerAddonImages
from flwd.adapters.docker_runtime import DockerRuntime
from flwd.adapters.podman_addons import PodmanAddonImages
from flwd.adapters.podman_runtime import PodmanRuntime
from flwd.domain.errors import AddonManifestError, OciError
from flwd.domain.spec.addon import parse_addon_manifest
from flwd.domain.spec.addon_load import load_addon
from flwd.ports.addons import AddonImages
from flwd.ports.runtime import PullProgress
from tests.contracts.addons import Published, check_addon_images_contract
from tests.integration.addon_images import (
    LEGACY_MANIFEST_PATH,
    push_addon,
    dangling_volumes,
    volume_step,
)
from tests.integration.e2e_support import RUNTIMES, Runtime, runtime_for
from tests.integration.oci_registry import LocalRegistry


class Side:
    """The adapter under test and the runtime's own CLI on the same socket."""

    def __init__(self, images: AddonImages, rt: Runtime) -> None:
        self.images, self.rt = images, rt

    def readers(self) -> list[str]:
        """Add-on reader containers left on the runtime (created by any test here)."""
        done = self.rt.cli("ps", "-a", "--filter", "label=flwd.addon-reader", "--format", "{{.ID}}")
        assert done.returncode == 0, done.stderr
        return done.stdout.split()


@pytest.fixture(scope="module", params=RUNTIMES)
def side(request: pytest.FixtureRequest, registry_podman: str) -> Iterator[Side]:
    if request.param == "podman":
        runtime = PodmanRuntime(registry_podman)
        yield Side(PodmanAddonImages(runtime), Runtime(name="podman", socket=registry_podman))
    else:
        rt = runtime_for("docker", request)
        docker_runtime = DockerRuntime(rt.socket)
        yield Side(DockerAddonImages(docker_runtime), rt)
        runtime = docker_runtime
    runtime.close()


def test_adapter_keeps_the_addon_images_contract_against_the_local_registry(
    side: Side, local_registry: LocalRegistry
) -> None:
    good = push_addon(local_registry, "contract")
    bare = push_addon(local_registry, "contract-bare", manifest="")

    check_addon_images_contract(
        side.images, Published(ref=good.ref, digest=good.digest, missing_ref=f"{good.name}:9"),
        Published(ref=bare.ref, digest=bare.digest, missing_ref=f"{bare.name}:9"))

    assert side.readers() == []


def test_pull_pins_the_digest_the_registry_serves_with_progress_when_given_a_tag(
    side: Side, local_registry: LocalRegistry
) -> None:
    pushed = push_addon(local_registry, "pin")
    seen: list[PullProgress] = []

    image = side.images.pull(pushed.ref, seen.append)

    assert (image.ref, image.digest, image.pinned) == (pushed.ref, pushed.digest, pushed.pinned)
    assert seen and {s.image for s in seen} == {pushed.ref}
    assert side.images.present(pushed.pinned)


def test_pull_fails_e_oci_with_the_registry_words_when_the_tag_is_missing(
    side: Side, local_registry: LocalRegistry
) -> None:
    pushed = push_addon(local_registry, "notag")

    with pytest.raises(OciError) as err:
        side.images.pull(pushed.ref.replace(":1", ":2"), lambda _: None)

    assert err.value.code == "E_OCI" and "manifest unknown" in err.value.detail.lower()


def test_manifest_is_read_through_the_archive_api_leaving_no_container_when_present(
    side: Side, local_registry: LocalRegistry
) -> None:
    pushed = push_addon(local_registry, "read")
    image = side.images.pull(pushed.ref, lambda _: None)

    document = side.images.read_manifest(image.pinned)
    manifest = parse_addon_manifest(document, source="hello", image=image)

    assert document.path == "/flwd-addon/manifest.yaml" and document.error is None
    assert manifest.name == "hello-tools" and [j.id for j in manifest.jobs] == ["hello/hello"]
    assert manifest.jobs[0].image == pushed.pinned
    assert side.readers() == []


def test_manifest_is_found_at_the_legacy_path_when_only_there(
    side: Side, local_registry: LocalRegistry
) -> None:
    pushed = push_addon(local_registry, "legacy", manifest_path=LEGACY_MANIFEST_PATH)

    loaded = load_addon(side.images, source="old", ref=pushed.ref, progress=lambda _: None)

    assert loaded.manifest.path == LEGACY_MANIFEST_PATH
    assert [j.id for j in loaded.manifest.jobs] == ["old/hello"]


@pytest.mark.parametrize(("name", "text", "said"), [
    ("bare", "", "/flwd-addon/manifest.yaml or /addon/manifest.yaml not found"),
    ("badyaml", "apiVersion: [unclosed\n", "invalid YAML"),
    ("list", "- apiVersion: flwd.addon/v1\n", "must be a mapping"),
])
def test_missing_or_undecodable_manifest_is_e_addon_manifest_leaving_no_container(
    side: Side, local_registry: LocalRegistry, name: str, text: str, said: str
) -> None:
    pushed = push_addon(local_registry, name, manifest=text)

    with pytest.raises(AddonManifestError) as err:
        load_addon(side.images, source=name, ref=pushed.ref, progress=lambda _: None)

    assert err.value.code == "E_ADDON_MANIFEST" and said in err.value.detail, err.value.detail
    assert side.readers() == []


def test_reading_an_image_that_is_not_present_fails_e_oci_and_leaves_no_container(
    side: Side, local_registry: LocalRegistry
) -> None:
    pushed = push_addon(local_registry, "absent")  # in the registry, never pulled

    assert not side.images.present(pushed.pinned)
    with pytest.raises(OciError):
        side.images.read_manifest(pushed.pinned)
    assert side.readers() == []


@pytest.mark.parametrize(("name", "steps"), [
    ("symlink", ["RUN mkdir /flwd-addon && ln -s /etc/shadow /flwd-addon/manifest.yaml"]),
    ("directory", ["RUN mkdir -p /flwd-addon/manifest.yaml/x && echo a > /flwd-addon/manifest.yaml/x/y"]),
    ("fifo", ["RUN mkdir /flwd-addon && mkfifo /flwd-addon/manifest.yaml"]),
    ("huge", ["RUN mkdir /flwd-addon && dd if=/dev/zero of=/flwd-addon/manifest.yaml bs=1M count=24"]),
])
def test_hostile_manifest_entry_is_e_addon_manifest_leaving_no_container(
    side: Side, local_registry: LocalRegistry, name: str, steps: list[str]
) -> None:
    """A link (Podman follows it inside the image's rootfs only), a directory, a fifo or a
    file far over the limit (read no further than the limit) never becomes a manifest."""
    pushed = push_addon(local_registry, f"hostile-{name}", manifest="", steps=steps)

    with pytest.raises(AddonManifestError) as err:
        load_addon(side.images, source=name, ref=pushed.ref, progress=lambda _: None)

    assert err.value.code == "E_ADDON_MANIFEST", err.value.detail
    assert side.readers() == []


def test_reading_the_manifest_leaves_no_volume_when_the_image_declares_one(
    side: Side, local_registry: LocalRegistry
) -> None:
    """libpod ignores ``v=true`` on removal: each read left the image's VOLUME behind."""
    pushed = push_addon(local_registry, "volume", steps=volume_step(f"m-{uuid.uuid4().hex}"))
    image = side.images.pull(pushed.ref, lambda _: None)
    before = dangling_volumes(side.rt)

    document = side.images.read_manifest(image.pinned)

    assert document.error is None and side.readers() == []
    assert dangling_volumes(side.rt) - before == set()


def test_reader_left_by_a_killed_add_is_removed_by_the_next_read_when_stale(
    side: Side, local_registry: LocalRegistry
) -> None:
    """SIGKILL, or the runtime gone mid-read, leaves a reader no finally can remove."""
    pushed = push_addon(local_registry, "stale")
    image = side.images.pull(pushed.ref, lambda _: None)
    left = side.rt.cli("create", "--label", f"flwd.addon-reader={image.pinned}", image.pinned,
                       "/flwd-addon-reader-never-started")
    assert left.returncode == 0, left.stderr
    time.sleep(2.5)
    sweeping = (PodmanAddonImages(PodmanRuntime(side.rt.socket), stale_after=2.0)
                if side.rt.name == "podman"
                else DockerAddonImages(DockerRuntime(side.rt.socket), stale_after=2.0))

    sweeping.read_manifest(image.pinned)

    assert side.readers() == []
