"""Job ids must be reachable from the command line (SPEC sections 1 and 7)."""

from __future__ import annotations

import pytest

from flwd.domain.spec.job import is_valid_job_id


@pytest.mark.parametrize("job_id", ["-x", "--help", "-/a"])
def test_job_id_is_invalid_when_it_starts_with_a_dash(job_id: str) -> None:
    # `flwd -x` is read as a global option, so such a job could never be run or planned
    assert not is_valid_job_id(job_id)


@pytest.mark.parametrize("job_id", ["backup/daily", "a-b", "x/-y", "v1.2_3"])
def test_job_id_is_valid_when_it_is_a_plain_path(job_id: str) -> None:
    assert is_valid_job_id(job_id)
