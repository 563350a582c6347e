"""The secret plan: which files a run's secret arguments become (pure, no I/O)."""

from __future__ import annotations

import json
import re
from typing import Mapping

from flwd.domain.errors import SpecInvalidError
from flwd.domain.model import JobSpec
from flwd.ports.secrets import SecretFile

_SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]+")
SECRET_FILE_MODE = 0o400


def is_safe_secret_name(name: str) -> bool:
    """``[A-Za-z0-9_.-]+`` and neither ``.`` nor ``..``: safe as a file name under /run/secrets."""
    return bool(_SAFE_NAME.fullmatch(name)) and name not in (".", "..")


def secret_text(value: object) -> str:
    """The file text of a secret value: strings as is, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def plan_secrets(job: JobSpec, values: Mapping[str, object]) -> tuple[SecretFile, ...]:
    """One ``SecretFile`` (name = argument name, mode 0400, UTF-8 bytes) per secret argument
    of *job* that has a non-``None`` value in *values* (checked values, from the contract).

    Names are re-checked here as defence in depth: an unsafe name raises
    ``SpecInvalidError`` (``spec.invalid``) even though spec parsing should have caught it.
    """
    files: list[SecretFile] = []
    for spec in job.args:
        if not spec.secret:
            continue
        value = values.get(spec.name)
        if value is None:
            continue
        if not is_safe_secret_name(spec.name):
            raise SpecInvalidError(
                f"{job.spec_path}: args: secret name {spec.name!r} is not a safe file name "
                "([A-Za-z0-9_.-], not . or ..)",
                file=job.spec_path, field="args",
            )
        files.append(
            SecretFile(name=spec.name, value=secret_text(value).encode("utf-8"),
                       mode=SECRET_FILE_MODE)
        )
    return tuple(files)
