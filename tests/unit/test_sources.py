"""Sources use cases on the shipped fakes: add, refresh, remove, list, and the catalog merge."""

from __future__ import annotations

from typing import Any

import pytest

from flwd.adapters.fake_addons import FakeAddonImages
from flwd.adapters.fakes import FakeClock, FakeJobCatalog, FakeRunStore
from flwd.domain.errors import (
    AddonManifestError,
    ImageRegistryNotAllowedError,
    OciError,
    RequestInvalidError,
    SourceExistsError,
    SourceNotFoundError,
    SourceTrustRequiredError,
    SpecInvalidError,
)
from flwd.domain.model import Decision, PolicyBundle, Verdict
from flwd.domain.plan.use_cases import ListJobs
from flwd.domain.sources.jobs import SourceJobs
from flwd.domain.sources.rules import SourceRequest
from flwd.domain.sources.use_cases import (
    AddSource,
    QuerySources,
    RefreshSource,
    RemoveSource,
    SourceDeps,
)
from flwd.domain.spec.addon import parse_addon_manifest
from flwd.ports.catalog import JobDocument
from flwd.ports.runtime import PullProgress

REF = "localhost:5000/addons/tools:1"


def manifest(*jobs: dict[str, Any], version: str = "1.0.0") -> dict[str, Any]:
    return {"apiVersion": "flwd.addon/v1", "kind": "AddOn",
            "metadata": {"name": "tools", "version": version}, "jobs": list(jobs)}


HELLO = {"id": "hello", "command": ["/bin/echo", "Hello"],
         "argspec": {"args": [{"name": "name", "type": "string", "required": True}]}}
BYE = {"id": "bye", "command": ["/bin/echo", "Bye"]}


class World:
    def __init__(self, bundle: PolicyBundle | None = None) -> None:
        self.images = FakeAddonImages()
        self.store = FakeRunStore()
        self.clock = FakeClock()
        self.catalog = FakeJobCatalog()
        self.deps = SourceDeps(store=self.store, images=self.images, parse=parse_addon_manifest,
                               clock=self.clock, bundle=bundle or PolicyBundle())

    def add(self, name: str = "tools", ref: str = REF, **changes: Any) -> Any:
        request = SourceRequest(name=name, ref=ref, trusted=changes.pop("trusted", True), **changes)
        return AddSource(deps=self.deps)(request)

    def list_jobs(self) -> ListJobs:
        return ListJobs(catalog=self.catalog, sources=self.store,
                        addon_jobs=SourceJobs(parse_addon_manifest))


@pytest.fixture
def world() -> World:
    return World()


def test_add_pins_the_digest_and_records_the_manifest_when_trusted(world: World) -> None:
    digest = world.images.publish(REF, manifest(HELLO, BYE))
    seen: list[PullProgress] = []

    change = AddSource(deps=world.deps)(SourceRequest(name="tools", ref=REF, trusted=True),
                                        seen.append)

    stored = world.store.get_source("tools")
    assert stored is not None and stored.digest == digest
    assert stored.image == f"localhost:5000/addons/tools@{digest}"
    assert (stored.addon_name, stored.addon_version) == ("tools", "1.0.0")
    assert sorted(change.added) == ["tools/bye", "tools/hello"]
    assert seen and world.images.containers == set()


def test_add_is_refused_before_any_pull_when_not_trusted(world: World) -> None:
    world.images.publish(REF, manifest(HELLO))

    with pytest.raises(SourceTrustRequiredError) as err:
        world.add(trusted=False)

    assert err.value.code == "source.trust.required"
    assert world.images.pulled == [] and world.store.list_sources() == []


def test_add_is_denied_when_the_registry_is_not_allowed() -> None:
    world = World(PolicyBundle(allowed_registries=("ghcr.io",)))
    world.images.publish(REF, manifest(HELLO))

    with pytest.raises(ImageRegistryNotAllowedError):
        world.add()

    assert world.images.pulled == []


def test_add_answers_source_exists_without_pulling_when_the_name_is_taken(world: World) -> None:
    world.images.publish(REF, manifest(HELLO))
    world.add()

    with pytest.raises(SourceExistsError):
        world.add()

    assert world.images.pulled == [REF]


@pytest.mark.parametrize("changes", [{"name": "a/b"}, {"name": ""}, {"name": "tools\n"},
                                     {"pull_policy": "always"},
                                     {"type": "git"}, {"ref": "UPPER/Case::x"}])
def test_add_is_request_invalid_when_a_field_is_malformed(world: World, changes: dict[str, Any]) -> None:
    with pytest.raises(RequestInvalidError):
        world.add(**changes)


def test_add_records_nothing_when_the_manifest_is_missing(world: World) -> None:
    world.images.publish(REF, None)

    with pytest.raises(AddonManifestError) as err:
        world.add()

    assert err.value.code == "E_ADDON_MANIFEST"
    assert world.store.list_sources() == [] and world.images.containers == set()


def test_add_fails_with_e_oci_when_the_tag_does_not_exist(world: World) -> None:
    with pytest.raises(OciError):
        world.add()

    assert world.store.list_sources() == []


def test_add_reports_signature_warnings_when_the_check_warns(world: World) -> None:
    world.images.publish(REF, manifest(HELLO))
    warn = Decision(subject="image.signature", decision=Verdict.WARN,
                    code="image.signature.required", reason="unsigned")
    deps = SourceDeps(store=world.store, images=world.images, parse=parse_addon_manifest,
                      clock=world.clock, bundle=PolicyBundle(), check_signature=lambda i, d: [warn])

    change = AddSource(deps=deps)(SourceRequest(name="tools", ref=REF, trusted=True))

    assert change.decisions == (warn,)


def test_catalog_lists_addon_jobs_with_origin_and_bad_ones_invalid_when_merged(world: World) -> None:
    digest = world.images.publish(REF, manifest(HELLO, {"id": "broken"}, {"id": "b2", "command": 3}))
    world.add()

    catalog = world.list_jobs()()

    assert [job.id for job in catalog.jobs] == ["tools/hello"]
    job = catalog.jobs[0]
    assert job.origin is not None and job.origin.as_dict() == {
        "source": "tools", "kind": "oci", "ref": REF, "digest": digest, "addon_version": "1.0.0"}
    assert job.image.endswith("@" + digest)
    assert sorted(bad.id for bad in catalog.invalid) == ["tools/b2", "tools/broken"]


def test_catalog_marks_both_jobs_invalid_when_a_local_id_collides(world: World) -> None:
    world.images.publish(REF, manifest(HELLO, BYE))
    world.add()
    world.catalog.docs.append(JobDocument(
        default_id="tools/hello", spec_path="/jobs/tools/hello/job.yaml", directory="/jobs/tools/hello",
        data={"executor": "container", "image": "alpine:3.20", "command": ["true"]}))

    catalog = world.list_jobs()()

    assert [job.id for job in catalog.jobs] == ["tools/bye"]
    assert [bad.id for bad in catalog.invalid] == ["tools/hello", "tools/hello"]
    with pytest.raises(SpecInvalidError):
        catalog.find("tools/hello")


def test_refresh_keeps_the_old_digest_until_asked_when_the_tag_moves(world: World) -> None:
    first = world.images.publish(REF, manifest(HELLO, BYE))
    world.add()
    moved = world.images.publish(REF, manifest(HELLO, {"id": "new", "command": ["/bin/true"]},
                                               version="1.1.0"))
    assert world.list_jobs().find("tools/hello").origin.digest == first  # type: ignore[union-attr]

    change = RefreshSource(deps=world.deps)("tools")

    assert (change.previous_digest, change.source.digest) == (first, moved) and change.repinned
    assert (change.added, change.removed, change.changed) == (("tools/new",), ("tools/bye",), ())
    assert world.list_jobs().find("tools/hello").origin.digest == moved  # type: ignore[union-attr]


def test_refresh_says_nothing_changed_when_the_digest_is_the_same(world: World) -> None:
    world.images.publish(REF, manifest(HELLO))
    world.add()

    change = RefreshSource(deps=world.deps)("tools")

    assert not change.repinned and (change.added, change.removed, change.changed) == ((), (), ())


def test_refresh_and_remove_answer_not_found_when_no_such_source(world: World) -> None:
    for action in (lambda: RefreshSource(deps=world.deps)("nope"),
                   lambda: RemoveSource(store=world.store)("nope"),
                   lambda: QuerySources(store=world.store, parse=parse_addon_manifest).get("nope")):
        with pytest.raises(SourceNotFoundError):
            action()


def test_remove_drops_the_jobs_from_the_catalog_when_removed(world: World) -> None:
    world.images.publish(REF, manifest(HELLO))
    world.add()
    jobs = world.list_jobs()

    RemoveSource(store=world.store)("tools")

    assert jobs().jobs == () and world.store.list_sources() == []


def _check(world: World, signature: Any = lambda image, digest: ()) -> list[Any]:
    from flwd.domain.sources.health import CheckSources

    return CheckSources(store=world.store, images=world.images, parse=parse_addon_manifest,
                        check_signature=signature)()


def test_doctor_check_finds_nothing_when_every_source_checks_out(world: World) -> None:
    world.images.publish(REF, manifest(HELLO))
    world.add()

    assert _check(world) == []


def test_doctor_check_names_the_source_when_its_digest_is_gone_and_its_signature_fails(
        world: World) -> None:
    from flwd.domain.errors import ImageSignatureInvalidError

    world.images.publish(REF, manifest(HELLO))
    stored = world.add().source
    del world.images.local[stored.image]

    def invalid(image: str, digest: str) -> Any:
        raise ImageSignatureInvalidError("signed by another key")

    problems = _check(world, invalid)

    assert [(p.source, p.code) for p in problems] == [
        ("tools", "E_OCI"), ("tools", "image.signature.invalid")]


def test_refresh_answers_not_found_keeping_the_new_source_when_it_was_added_again_meanwhile(
    world: World
) -> None:
    world.images.publish(REF, manifest(HELLO))
    world.add()
    other = "localhost:5000/addons/other:2"
    world.images.publish(other, manifest(BYE))

    def replace_meanwhile(_: PullProgress) -> None:  # while the refresh pulls the old ref
        world.store.remove_source("tools")
        world.clock.advance(1)
        world.add(ref=other)

    with pytest.raises(SourceNotFoundError):
        RefreshSource(deps=world.deps)("tools", replace_meanwhile)

    stored = world.store.get_source("tools")
    assert stored is not None and stored.ref == other
    assert world.list_jobs().find("tools/bye").origin.ref == other  # type: ignore[union-attr]
