"""Plan assembly and its JSON rendering."""

from __future__ import annotations

import json

import pytest

from flwd.domain.errors import ArgsInvalidError, SpecInvalidError
from flwd.domain.model import (
    ArgSpec,
    ArgType,
    ContainerRequest,
    Decision,
    JobSpec,
    MountSpec,
    Overrides,
    PolicyBundle,
    Profile,
    PullPolicy,
    Resources,
    Verdict,
)
from flwd.domain.plan.assembly import PreparedRun, plan_as_dict, prepare_run
from flwd.domain.policy.profiles import profile_decision
from flwd.domain.args.ulc import MAX_ENV_STRING_BYTES

SECRET = "hunter2-S3cr3t"
ARGS = (
    ArgSpec(name="name", type=ArgType.STRING, required=True),
    ArgSpec(name="loud", type=ArgType.BOOLEAN, default=False),
    ArgSpec(name="tags", type=ArgType.ARRAY, items=ArgType.STRING),
    ArgSpec(name="api_token", type=ArgType.STRING, secret=True),
)
VALUES = {"name": "Alice", "loud": True, "tags": ["a", "b"], "api_token": SECRET}
MI = 1024**2


def _job(**changes: object) -> JobSpec:
    fields: dict[str, object] = {
        "id": "demo", "directory": "/jobs/demo", "spec_path": "/jobs/demo/job.yaml",
        "image": "alpine:3.20", "command": ("/bin/sh", "/flwd/job/main.sh"), "args": ARGS,
        "env": {"GREETING": "hello", "FLWD_RUN_ID": "spoofed"}, "timeout_seconds": 600.0,
    }
    fields.update(changes)
    return JobSpec(**fields)  # type: ignore[arg-type]


def _prepare(job: JobSpec | None = None, values: dict[str, object] | None = None,
             profile: Profile = Profile.SECURE, bundle: PolicyBundle = PolicyBundle(),
             run_id: str = "<run_id>") -> PreparedRun:
    return prepare_run(job or _job(), VALUES if values is None else values, profile=profile,
                       profile_decision=profile_decision(profile, bundle), bundle=bundle,
                       run_id=run_id)


def test_prepare_run_builds_plan_when_job_and_values_valid() -> None:
    plan = _prepare(run_id="r1").plan

    assert plan.job_id == "demo"
    assert plan.image == "docker.io/library/alpine:3.20"
    assert plan.command == ("/bin/sh", "/flwd/job/main.sh")
    assert plan.profile is Profile.SECURE
    assert plan.pull_policy is PullPolicy.IF_NOT_PRESENT
    assert plan.timeout_seconds == 600.0
    assert plan.workdir == "/flwd/run"
    assert plan.args == {"name": "Alice", "loud": True, "tags": ["a", "b"],
                         "api_token": "<secret>"}
    assert plan.secret_files == ("api_token",)


def test_prepare_run_overlays_ulc_environment_on_job_env_when_names_clash() -> None:
    env = _prepare(run_id="r1").plan.env

    assert env["GREETING"] == "hello"
    assert env["FLWD_RUN_ID"] == "r1"
    assert env["ARG_NAME"] == "Alice" and env["ARG_LOUD"] == "true"
    assert env["ARG_TAGS"] == '["a","b"]'
    assert "ARG_API_TOKEN" not in env
    assert env["FLWD_JOB_ID"] == "demo"


def test_prepare_run_mounts_secrets_dir_when_job_has_secret_values() -> None:
    plan = _prepare().plan

    assert plan.mounts == (
        MountSpec(source="job", target="/flwd/job", read_only=True),
        MountSpec(source="run", target="/flwd/run", read_only=False),
        MountSpec(source="secrets", target="/run/secrets", read_only=True),
    )


def test_prepare_run_omits_secrets_mount_when_no_secret_value() -> None:
    values = {k: v for k, v in VALUES.items() if k != "api_token"}

    prepared = _prepare(values=values)

    assert [m.target for m in prepared.plan.mounts] == ["/flwd/job", "/flwd/run"]
    assert prepared.secrets == () and prepared.plan.secret_files == ()
    assert not prepared.redactor


def test_prepare_run_carries_secret_file_and_redactor_when_secret_given() -> None:
    prepared = _prepare()

    assert [(f.name, f.value, f.mode) for f in prepared.secrets] == [
        ("api_token", SECRET.encode(), 0o400)]
    assert prepared.redactor.redact(f"token {SECRET}") == "token ***"
    assert prepared.values["api_token"] == SECRET


def test_plan_holds_no_secret_anywhere_when_rendered() -> None:
    prepared = _prepare()

    assert SECRET not in repr(prepared.plan)
    assert SECRET not in repr(prepared)
    assert SECRET not in json.dumps(plan_as_dict(prepared.plan))


def test_prepare_run_puts_profile_decision_first_when_assembled() -> None:
    bundle = PolicyBundle(allowed_profiles=frozenset({Profile.SECURE}))

    plan = _prepare(profile=Profile.PERMISSIVE, bundle=bundle).plan

    assert [d.subject for d in plan.decisions] == [
        "security.profile", "container.image", "container.network", "container.capabilities",
        "container.rootfs", "container.env", "container.resources"]
    assert plan.denied[0].code == "policy.profile.denied"


def test_prepare_run_shows_denials_without_raising_when_relaxation_denied() -> None:
    job = _job(container=ContainerRequest(network="bridge"))

    plan = _prepare(job).plan

    assert [d.code for d in plan.denied] == ["policy.override.denied"]
    assert plan.settings.network == "none"


def test_prepare_run_applies_allowed_relaxations_when_permissive() -> None:
    job = _job(container=ContainerRequest(network="bridge", pull_policy=PullPolicy.NEVER,
                                          resources=Resources(memory_bytes=128 * MI)))
    bundle = PolicyBundle(overrides=Overrides(network=("bridge",)))

    plan = _prepare(job, profile=Profile.PERMISSIVE, bundle=bundle).plan

    assert plan.denied == ()
    assert plan.settings.network == "bridge"
    assert plan.settings.resources.memory_bytes == 128 * MI
    assert plan.pull_policy is PullPolicy.NEVER


def test_prepare_run_runs_script_when_command_absent() -> None:
    plan = _prepare(_job(command=None, script="go.sh")).plan

    assert plan.command == ("/bin/sh", "/flwd/job/go.sh")


def test_prepare_run_keeps_image_entrypoint_when_neither_script_nor_command() -> None:
    assert _prepare(_job(command=None)).plan.command is None


def test_prepare_run_raises_spec_invalid_naming_file_when_image_is_garbage() -> None:
    with pytest.raises(SpecInvalidError) as err:
        _prepare(_job(image="Not An Image"))

    assert err.value.context == {"file": "/jobs/demo/job.yaml", "field": "image"}


def test_plan_as_dict_renders_json_ready_plan_when_limits_set() -> None:
    bundle = PolicyBundle(ceilings=Resources(cpu_millis=500, memory_bytes=256 * MI, pids=100))

    data = plan_as_dict(_prepare(bundle=bundle, run_id="r1").plan)

    assert json.loads(json.dumps(data)) == data
    assert data["settings"]["resources"] == {"cpu": "500m", "memory": "256Mi", "pids": 100}
    assert data["settings"]["cap_drop"] == ["ALL"]
    assert data["settings"]["tmpfs"] == {"/tmp": "rw,nosuid,nodev,size=64m"}
    assert list(data["env"]) == sorted(data["env"])
    assert data["profile"] == "secure" and data["allowed"] is True
    assert data["pull_policy"] == "if-not-present"
    assert data["secret_files"] == ["api_token"]
    assert data["decisions"][0] == {"subject": "security.profile", "decision": "allow",
                                    "code": "policy.profile.allowed",
                                    "reason": "profile secure from the default"}
    assert data["mounts"][2] == {"source": "secrets", "target": "/run/secrets",
                                 "read_only": True}


def test_plan_as_dict_marks_plan_not_allowed_when_a_decision_denies() -> None:
    data = plan_as_dict(_prepare(_job(container=ContainerRequest(rootfs_writable=True))).plan)

    assert data["allowed"] is False
    assert any(d["decision"] == Verdict.DENY.value for d in data["decisions"])


def _refused(values: dict[str, object]) -> list[tuple[str, str, str]]:
    with pytest.raises(ArgsInvalidError) as err:
        _prepare(values=values)
    return [(p.arg, p.code, p.message) for p in err.value.problems]


def test_prepare_run_refuses_an_argument_when_its_variable_exceeds_the_kernel_limit() -> None:
    problems = _refused({"name": "x" * 200_000, "tags": ["a"]})

    assert [(arg, code) for arg, code, _ in problems] == [("name", "range")]
    assert "ARG_NAME would take 200,010 bytes" in problems[0][2]
    assert f"{MAX_ENV_STRING_BYTES:,}" in problems[0][2]


def test_prepare_run_counts_bytes_not_characters_when_text_is_not_ascii() -> None:
    problems = _refused({"name": "é" * 70_000})  # 70,000 characters, 140,000 bytes

    assert [(arg, code) for arg, code, _ in problems] == [("name", "range")]


def test_prepare_run_delivers_arguments_up_to_the_limit_when_they_fit_exactly() -> None:
    overhead = len('FLWD_ARGS_JSON={"name":""}') + 1  # "=" counted in, plus the NUL
    fits = "x" * (MAX_ENV_STRING_BYTES - overhead)

    plan = _prepare(values={"name": fits}).plan
    problems = _refused({"name": fits + "x"})

    assert plan.env["ARG_NAME"] == fits
    assert len(f"FLWD_ARGS_JSON={plan.env['FLWD_ARGS_JSON']}") + 1 == MAX_ENV_STRING_BYTES
    assert [(arg, code) for arg, code, _ in problems] == [("name", "range")]
    assert "FLWD_ARGS_JSON would take" in problems[0][2]


def test_prepare_run_names_the_largest_argument_when_only_all_together_are_too_long() -> None:
    problems = _refused({"name": "n" * 62_000, "tags": ["t" * 70_000]})

    assert [(arg, code) for arg, code, _ in problems] == [("tags", "range")]
    assert "together" in problems[0][2]


def test_prepare_run_has_no_size_limit_when_the_large_argument_is_a_secret() -> None:
    prepared = _prepare(values={"name": "Alice", "api_token": "s" * 1_000_000})

    assert [f.name for f in prepared.secrets] == ["api_token"]
