"""Parsing of the quantities specs and policies use: CPU, memory and durations."""

from __future__ import annotations

import math
import re

from flwd.domain.errors import SpecInvalidError

_MEMORY_UNITS = {
    "": 1,
    "k": 1000,
    "m": 1000**2,
    "g": 1000**3,
    "t": 1000**4,
    "ki": 1024,
    "mi": 1024**2,
    "gi": 1024**3,
    "ti": 1024**4,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "b": 1,
}
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]{0,2})\s*$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return None


def parse_cpu(value: object, field: str = "cpu") -> int:
    """``"500m"`` -> 500, ``"2"``/``2``/``2.0`` -> 2000, ``"0.5"`` -> 500 (millicores)."""
    number = _number(value)
    text = str(value).strip()
    if number is None:
        if text.endswith("m") and text[:-1].isdigit():
            number = int(text[:-1]) / 1000
        else:
            try:
                number = float(text)
            except ValueError:
                number = None
    if number is None or number <= 0 or number != number or number > 1_000_000:
        raise SpecInvalidError(f"{field}: {text!r} is not a CPU quantity like 500m or 2", field=field)
    return max(1, round(number * 1000))


def parse_memory(value: object, field: str = "memory") -> int:
    """``"256Mi"``, ``"1Gi"``, ``"512m"``, ``"1G"``, ``1048576`` -> bytes."""
    number = _number(value)
    if number is not None and number > 0:
        return int(number)
    match = _MEMORY.match(str(value))
    unit = match.group(2).lower() if match else ""
    if not match or unit not in _MEMORY_UNITS or float(match.group(1)) <= 0:
        raise SpecInvalidError(
            f"{field}: {value!r} is not a memory quantity like 256Mi or 1Gi", field=field
        )
    return int(float(match.group(1)) * _MEMORY_UNITS[unit])


def parse_duration(value: object, field: str = "timeout") -> float:
    """``"10m"``, ``"1h30m"``, ``"45s"``, ``"500ms"``, ``90`` (seconds) -> seconds."""
    number = _number(value)
    if number is not None:
        if 0 < number < math.inf:
            return number
    else:
        text = str(value).strip()
        parts = _DURATION_PART.findall(text)
        if parts and "".join(n + u for n, u in parts) == text:
            total = sum(float(n) * _DURATION_UNITS[u] for n, u in parts)
            if 0 < total < math.inf:
                return total
        try:
            seconds = float(text)
        except ValueError:
            seconds = 0.0
        if 0 < seconds < math.inf:
            return seconds
    raise SpecInvalidError(f"{field}: {value!r} is not a duration like 10m or 30s", field=field)


def format_memory(num_bytes: int) -> str:
    for unit, size in (("Gi", 1024**3), ("Mi", 1024**2), ("Ki", 1024)):
        if num_bytes % size == 0:
            return f"{num_bytes // size}{unit}"
    return str(num_bytes)


def format_cpu(millis: int) -> str:
    return f"{millis // 1000}" if millis % 1000 == 0 else f"{millis}m"
