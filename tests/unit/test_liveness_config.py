"""``heartbeat_interval`` and ``worker_timeout``: defaults, file keys, FLWD_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from flwd.domain.errors import ConfigInvalidError
from flwd.entrypoints.config import CliOverrides, load_config

HOME = {"HOME": "/nonexistent"}


def test_liveness_settings_default_to_five_and_thirty_seconds_when_unset() -> None:
    config = load_config(CliOverrides(), HOME)

    assert (config.heartbeat_interval, config.worker_timeout) == (5.0, 30.0)


def test_liveness_settings_take_durations_when_given_as_variables() -> None:
    env = {**HOME, "FLWD_HEARTBEAT_INTERVAL": "1500ms", "FLWD_WORKER_TIMEOUT": "1m"}

    config = load_config(CliOverrides(), env)

    assert (config.heartbeat_interval, config.worker_timeout) == (1.5, 60.0)


def test_liveness_variables_win_over_the_file_when_both_are_set(tmp_path: Path) -> None:
    (tmp_path / "flwd.yaml").write_text("heartbeat_interval: 2s\nworker_timeout: 20\n")
    overrides = CliOverrides(config=str(tmp_path / "flwd.yaml"))

    from_file = load_config(overrides, HOME)
    overridden = load_config(overrides, {**HOME, "FLWD_WORKER_TIMEOUT": "45s"})

    assert (from_file.heartbeat_interval, from_file.worker_timeout) == (2.0, 20.0)
    assert (overridden.heartbeat_interval, overridden.worker_timeout) == (2.0, 45.0)


@pytest.mark.parametrize("env", [
    {"FLWD_WORKER_TIMEOUT": "5s"},  # not longer than the default interval
    {"FLWD_HEARTBEAT_INTERVAL": "40s"},  # longer than the default timeout
    {"FLWD_HEARTBEAT_INTERVAL": "soon"},
    {"FLWD_WORKER_TIMEOUT": "-3"},
])
def test_liveness_settings_are_config_invalid_when_unusable(env: dict[str, str]) -> None:
    with pytest.raises(ConfigInvalidError) as err:
        load_config(CliOverrides(), {**HOME, **env})

    assert err.value.code == "config.invalid"
    assert err.value.context["field"] in {"heartbeat_interval", "worker_timeout"}
