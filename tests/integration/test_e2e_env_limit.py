"""Arguments as large as one environment variable can hold reach the job on both runtimes; one
byte more is `args.invalid` before any container (Linux's per-string limit, MAX_ARG_STRLEN)."""

from __future__ import annotations

import pytest

from flwd.domain.args.ulc import MAX_ENV_STRING_BYTES
from tests.integration.e2e_support import (  # noqa: F401 - fixtures
    Result,
    Runtime,
    Sandbox,
    rt,
    sandbox,
)

BIG_JOB = """\
    executor: container
    image: alpine:3.20
    script: main.sh
    args:
      - {name: blob, type: string, required: true}
    """
SHOW = 'echo "arg=${#ARG_BLOB} json=${#FLWD_ARGS_JSON}"\n'
# FLWD_ARGS_JSON={"blob":"<value>"} and its NUL: the largest of the blob's variables
EMPTY_JSON = '{"blob":""}'
FITS = MAX_ENV_STRING_BYTES - len(f"FLWD_ARGS_JSON={EMPTY_JSON}") - 1


@pytest.fixture(scope="module")
def big(sandbox: Sandbox) -> tuple[Result, Result]:
    sandbox.write_job("big", BIG_JOB, {"main.sh": SHOW})
    fits = sandbox.flwd("big", "--blob", "x" * FITS)
    too_long = sandbox.flwd("big", "--blob", "x" * (FITS + 1))
    return fits, too_long


def test_an_argument_that_fills_the_environment_limit_reaches_the_job(
        big: tuple[Result, Result]) -> None:
    fits, _ = big

    assert fits.code == 0, fits.err
    assert fits.out.strip() == f"arg={FITS} json={FITS + len(EMPTY_JSON)}"


def test_one_byte_more_is_args_invalid_before_any_container(
        rt: Runtime, sandbox: Sandbox, big: tuple[Result, Result]) -> None:
    _, too_long = big

    assert too_long.code == 2, too_long.err
    assert too_long.err.startswith("error[args.invalid]: ")
    assert "--blob: range: " in too_long.err
    assert len([r for r in sandbox.runs() if r["job_id"] == "big"]) == 1  # only the run that fit
