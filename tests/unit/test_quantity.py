"""Quantities of specs, policies and configuration: durations, CPU and memory."""

from __future__ import annotations

import pytest

from flwd.domain.errors import SpecInvalidError
from flwd.domain.spec.quantity import parse_duration


@pytest.mark.parametrize("value", ["1e400", "inf", "Infinity", float("inf"), float("nan"), "nan", "9" * 400 + "h"])
def test_parse_duration_rejects_the_value_when_it_is_not_finite(value: object) -> None:
    with pytest.raises(SpecInvalidError) as err:
        parse_duration(value, "timeout")

    assert "not a duration" in err.value.detail


@pytest.mark.parametrize(("value", "seconds"), [("10m", 600.0), ("1h30m", 5400.0), ("500ms", 0.5),
                                                (90, 90.0), ("2.5", 2.5)])
def test_parse_duration_reads_seconds_when_value_is_a_duration(value: object, seconds: float) -> None:
    assert parse_duration(value, "timeout") == seconds
