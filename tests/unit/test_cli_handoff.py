"""`flwd JOB` handed whole to a resident server (cli.handoff and cli.handoff_server): the
server runs the command line with the CLI's own code on its use cases (FakeRuntime here) and
the client prints what it sends back; what only the client can read comes back to it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from flwd.adapters.fake_runtime import FakeRuntime
from flwd.entrypoints.cli.handoff import RunHere, hand_off
from flwd.entrypoints.cli.handoff_server import handoff_listener
from flwd.entrypoints.container import Container
from flwd.entrypoints.resident import recall, remember
from tests.unit.http_support import close, fake_runtime, make_container

VAULT = """\
executor: container
image: alpine:3.20
command: ["true"]
args:
  - {name: token, type: string, secret: true, required: true}
"""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Container, str, FakeRuntime]]:
    runtime = fake_runtime(run_seconds=0.0)
    container = make_container(tmp_path, runtime)
    (tmp_path / "jobs" / "vault").mkdir()
    (tmp_path / "jobs" / "vault" / "job.yaml").write_text(VAULT)
    short = tempfile.mkdtemp(prefix="fh", dir="/tmp")  # a unix socket path is short
    denied: list[str] = []
    try:
        with handoff_listener(container, f"{short}/resident-x.sock", [], denied.append) as path:
            assert path is not None
            yield container, path, runtime
    finally:
        close(container)
        shutil.rmtree(short, ignore_errors=True)


def test_handed_off_run_prints_its_output_and_exit_status_when_the_server_runs_it(
        served: tuple[Container, str, FakeRuntime], capsys: pytest.CaptureFixture[str]) -> None:
    container, path, _ = served

    code = hand_off(path, "hello", ["--name", "Ann"])
    runs = container.query_runs().page(job_id="hello", status=None, limit=10).runs

    assert code == 0
    assert capsys.readouterr().out == "hello Alice\n"
    assert [run.status for run in runs] == ["succeeded"]
    assert runs[0].args["name"] == "Ann"


def test_handed_off_command_reports_the_coded_error_when_arguments_are_invalid(
        served: tuple[Container, str, FakeRuntime], capsys: pytest.CaptureFixture[str]) -> None:
    container, path, _ = served

    code = hand_off(path, "hello", ["--level", "9"])

    assert code == 2
    assert "error[args.invalid]" in capsys.readouterr().err
    assert container.query_runs().page(job_id="hello", status=None, limit=10).runs == ()


def test_handed_off_command_prints_json_events_when_json_is_asked(
        served: tuple[Container, str, FakeRuntime], capsys: pytest.CaptureFixture[str]) -> None:
    _, path, _ = served

    code = hand_off(path, "hello", ["--name", "Bo", "--json"])
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert code == 0
    assert events[0]["type"] == "run.created"
    assert events[-1]["type"] == "run.finished"
    assert events[-1]["data"]["status"] == "succeeded"


@pytest.mark.parametrize("value", ["@/etc/hostname", "-"])
def test_server_hands_the_command_back_without_recording_when_a_secret_must_be_read(
        served: tuple[Container, str, FakeRuntime], capsys: pytest.CaptureFixture[str],
        value: str) -> None:
    container, path, _ = served

    with pytest.raises(RunHere):
        hand_off(path, "vault", ["--token", value])

    assert capsys.readouterr() == ("", "")
    assert container.query_runs().page(job_id="vault", status=None, limit=10).runs == ()


def test_handed_off_run_keeps_a_secret_given_on_the_line_out_of_what_is_printed(
        served: tuple[Container, str, FakeRuntime], capsys: pytest.CaptureFixture[str]) -> None:
    _, path, _ = served

    code = hand_off(path, "vault", ["--token", "s3cr3t-value", "--json"])

    assert code == 0
    assert "s3cr3t-value" not in capsys.readouterr().out


def test_nothing_is_handed_off_when_the_socket_is_open_to_others(
        served: tuple[Container, str, FakeRuntime]) -> None:
    _, path, _ = served
    os.chmod(path, 0o660)

    assert hand_off(path, "hello", ["--name", "Ann"]) is None


def test_server_hangs_up_without_running_when_the_request_is_not_one(
        served: tuple[Container, str, FakeRuntime]) -> None:
    container, path, _ = served
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(10)
        client.connect(path)
        client.sendall(b'{"job": 3}\n')
        answer = client.recv(100)

    assert answer == b""
    assert container.query_runs().page(job_id=None, status=None, limit=10).runs == ()


def test_memo_names_the_socket_again_when_settings_are_the_same(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "FLWD_RUNTIME": "docker"}
    remember(env, {"runtime": "docker"}, "/run/x.run.sock")

    assert recall(env, {"runtime": "docker"}) == "/run/x.run.sock"
    assert recall({**env, "FLWD_RUNTIME": "podman"}, {"runtime": "docker"}) is None
    assert recall(env, {"runtime": "podman"}) is None


def test_memo_is_ignored_when_others_may_write_it(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    remember(env, {}, "/run/x.run.sock")
    memo = next((tmp_path / ".cache" / "flwd").iterdir())
    memo.chmod(0o666)

    assert stat.S_IMODE(memo.stat().st_mode) == 0o666
    assert recall(env, {}) is None


def test_memo_changes_when_the_configuration_file_changes(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "flwd.yaml").write_text("runtime: docker\n")
    env = {"HOME": str(tmp_path)}
    remember(env, {}, "/run/x.run.sock")
    os.utime(tmp_path / "flwd.yaml", ns=(1, 1))

    assert recall(env, {}) is None



def test_memo_is_ignored_when_a_watched_policy_file_changes(tmp_path: Path) -> None:
    """The memo names a server that loaded the policy as it was then."""
    policy = tmp_path / "policy.yaml"
    policy.write_text("allowed_profiles: [secure, permissive]\n")
    env = {"HOME": str(tmp_path)}
    remember(env, {}, "/run/x.run.sock", watched=(str(policy),))
    assert recall(env, {}) == "/run/x.run.sock"

    policy.write_text("allowed_profiles: [secure]\n")
    os.utime(policy, ns=(1, 1))

    assert recall(env, {}) is None
