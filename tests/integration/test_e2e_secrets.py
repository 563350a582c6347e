"""SPEC section 3 end to end: a secret reaches the job only as /run/secrets/NAME and nowhere else."""

from __future__ import annotations

import json
import stat
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from tests.integration.e2e_support import (  # noqa: F401 - fixtures
    Result,
    Runtime,
    Sandbox,
    parse_facts,
    rt,
    sandbox,
    secrets_dir,
)

SECRET = f"s3cr3t-{uuid.uuid4().hex}"
SECRET_JOB = """\
    executor: container
    image: alpine:3.20
    script: main.sh
    args:
      - {name: api_token, type: string, format: secret, required: true}
      - {name: who, type: string, default: world}
    """
SHOW = r"""
v=$(cat /run/secrets/api_token)
echo "mode=$(stat -c %a /run/secrets/api_token)"
echo "size=$(wc -c < /run/secrets/api_token)"
echo "env_hits=$(env | grep -c -F "$v")"
echo "args_json_hits=$(echo "$FLWD_ARGS_JSON" | grep -c -F "$v")"
echo "secrets_dir=$FLWD_SECRETS_DIR"
ls /run/secrets | sed 's/^/file=/'
echo "echo=$v"
echo "stderr=$v" >&2
sleep 2
"""
FAIL = r"""
echo "out $(cat /run/secrets/api_token)"
echo "err $(cat /run/secrets/api_token)" >&2
exit 3
"""


@dataclass(frozen=True, slots=True)
class SecretRun:
    """A secret run, with what was observed on the host while its container ran."""

    result: Result
    run_id: str
    inspect: str
    dir_mode: int
    file_mode: int
    dir_existed: bool


@pytest.fixture(scope="module")
def secret_run(rt: Runtime, sandbox: Sandbox) -> SecretRun:
    sandbox.write_job("show-secret", SECRET_JOB, {"main.sh": SHOW})
    running = sandbox.start("show-secret", "--api-token", SECRET, "--json")
    try:
        run_id = running.read_until("run.started")["run_id"]
        host_dir = secrets_dir(run_id)
        existed = host_dir.is_dir()
        dir_mode = stat.S_IMODE(host_dir.stat().st_mode) if existed else -1
        file_mode = stat.S_IMODE((host_dir / "api_token").stat().st_mode) if existed else -1
        inspect = rt.cli("inspect", f"flwd-{run_id}")
        assert inspect.returncode == 0, inspect.stderr
        result = running.finish()
    finally:
        running.kill()
    return SecretRun(result, run_id, inspect.stdout, dir_mode, file_mode, existed)


@pytest.fixture(scope="module")
def facts(secret_run: SecretRun) -> dict[str, list[str]]:
    assert secret_run.result.code == 0, secret_run.result.describe()
    lines = [e["data"]["line"] for e in secret_run.result.events()
             if e["type"] == "run.output" and e["data"]["stream"] == "stdout"]
    return parse_facts("\n".join(lines))


@pytest.fixture(scope="module")
def failed_run(sandbox: Sandbox) -> tuple[Result, dict[str, Any]]:
    sandbox.write_job("fail-secret", SECRET_JOB, {"main.sh": FAIL})
    result = sandbox.flwd("fail-secret", "--api-token", SECRET)
    return result, sandbox.only_run("fail-secret")


def test_secret_is_a_0400_file_the_job_can_read_when_passed(facts: dict[str, list[str]]) -> None:
    assert facts["mode"] == ["400"]
    assert facts["size"] == [str(len(SECRET))]
    assert facts["file"] == ["api_token"]
    assert facts["secrets_dir"] == ["/run/secrets"]


def test_secret_is_not_in_the_container_env_when_passed(facts: dict[str, list[str]]) -> None:
    assert facts["env_hits"] == ["0"]
    assert facts["args_json_hits"] == ["0"]


def test_secret_is_masked_in_output_when_job_prints_it(secret_run: SecretRun,
                                                       facts: dict[str, list[str]]) -> None:
    stderr = [e["data"]["line"] for e in secret_run.result.events()
              if e["type"] == "run.output" and e["data"]["stream"] == "stderr"]

    assert facts["echo"] == ["***"]
    assert stderr == ["stderr=***"]


def test_secret_is_absent_from_events_and_cli_output_when_run(secret_run: SecretRun) -> None:
    assert SECRET not in secret_run.result.out
    assert SECRET not in secret_run.result.err
    assert any(e["type"] == "run.finished" for e in secret_run.result.events())


def test_secret_is_absent_from_container_inspect_when_running(secret_run: SecretRun) -> None:
    inspected = json.loads(secret_run.inspect)

    assert "/run/secrets" in secret_run.inspect  # it is the running container, with its mount
    assert inspected and SECRET not in secret_run.inspect


def test_host_secrets_dir_is_private_while_running_and_gone_after_success(
    secret_run: SecretRun,
) -> None:
    assert secret_run.dir_existed, f"no secrets dir at {secrets_dir(secret_run.run_id)}"
    assert secret_run.dir_mode == 0o700 and secret_run.file_mode == 0o400
    assert not secrets_dir(secret_run.run_id).exists()


def test_secrets_dir_is_gone_and_output_masked_when_job_fails(
    failed_run: tuple[Result, dict[str, Any]],
) -> None:
    result, run = failed_run

    assert result.code == 3 and run["status"] == "failed", result.describe()
    assert result.out == "out ***\n"
    assert "err ***\n" in result.err and SECRET not in result.err
    assert not secrets_dir(run["run_id"]).exists()


def test_secret_is_absent_from_plan_when_planned(sandbox: Sandbox, secret_run: SecretRun) -> None:
    text = sandbox.flwd(":plan", "show-secret", "--api-token", SECRET)
    as_json = sandbox.flwd(":plan", "show-secret", "--api-token", SECRET, "--json")
    plan = json.loads(as_json.out)

    assert text.code == 0 and as_json.code == 0, text.describe() + as_json.describe()
    assert SECRET not in text.out + text.err + as_json.out + as_json.err
    assert plan["secret_files"] == ["api_token"]
    assert "/run/secrets/api_token" in text.out


def test_secret_is_absent_from_runs_and_logs_when_listed(
    sandbox: Sandbox, secret_run: SecretRun, failed_run: tuple[Result, dict[str, Any]]
) -> None:
    runs = sandbox.flwd(":runs", "--json")
    logs = sandbox.flwd(":logs", secret_run.run_id)

    assert secret_run.run_id in runs.out and "echo=***" in logs.out
    assert SECRET not in runs.out + runs.err + logs.out + logs.err


def test_secret_is_absent_from_the_database_files_when_runs_are_stored(
    sandbox: Sandbox, secret_run: SecretRun, failed_run: tuple[Result, dict[str, Any]]
) -> None:
    stored = sandbox.db_bytes()

    assert secret_run.run_id.encode() in stored  # the runs really are in these files
    assert SECRET.encode() not in stored


def test_secret_is_absent_from_run_artifacts_when_run_has_ended(
    sandbox: Sandbox, secret_run: SecretRun
) -> None:
    files = [p for p in sandbox.data.rglob("*") if p.is_file()]

    assert files
    assert not [p for p in files if SECRET.encode() in p.read_bytes()]
