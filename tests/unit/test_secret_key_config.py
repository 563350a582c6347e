"""The cluster-mode secret key: FLWD_SECRET_KEY / secret_key_file, checked like ssh checks a
private key, never shown; the container's sealer without it is secret.key.missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flwd.adapters.secret_sealer import AesGcmSecretSealer
from flwd.domain.errors import ConfigInvalidError, SecretKeyMissingError
from flwd.entrypoints.cli.doctor import secret_key_line
from flwd.entrypoints.config import CliOverrides, FlwdConfig, load_config
from flwd.entrypoints.container import build_container
from tests.unit.test_cli_startup import _PROBE, EXAMPLES, RUN_SIDE

KEY_TEXT = "Zq7-long-enough-secret-key-0123456789"


def _key_file(tmp_path: Path, text: str = KEY_TEXT + "\n", mode: int = 0o600) -> Path:
    path = tmp_path / "secret.key"
    path.write_text(text)
    path.chmod(mode)
    return path


def _config_with(tmp_path: Path, line: str) -> Path:
    config = tmp_path / "flwd.yaml"
    config.write_text(line)
    return config


def test_key_is_read_from_the_file_when_config_names_it_relative_to_itself(
        tmp_path: Path) -> None:
    _key_file(tmp_path)
    config = load_config(CliOverrides(config=str(_config_with(tmp_path, "secret_key_file: secret.key\n"))), {})

    assert config.secret_key is not None
    assert config.secret_key.text == KEY_TEXT  # the final newline is not part of it
    assert config.secret_key.source == str(tmp_path / "secret.key")


def test_env_key_wins_when_both_env_and_file_are_set(tmp_path: Path) -> None:
    config_path = _config_with(tmp_path, "secret_key_file: missing.key\n")  # never read

    config = load_config(CliOverrides(config=str(config_path)), {"FLWD_SECRET_KEY": "e" * 40})

    assert config.secret_key is not None and config.secret_key.text == "e" * 40
    assert config.secret_key.source == "FLWD_SECRET_KEY"


def test_env_file_variable_names_the_key_file_when_set(tmp_path: Path) -> None:
    path = _key_file(tmp_path)

    config = load_config(CliOverrides(), {"FLWD_SECRET_KEY_FILE": str(path)})

    assert config.secret_key is not None and config.secret_key.text == KEY_TEXT


def test_no_key_is_configured_when_nothing_names_one(tmp_path: Path) -> None:
    assert load_config(CliOverrides(), {"HOME": str(tmp_path)}).secret_key is None


@pytest.mark.parametrize("env", [{"FLWD_SECRET_KEY": "x" * 31},
                                 {"FLWD_SECRET_KEY": "   " + "x" * 20 + "          "}])
def test_short_env_key_is_config_invalid_when_under_32_characters(env: dict[str, str]) -> None:
    with pytest.raises(ConfigInvalidError) as caught:
        load_config(CliOverrides(), env)

    assert "shorter than 32 characters" in caught.value.detail
    assert "x" * 20 not in caught.value.detail


def test_short_file_key_is_config_invalid_when_under_32_characters(tmp_path: Path) -> None:
    path = _key_file(tmp_path, "short-key\n")

    with pytest.raises(ConfigInvalidError) as caught:
        load_config(CliOverrides(), {"FLWD_SECRET_KEY_FILE": str(path)})

    assert "shorter than 32" in caught.value.detail and "short-key" not in caught.value.detail


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o602])
def test_key_file_is_config_invalid_when_group_or_others_have_access(
        tmp_path: Path, mode: int) -> None:
    path = _key_file(tmp_path, mode=mode)

    with pytest.raises(ConfigInvalidError) as caught:
        load_config(CliOverrides(), {"FLWD_SECRET_KEY_FILE": str(path)})

    assert "too open" in caught.value.detail and f"{mode:04o}" in caught.value.detail
    assert KEY_TEXT not in caught.value.detail


@pytest.mark.parametrize("mode", [0o400, 0o600])
def test_key_file_is_accepted_when_only_its_owner_has_access(tmp_path: Path, mode: int) -> None:
    path = _key_file(tmp_path, mode=mode)

    config = load_config(CliOverrides(), {"FLWD_SECRET_KEY_FILE": str(path)})

    assert config.secret_key is not None


def test_key_file_is_config_invalid_when_missing_or_a_directory(tmp_path: Path) -> None:
    for path in (tmp_path / "nope.key", tmp_path):
        with pytest.raises(ConfigInvalidError):
            load_config(CliOverrides(), {"FLWD_SECRET_KEY_FILE": str(path)})


def test_key_file_is_config_invalid_when_owned_by_another_user(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _key_file(tmp_path)
    if os.geteuid() == 0:
        os.chown(path, 4242, 4242)  # root reads any file: hand this one to someone else
    else:
        monkeypatch.setattr(os, "geteuid", lambda: path.stat().st_uid + 4242)

    with pytest.raises(ConfigInvalidError) as caught:
        load_config(CliOverrides(), {"FLWD_SECRET_KEY_FILE": str(path)})

    assert "owned by uid" in caught.value.detail


def test_key_is_in_no_repr_when_configured(tmp_path: Path) -> None:
    config = load_config(CliOverrides(), {"FLWD_SECRET_KEY": KEY_TEXT})
    container = build_container(config)

    shown = " ".join([repr(config), str(config.secret_key), repr(container.sealer()),
                      secret_key_line(config)])
    assert KEY_TEXT not in shown
    assert "FLWD_SECRET_KEY" in secret_key_line(config)


def test_container_sealer_is_secret_key_missing_when_no_key_configured(tmp_path: Path) -> None:
    sealer = build_container(FlwdConfig(data_dir=str(tmp_path))).sealer()

    with pytest.raises(SecretKeyMissingError):
        sealer.seal("run-1", {"token": b"value-of-token"})
    assert secret_key_line(FlwdConfig()).startswith("not set")


def test_container_sealers_share_secrets_when_given_the_same_key(tmp_path: Path) -> None:
    """A replica seals, a worker (another container, same key) opens."""
    config = load_config(CliOverrides(), {"FLWD_SECRET_KEY": KEY_TEXT})
    replica, worker = build_container(config).sealer(), build_container(config).sealer()

    assert isinstance(worker, AesGcmSecretSealer)
    assert worker.open("run-1", replica.seal("run-1", {"token": b"tok"})) == {"token": b"tok"}


def test_plan_never_loads_cryptography_when_a_secret_key_is_configured(tmp_path: Path) -> None:
    env = {"FLWD_DATA_DIR": str(tmp_path / "data"), "FLWD_JOBS_DIR": str(EXAMPLES),
           "PATH": "/usr/bin:/bin", "FLWD_SECRET_KEY": KEY_TEXT}
    done = subprocess.run([sys.executable, "-c", _PROBE, ":plan", "demo-container", "--name", "x"],
                          input=json.dumps(RUN_SIDE), capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=60)

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["code"] == 0 and result["loaded"] == []


@pytest.mark.parametrize("as_json", [False, True])
def test_doctor_says_the_key_is_set_but_never_prints_it_when_configured(
        tmp_path: Path, as_json: bool) -> None:
    import io

    from flwd.entrypoints.cli.main import main
    from flwd.entrypoints.cli.render import Io

    out, err = io.StringIO(), io.StringIO()
    env = {"FLWD_SECRET_KEY": KEY_TEXT, "FLWD_DATA_DIR": str(tmp_path / "d"), "HOME": str(tmp_path),
           "FLWD_RUNTIME": "podman", "CONTAINER_HOST": f"unix://{tmp_path}/none.sock",
           "PATH": "/nonexistent"}  # no runtime answers: the report is printed all the same

    main([":doctor", *(["--json"] if as_json else [])], io=Io(out=out, err=err), env=env)

    text = out.getvalue() + err.getvalue()
    assert "set (from FLWD_SECRET_KEY)" in text
    assert KEY_TEXT not in text


def test_jobs_never_inherit_the_key_when_policy_grants_env_inheritance(tmp_path: Path) -> None:
    from dependency_injector import providers

    from flwd.entrypoints.container import Container

    container = build_container(FlwdConfig(data_dir=str(tmp_path)), env={
        "FLWD_SECRET_KEY": KEY_TEXT, "FLWD_TOKENS": "t0ken=runs:admin", "FLWD_TOKEN": "t1",
        "FLWD_STORE_URL": "postgresql://flwd:pw@db/flwd", "flwd_tokens": "t2", "LANG": "C.UTF-8"})

    assert container.job_env() == {"LANG": "C.UTF-8"}
    host_env = Container.execute_run.kwargs["host_env"]
    assert isinstance(host_env, providers.Singleton) and host_env is Container.job_env
