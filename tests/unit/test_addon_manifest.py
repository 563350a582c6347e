"""Add-on manifest rules (SPEC section 10): top-level fields, jobs as ordinary job specs."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from flwd.domain.errors import AddonManifestError
from flwd.domain.model import InvalidJob, JobSpec, Profile
from flwd.domain.spec.addon import AddonManifest, parse_addon_manifest, pinned_image
from flwd.ports.addons import NO_MANIFEST, ManifestDocument, PinnedImage

REF = "registry.example:5000/tools/pg-tools:2"
DIGEST = "sha256:" + "ab" * 32
PINNED = f"registry.example:5000/tools/pg-tools@{DIGEST}"
IMAGE = PinnedImage(ref=REF, pinned=PINNED, digest=DIGEST)
PATH = "/flwd-addon/manifest.yaml"
JOB: dict[str, Any] = {
    "id": "backup", "name": "Backup", "description": "Dumps one database",
    "command": ["/opt/pg-tools/backup.sh"],
    "argspec": {"args": [{"name": "database", "type": "string", "required": True},
                         {"name": "password", "type": "string", "format": "secret"}]},
    "container": {"network": "bridge"}, "timeout": "1h",
}
MANIFEST: dict[str, Any] = {
    "apiVersion": "flwd.addon/v1", "kind": "AddOn",
    "metadata": {"name": "pg-tools", "version": "2.1.0", "description": "PostgreSQL tools"},
    "jobs": [JOB],
}


def manifest(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(MANIFEST)
    data.update(changes)
    return data


def with_jobs(*jobs: dict[str, Any]) -> dict[str, Any]:
    return manifest(jobs=list(jobs))


def job(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(JOB)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def parse(data: dict[str, Any] | None, error: str | None = None) -> AddonManifest:
    doc = ManifestDocument(image=PINNED, path=PATH, data=data, error=error)
    return parse_addon_manifest(doc, source="pg", image=IMAGE)


def manifest_error(data: dict[str, Any] | None, error: str | None = None) -> AddonManifestError:
    with pytest.raises(AddonManifestError) as err:
        parse(data, error)
    return err.value


def only_invalid(result: AddonManifest) -> InvalidJob:
    assert result.jobs == () and len(result.invalid) == 1, result
    return result.invalid[0]


# --- a good manifest ----------------------------------------------------------------


def test_job_becomes_an_ordinary_job_spec_named_source_slash_id_when_valid() -> None:
    result = parse(manifest())

    backup = result.jobs[0]
    assert isinstance(backup, JobSpec) and backup.id == "pg/backup"
    assert backup.image == PINNED and backup.directory == ""
    assert backup.command == ("/opt/pg-tools/backup.sh",)
    assert [a.name for a in backup.args] == ["database", "password"]
    assert backup.args[1].secret and backup.args[0].required
    assert backup.container.network == "bridge" and backup.timeout_seconds == 3600


def test_every_job_carries_the_origin_with_the_addon_version_when_valid() -> None:
    result = parse(manifest())

    origin = result.jobs[0].origin
    assert origin is not None and origin == result.origin
    assert origin.as_dict() == {"source": "pg", "kind": "oci", "ref": REF, "digest": DIGEST,
                                "addon_version": "2.1.0"}


def test_metadata_is_kept_when_valid() -> None:
    result = parse(manifest())

    assert (result.name, result.version, result.description, result.path) == (
        "pg-tools", "2.1.0", "PostgreSQL tools", PATH)


def test_section_one_keys_apply_to_an_addon_job_when_given() -> None:
    result = parse(with_jobs(job(env={"MODE": "fast"}, security_profile="permissive",
                                 args=None)))

    assert result.jobs[0].env == {"MODE": "fast"}
    assert result.jobs[0].security_profile is Profile.PERMISSIVE


def test_pinned_image_drops_the_tag_and_pins_the_digest_when_given_a_tag() -> None:
    assert pinned_image(REF, DIGEST) == PINNED
    assert pinned_image("alpine:3.20", DIGEST) == f"docker.io/library/alpine@{DIGEST}"


def test_unknown_top_level_key_is_a_warning_when_given() -> None:
    result = parse(manifest(spec={"x": 1}))

    assert result.jobs and len(result.warnings) == 1 and "spec" in result.warnings[0]


# --- the manifest as a whole: E_ADDON_MANIFEST ---------------------------------------


def test_missing_manifest_is_e_addon_manifest_naming_the_path_when_not_found() -> None:
    err = manifest_error(None, NO_MANIFEST)

    assert err.code == "E_ADDON_MANIFEST"
    assert "not found" in err.detail and err.context["path"] == PATH


def test_undecodable_manifest_is_e_addon_manifest_with_the_decoder_words_when_broken() -> None:
    err = manifest_error(None, "invalid YAML at line 2, column 1: mapping values are not allowed")

    assert "invalid YAML at line 2" in err.detail and REF in err.detail


@pytest.mark.parametrize(("change", "field"), [
    ({"apiVersion": "flwd.addon/v2"}, "apiVersion"),
    ({"apiVersion": None}, "apiVersion"),
    ({"kind": "Addon"}, "kind"),
    ({"metadata": "pg-tools"}, "metadata"),
    ({"metadata": {"version": "1"}}, "metadata.name"),
    ({"metadata": {"name": "PG Tools", "version": "1"}}, "metadata.name"),
    ({"metadata": {"name": "pg\n", "version": "1"}}, "metadata.name"),  # $ matched before it
    ({"metadata": {"name": "pg"}}, "metadata.version"),
    ({"metadata": {"name": "pg", "version": 2.1}}, "metadata.version"),
    ({"metadata": {"name": "pg", "version": "1", "description": 3}}, "metadata.description"),
    ({"metadata": {"name": "pg", "version": "1", "author": "x"}}, "metadata.author"),
    ({"jobs": []}, "jobs"),
    ({"jobs": {"backup": JOB}}, "jobs"),
    ({"jobs": None}, "jobs"),
])
def test_bad_top_level_field_is_e_addon_manifest_naming_its_path_when_given(
    change: dict[str, Any], field: str
) -> None:
    err = manifest_error(manifest(**change))

    assert err.context["field"] == field
    assert f"{field}: " in err.detail and err.detail.startswith(f"{REF}:{PATH}: ")


def test_every_top_level_problem_is_named_at_once_when_several() -> None:
    err = manifest_error(manifest(apiVersion="v0", kind="Job", jobs=[]))

    fields = [p["field"] for p in err.context["problems"]]  # type: ignore[attr-defined]
    assert fields == ["apiVersion", "kind", "jobs"]


def test_number_version_error_says_to_quote_it_when_yaml_made_it_a_number() -> None:
    err = manifest_error(manifest(metadata={"name": "pg", "version": 2.1}))

    assert "quote it" in err.detail


# --- one bad job is listed invalid, the others stay ------------------------------------


@pytest.mark.parametrize(("entry", "field"), [
    (job(command=None), "jobs[0].command"),
    (job(command="/opt/pg-tools/backup.sh --all"), "jobs[0].command"),
    (job(command=[]), "jobs[0].command"),
    (job(command=["/bin/x", {"a": 1}]), "jobs[0].command[1]"),
    (job(id=None), "jobs[0].id"),
    (job(id="-x"), "jobs[0].id"),
    (job(image="alpine:3.20"), "jobs[0].image"),
    (job(interpreter="container:alpine:3.20"), "jobs[0].interpreter"),
    (job(script="main.sh"), "jobs[0].script"),
    (job(executor="container"), "jobs[0].executor"),
    (job(container={"pull_policy": "never"}), "jobs[0].container.pull_policy"),
    (job(container={"privileged": True}), "jobs[0].container.privileged"),
    (job(argspec={"args": [{"name": "n", "type": "colour"}]}), "jobs[0].argspec.args[0].type"),
    (job(argspec={"args": [{"name": "p", "type": "string", "format": "secret",
                            "default": "x"}]}), "jobs[0].argspec.args[0].default"),
    (job(timeout="soon"), "jobs[0].timeout"),
    (job(security_profile="lax"), "jobs[0].security_profile"),
    (job(env={"FLWD_X": "1"}), "jobs[0].env.FLWD_X"),
    ("backup", "jobs[0]"),
])
def test_bad_job_is_listed_invalid_naming_its_field_path_when_given(
    entry: object, field: str
) -> None:
    broken = only_invalid(parse(with_jobs(entry)))  # type: ignore[arg-type]

    assert broken.field == field, broken.reason
    assert broken.reason.startswith(f"{REF}:{PATH}: {field}: "), broken.reason


def test_bad_job_is_listed_under_its_source_id_when_its_id_is_usable() -> None:
    broken = only_invalid(parse(with_jobs(job(command=None))))

    assert broken.id == "pg/backup"


def test_bad_job_without_a_usable_id_is_listed_by_position_when_the_id_is_bad() -> None:
    broken = only_invalid(parse(with_jobs(job(id="../x"))))

    assert broken.id == "pg/jobs[0]"


def test_two_broken_jobs_do_not_hide_the_good_one_when_mixed() -> None:
    result = parse(with_jobs(job(id="no-command", command=None), job(id="good"),
                             job(id="bad-type", argspec={"args": [{"name": "n", "type": "x"}]})))

    assert [j.id for j in result.jobs] == ["pg/good"]
    assert [(b.id, b.field) for b in result.invalid] == [
        ("pg/no-command", "jobs[0].command"), ("pg/bad-type", "jobs[2].argspec.args[0].type")]


def test_jobs_sharing_an_id_are_all_invalid_naming_each_other_when_duplicated() -> None:
    result = parse(with_jobs(job(), job(name="Other"), job(id="restore")))

    assert [j.id for j in result.jobs] == ["pg/restore"]
    assert [(b.field, "duplicate job id" in b.reason) for b in result.invalid] == [
        ("jobs[0].id", True), ("jobs[1].id", True)]
    assert "jobs[1]" in result.invalid[0].reason and "jobs[0]" in result.invalid[1].reason


def test_api_problem_is_422_listing_every_problem_when_the_manifest_is_bad() -> None:
    from flwd.entrypoints.cli.exit_codes import exit_for_code
    from flwd.entrypoints.http.problems import flwd_problem

    body = flwd_problem(manifest_error(manifest(apiVersion="v0", kind="Job")))

    assert (body["status"], body["code"], body["field"]) == (422, "E_ADDON_MANIFEST", "apiVersion")
    assert [p["field"] for p in body["problems"]] == ["apiVersion", "kind"]
    assert exit_for_code("E_ADDON_MANIFEST") == 2
