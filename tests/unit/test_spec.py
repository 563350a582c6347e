"""Job spec rules (SPEC section 1) and the catalog built from spec documents."""

from __future__ import annotations

from typing import Mapping

import pytest

from flwd.domain.spec.capabilities import CAPABILITIES
from flwd.domain.errors import JobNotFoundError, SpecInvalidError
from flwd.domain.model import ArgType, Profile, PullPolicy
from flwd.domain.spec.catalog import Catalog, load_catalog
from flwd.domain.spec.job import parse_job_spec
from flwd.ports.catalog import JobDocument

SPEC = "jobs/demo/job.yaml"
BASE: dict[str, object] = {"executor": "container", "image": "alpine:3.20"}


def _doc(
    data: Mapping[str, object] | None = None,
    *,
    default_id: str = "demo",
    spec_path: str = SPEC,
    scripts: tuple[str, ...] = (),
    files: frozenset[str] | None = None,
    error: str | None = None,
) -> JobDocument:
    return JobDocument(
        default_id=default_id,
        spec_path=spec_path,
        directory=f"/srv/{default_id}",
        data=data,
        error=error,
        error_field="yaml" if error else "",
        shell_scripts=scripts,
        files=files,
    )


def _spec(**changes: object) -> dict[str, object]:
    data = dict(BASE)
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}


INVALID = [
    # (id, spec data, field named in the error, fragment of the message)
    ("executor-missing", _spec(executor=...), "executor", "missing"),
    ("executor-shell", _spec(executor="shell"), "executor", "not supported"),
    ("image-missing", _spec(image=...), "image", "missing"),
    ("image-not-string", _spec(image=3), "image", "must be a string"),
    ("image-blank", _spec(image="  "), "image", "not a valid image reference"),
    ("interpreter-not-container", _spec(image=..., interpreter="python3"), "interpreter", "container:IMAGE"),
    ("interpreter-empty-image", _spec(image=..., interpreter="container:"), "interpreter", "not a valid image reference"),
    ("image-and-interpreter-differ", _spec(interpreter="container:busybox"), "image", "disagrees"),
    ("id-empty", _spec(id=""), "id", "not a valid job id"),
    ("id-not-string", _spec(id=7), "id", "not a valid job id"),
    ("id-leading-slash", _spec(id="/abs"), "id", "not a valid job id"),
    ("id-dotdot", _spec(id="a/../b"), "id", "not a valid job id"),
    ("id-space", _spec(id="my job"), "id", "not a valid job id"),
    ("id-trailing-newline", _spec(id="a\n"), "id", "not a valid job id"),
    ("env-name-trailing-newline", _spec(env={"A\n": "x"}), "env.A\n", "not a variable name"),
    ("queue-trailing-newline", _spec(queue="q\n"), "queue", "not a queue name"),
    ("name-not-string", _spec(name=["x"]), "name", "must be a string"),
    ("description-not-string", _spec(description=1), "description", "must be a string"),
    ("script-absolute", _spec(script="/etc/passwd"), "script", "relative path"),
    ("script-dotdot", _spec(script="../other/run.sh"), "script", "relative path"),
    ("script-not-string", _spec(script=["a.sh"]), "script", "relative to the job directory"),
    ("script-missing-file", _spec(script="nope.sh"), "script", "not a file"),
    ("script-and-command", _spec(script="main.sh", command=["x"]), "command", "exclusive"),
    ("command-empty", _spec(command=[]), "command", "must not be empty"),
    ("command-mapping", _spec(command={"a": 1}), "command", "list of strings"),
    ("command-item-mapping", _spec(command=["run", {"a": 1}]), "command[1]", "must be a string"),
    ("command-unbalanced", _spec(command="echo 'hi"), "command", "cannot be split"),
    ("args-and-argspec", _spec(args=[], argspec={"args": []}), "argspec", "aliases"),
    ("argspec-not-mapping", _spec(argspec=[{"name": "a"}]), "argspec", "mapping"),
    ("argspec-bad-type", _spec(argspec={"args": [{"name": "a", "type": "strng"}]}), "argspec.args[0].type", "unknown type"),
    ("args-bad-type", _spec(args=[{"name": "a", "type": "strng"}]), "args[0].type", "unknown type 'strng'"),
    ("profile-unknown", _spec(security_profile="lax"), "security_profile", "not one of"),
    ("profile-not-string", _spec(security_profile=True), "security_profile", "not one of"),
    ("timeout-text", _spec(timeout="soon"), "timeout", "not a duration"),
    ("timeout-negative", _spec(timeout=-5), "timeout", "not a duration"),
    ("timeout-list", _spec(timeout=[1]), "timeout", "scalar"),
    ("env-not-mapping", _spec(env=["A=1"]), "env", "mapping"),
    ("env-bad-name", _spec(env={"1A": "x"}), "env.1A", "not a variable name"),
    ("env-arg-prefix", _spec(env={"ARG_NAME": "x"}), "env.ARG_NAME", "reserved"),
    ("env-flwd-prefix", _spec(env={"FLWD_RUN_ID": "x"}), "env.FLWD_RUN_ID", "reserved"),
    ("env-value-list", _spec(env={"A": [1]}), "env.A", "string, number or boolean"),
    ("env-value-null", _spec(env={"A": None}), "env.A", "string, number or boolean"),
    ("env-value-too-long", _spec(env={"BIG": "x" * 140_000}), "env.BIG", "too long"),
    ("container-not-mapping", _spec(container="bridge"), "container", "mapping"),
    ("container-unknown-key", _spec(container={"privileged": True}), "container.privileged", "unknown key"),
    ("container-extra-flags", _spec(container={"flags": ["--privileged"]}), "container.flags", "unknown key"),
    ("network-not-string", _spec(container={"network": 1}), "container.network", "network name"),
    # a network name reaches decisions, warnings and the runtime: no line break or escape
    ("network-control", _spec(container={"network": "bridge\x1b[2K\nok"}), "container.network",
     "network name"),
    ("network-blank-inside", _spec(container={"network": "bridge host"}), "container.network",
     "network name"),
    ("rootfs-not-bool", _spec(container={"rootfs_writable": "yes"}), "container.rootfs_writable", "true or false"),
    ("env-inheritance-not-bool", _spec(container={"env_inheritance": 1}), "container.env_inheritance", "true or false"),
    ("caps-not-list", _spec(container={"capabilities": "NET_ADMIN"}), "container.capabilities", "list"),
    ("cap-bad-name", _spec(container={"capabilities": ["NET ADMIN"]}), "container.capabilities[0]", "did you mean 'NET_ADMIN'?"),
    ("cap-typo", _spec(container={"capabilities": ["NET_BIND_SERVICES"]}), "container.capabilities[0]",
     "'NET_BIND_SERVICES' is not a Linux capability name; did you mean 'NET_BIND_SERVICE'?"),
    ("cap-typo-lower", _spec(container={"capabilities": ["net_bind_services"]}), "container.capabilities[0]",
     "did you mean 'NET_BIND_SERVICE'?"),
    ("cap-typo-prefixed", _spec(container={"capabilities": ["CHOWN", "cap_sys_admn"]}), "container.capabilities[1]",
     "'cap_sys_admn' is not a Linux capability name; did you mean 'CAP_SYS_ADMIN'?"),
    ("cap-unknown", _spec(container={"capabilities": ["FROBNICATE"]}), "container.capabilities[0]",
     "see capabilities(7)"),
    ("cap-all-prefixed", _spec(container={"capabilities": ["CAP_ALL"]}), "container.capabilities[0]", "write ALL"),
    ("cap-not-string", _spec(container={"capabilities": [1]}), "container.capabilities[0]", "not a capability"),
    ("resources-unknown", _spec(container={"resources": {"gpu": 1}}), "container.resources.gpu", "unknown key"),
    ("cpu-bad", _spec(container={"resources": {"cpu": "lots"}}), "container.resources.cpu", "CPU quantity"),
    ("memory-bad", _spec(container={"resources": {"memory": "12Qi"}}), "container.resources.memory", "memory quantity"),
    ("pids-zero", _spec(container={"resources": {"pids": 0}}), "container.resources.pids", "positive integer"),
    ("pids-text", _spec(container={"resources": {"pids": "10"}}), "container.resources.pids", "positive integer"),
    ("pull-policy-unknown", _spec(container={"pull_policy": "sometimes"}), "container.pull_policy", "not one of"),
]


@pytest.mark.parametrize(("data", "field", "fragment"), [row[1:] for row in INVALID], ids=[row[0] for row in INVALID])
def test_parse_job_spec_rejects_with_file_and_field_when_spec_breaks_a_rule(
    data: dict[str, object], field: str, fragment: str
) -> None:
    doc = _doc(data, files=frozenset({"main.sh"}))

    with pytest.raises(SpecInvalidError) as err:
        parse_job_spec(doc)

    assert err.value.code == "spec.invalid"
    assert err.value.detail.startswith(f"{SPEC}: {field}: ")
    assert fragment in err.value.detail
    assert err.value.context == {"file": SPEC, "field": field}


def test_parse_job_spec_reports_the_catalog_error_when_document_is_unreadable() -> None:
    doc = _doc(None, error="invalid YAML at line 3, column 4: mapping values are not allowed here")

    with pytest.raises(SpecInvalidError) as err:
        parse_job_spec(doc)

    assert err.value.detail == f"{SPEC}: yaml: invalid YAML at line 3, column 4: mapping values are not allowed here"
    assert err.value.context["field"] == "yaml"


def test_parse_job_spec_reads_the_seed_example_when_spec_is_complete() -> None:
    data = {
        "id": "demo-container",
        "name": "Demo",
        "description": "Greets someone.",
        "executor": "container",
        "interpreter": "container:alpine:3.20",
        "script": "./main.sh",
        "args": [{"name": "name", "type": "string", "required": True, "description": "Who to greet"}],
        "security_profile": "Permissive",
        "timeout": "10m",
        "env": {"GREETING": "hello", "COUNT": 3, "LOUD": True, "RATIO": 0.5},
        "unknown_future_key": {"anything": 1},
    }

    job = parse_job_spec(_doc(data, default_id="other", files=frozenset({"main.sh"})))

    assert job.id == "demo-container"
    assert (job.name, job.description) == ("Demo", "Greets someone.")
    assert job.image == "alpine:3.20"
    assert job.script == "main.sh"
    assert job.command == ("/bin/sh", "/flwd/job/main.sh")
    assert job.arg("name") is not None and job.args[0].type is ArgType.STRING
    assert job.security_profile is Profile.PERMISSIVE
    assert job.timeout_seconds == 600
    assert job.env == {"GREETING": "hello", "COUNT": "3", "LOUD": "true", "RATIO": "0.5"}
    assert job.spec_path == SPEC and job.directory == "/srv/other"


def test_parse_job_spec_reads_container_section_when_every_key_is_given() -> None:
    container = {
        "network": "bridge",
        "rootfs_writable": True,
        "capabilities": ["net_bind_service", "CAP_CHOWN", "NET_BIND_SERVICE"],
        "env_inheritance": True,
        "resources": {"cpu": "500m", "memory": "256Mi", "pids": 128},
        "pull_policy": "always",
    }

    request = parse_job_spec(_doc(_spec(container=container))).container

    assert request.network == "bridge"
    assert request.rootfs_writable and request.env_inheritance
    assert request.capabilities == ("NET_BIND_SERVICE", "CHOWN")
    assert (request.resources.cpu_millis, request.resources.memory_bytes) == (500, 256 * 1024**2)
    assert request.resources.pids == 128
    assert request.pull_policy is PullPolicy.ALWAYS


@pytest.mark.parametrize("name", [*CAPABILITIES, "ALL"])
def test_parse_job_spec_accepts_capability_when_known_in_any_spelling(name: str) -> None:
    spellings = [name, name.lower(), f" {name.title()} "]
    if name != "ALL":
        spellings += [f"CAP_{name}", f"cap_{name.lower()}"]

    request = parse_job_spec(_doc(_spec(container={"capabilities": spellings}))).container

    assert request.capabilities == (name,)


def test_parse_job_spec_uses_defaults_when_optional_keys_are_absent() -> None:
    job = parse_job_spec(_doc(dict(BASE), default_id="backup/daily"))

    assert job.id == "backup/daily"
    assert job.command is None and job.script is None
    assert job.args == () and job.env == {}
    assert job.security_profile is None and job.timeout_seconds is None
    assert job.container.pull_policy is PullPolicy.IF_NOT_PRESENT
    assert job.container.capabilities == () and job.container.network is None


@pytest.mark.parametrize(
    ("changes", "image"),
    [
        ({"image": "alpine:3.20"}, "alpine:3.20"),
        ({"image": ..., "interpreter": "container:ghcr.io/o/i@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}, "ghcr.io/o/i@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
        ({"interpreter": "container:alpine:3.20"}, "alpine:3.20"),
    ],
    ids=["image", "interpreter", "both-agree"],
)
def test_parse_job_spec_takes_the_image_when_given_as_image_or_interpreter(
    changes: dict[str, object], image: str
) -> None:
    assert parse_job_spec(_doc(_spec(**changes))).image == image


@pytest.mark.parametrize(
    ("command", "expected"),
    [(["/app/run", "--fast", 3], ("/app/run", "--fast", "3")), ("/app/run --name 'a b'", ("/app/run", "--name", "a b"))],
    ids=["list", "string"],
)
def test_parse_job_spec_keeps_exec_form_when_command_given(command: object, expected: tuple[str, ...]) -> None:
    job = parse_job_spec(_doc(_spec(command=command), scripts=("main.sh",)))

    assert job.command == expected and job.script is None


def test_parse_job_spec_runs_the_only_shell_script_when_neither_script_nor_command() -> None:
    job = parse_job_spec(_doc(dict(BASE), scripts=("run.sh",)))

    assert job.script == "run.sh" and job.command == ("/bin/sh", "/flwd/job/run.sh")


def test_parse_job_spec_uses_image_entrypoint_when_several_shell_scripts() -> None:
    job = parse_job_spec(_doc(dict(BASE), scripts=("a.sh", "b.sh")))

    assert job.command is None and job.script is None


def test_parse_job_spec_trusts_script_when_catalog_did_not_check_files() -> None:
    job = parse_job_spec(_doc(_spec(script="bin/run.sh"), files=None))

    assert job.command == ("/bin/sh", "/flwd/job/bin/run.sh")


def test_parse_job_spec_reads_args_when_given_through_argspec_alias() -> None:
    job = parse_job_spec(_doc(_spec(argspec={"args": [{"name": "tags", "type": "array", "items_type": "string"}]})))

    assert job.args[0].name == "tags" and job.args[0].items is ArgType.STRING


def test_parse_job_spec_rejects_derived_id_when_directory_name_is_not_an_id() -> None:
    with pytest.raises(SpecInvalidError) as err:
        parse_job_spec(_doc(dict(BASE), default_id="my job"))

    assert "derived from the directory" in err.value.detail


# --- catalog -------------------------------------------------------------------------


def test_load_catalog_keeps_valid_jobs_when_one_spec_is_broken() -> None:
    docs = [
        _doc(dict(BASE), default_id="good", spec_path="jobs/good/job.yaml"),
        _doc(_spec(executor=...), default_id="broken", spec_path="jobs/broken/job.yaml"),
        _doc(None, default_id="garbled", spec_path="jobs/garbled/job.yaml", error="invalid YAML"),
    ]

    catalog = load_catalog(docs)

    assert [job.id for job in catalog.jobs] == ["good"]
    assert [(bad.id, bad.field) for bad in catalog.invalid] == [("broken", "executor"), ("garbled", "yaml")]
    assert catalog.invalid[0].reason.startswith("jobs/broken/job.yaml: executor: ")


def test_load_catalog_marks_both_jobs_invalid_when_ids_clash() -> None:
    docs = [
        _doc(_spec(id="deploy"), default_id="a", spec_path="jobs/a/job.yaml"),
        _doc(dict(BASE), default_id="deploy", spec_path="jobs/deploy/job.yaml"),
    ]

    catalog = load_catalog(docs)

    assert catalog.jobs == ()
    reasons = {bad.spec_path: bad.reason for bad in catalog.invalid}
    assert "jobs/deploy/job.yaml" in reasons["jobs/a/job.yaml"]
    assert "jobs/a/job.yaml" in reasons["jobs/deploy/job.yaml"]
    assert all(bad.id == "deploy" and bad.field == "id" for bad in catalog.invalid)


def test_load_catalog_lists_broken_spec_under_its_own_id_when_id_is_usable() -> None:
    catalog = load_catalog([_doc(_spec(id="nice", executor="shell"), default_id="dir")])

    assert catalog.invalid[0].id == "nice"


def test_catalog_find_returns_the_job_when_id_is_known() -> None:
    catalog = load_catalog([_doc(dict(BASE), default_id="backup/daily")])

    assert catalog.find("backup/daily").id == "backup/daily"


def test_catalog_find_raises_not_found_when_id_is_unknown() -> None:
    with pytest.raises(JobNotFoundError) as err:
        Catalog().find("ghost")

    assert err.value.code == "job.not.found"


def test_catalog_find_explains_why_when_id_names_a_broken_spec() -> None:
    catalog = load_catalog([_doc(_spec(image=...), default_id="broken")])

    with pytest.raises(SpecInvalidError) as err:
        catalog.find("broken")

    assert err.value.detail.startswith(f"{SPEC}: image: missing")
    assert err.value.context == {"file": SPEC, "field": "image"}


def test_parse_job_spec_warns_and_suggests_when_a_top_level_key_is_unknown() -> None:
    job = parse_job_spec(_doc(_spec(timout="10m", x_go_flwd_extra={"a": 1})))

    assert job.timeout_seconds is None  # ignored, not guessed
    assert job.warnings == (
        "unknown key 'timout' ignored; did you mean 'timeout'?",
        "unknown key 'x_go_flwd_extra' ignored",
    )


def test_parse_job_spec_has_no_warnings_when_every_key_is_known() -> None:
    every = _spec(id="d", name="n", description="d", script=..., command=["/bin/true"],
                  args=[], security_profile="secure", timeout="1m", env={"A": "b"},
                  container={"network": "none"})

    assert parse_job_spec(_doc(every)).warnings == ()
