"""The secret plan: one 0400 file per secret argument with a value."""

from __future__ import annotations

import pytest

from flwd.domain.errors import SpecInvalidError
from flwd.domain.model import ArgSpec, ArgType, JobSpec
from flwd.domain.plan.secrets import is_safe_secret_name, plan_secrets
from flwd.ports.secrets import SecretFile


def _job(*args: ArgSpec) -> JobSpec:
    return JobSpec(id="demo", directory="/jobs/demo", spec_path="/jobs/demo/job.yaml",
                   image="alpine", args=args)


TOKEN = ArgSpec(name="api_token", type=ArgType.STRING, secret=True)
KEY = ArgSpec(name="ssh.key", type=ArgType.STRING, secret=True)
CONF = ArgSpec(name="conf", type=ArgType.OBJECT, secret=True)
NAME = ArgSpec(name="name", type=ArgType.STRING)


def test_plan_secrets_gives_one_0400_file_per_secret_when_values_present() -> None:
    files = plan_secrets(_job(NAME, TOKEN, KEY), {"name": "Alice", "api_token": "s3cr3t",
                                                 "ssh.key": "ključ"})

    assert files == (
        SecretFile(name="api_token", value=b"s3cr3t", mode=0o400),
        SecretFile(name="ssh.key", value="ključ".encode(), mode=0o400),
    )


def test_plan_secrets_skips_secret_when_value_absent_or_none() -> None:
    files = plan_secrets(_job(TOKEN, KEY), {"api_token": None})

    assert files == ()


def test_plan_secrets_writes_compact_json_when_value_is_not_a_string() -> None:
    files = plan_secrets(_job(CONF), {"conf": {"user": "u", "n": [1, 2]}})

    assert files[0].value == b'{"user":"u","n":[1,2]}'


def test_plan_secrets_gives_nothing_when_job_has_no_secrets() -> None:
    assert plan_secrets(_job(NAME), {"name": "Alice"}) == ()


def test_secret_file_repr_hides_value_when_planned() -> None:
    files = plan_secrets(_job(TOKEN), {"api_token": "s3cr3t"})

    assert "s3cr3t" not in repr(files)


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b", ".", "..", "", "a b", "tök"])
def test_plan_secrets_raises_spec_invalid_when_name_is_unsafe(name: str) -> None:
    job = _job(ArgSpec(name=name, type=ArgType.STRING, secret=True))

    with pytest.raises(SpecInvalidError) as err:
        plan_secrets(job, {name: "x"})

    assert err.value.context["field"] == "args"


@pytest.mark.parametrize(
    ("name", "safe"),
    [("token", True), ("a.b-c_D9", True), ("..a", True), (".", False), ("..", False),
     ("a/b", False), ("a\n", False)],
)
def test_is_safe_secret_name_follows_spec_when_checked(name: str, safe: bool) -> None:
    assert is_safe_secret_name(name) is safe
