"""The secret plan: which files a run's secret arguments become (pure, no I/O)."""

from __future__ import annotations

import re
from typing import Mapping

from flwd.domain.args.ulc import secret_values
from flwd.domain.errors import SpecInvalidError
from flwd.domain.model import JobSpec
from flwd.ports.secrets import SecretFile

_SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]+")
SECRET_FILE_MODE = 0o400


def is_safe_secret_name(name: str) -> bool:
    """``[A-Za-z0-9_.-]+`` and neither ``.`` nor ``..``: safe as a file name under /run/secrets."""
    return bool(_SAFE_NAME.fullmatch(name)) and name not in (".", "..")


def plan_secrets(job: JobSpec, values: Mapping[str, object]) -> tuple[SecretFile, ...]:
    """One ``SecretFile`` (name = argument name, mode 0400, UTF-8 bytes) per secret argument
    of *job* that has a non-``None`` value in *values* (checked values, from the contract).

    Names are re-checked here as defence in depth: an unsafe name raises
    ``SpecInvalidError`` (``spec.invalid``) even though spec parsing should have caught it.
    """
    texts = secret_values(job.args, values)
    for name in texts:
        if not is_safe_secret_name(name):
            raise SpecInvalidError(
                f"{job.spec_path}: args: secret name {name!r} is not a safe file name "
                "([A-Za-z0-9_.-], not . or ..)",
                file=job.spec_path, field="args",
            )
    return tuple(SecretFile(name=name, value=text.encode("utf-8"), mode=SECRET_FILE_MODE)
                 for name, text in texts.items())
