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


# The largest values a runtime can take (Docker's and Podman's limits are 64-bit integers;
# a threading wait refuses a timeout over about 292 years): anything above is a mistake that
# is better refused with its field than met as an OverflowError at run time.
MAX_CPU_CORES = 1_000_000
MAX_MEMORY_BYTES = 2**63 - 1
MAX_DURATION_SECONDS = 10 * 365 * 86400.0
MAX_PIDS = 4_194_304  # the kernel's PID_MAX_LIMIT: no container can have more processes


def _number(value: object) -> float | None:
    """*value* as a float when it is a YAML/JSON number; an integer too large for a float
    (a 401-digit one) is infinite, which every caller refuses as out of range."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return value
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    return None


def _brief(value: object) -> str:
    """``repr(value)``, cut short: a 401-digit number need not fill the error line."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}... ({len(text)} characters)"


def _float(text: str) -> float | None:
    """``float(text)``, None when it is not a number (inf and nan are refused later)."""
    try:
        return float(text)
    except ValueError:
        return None


def parse_cpu(value: object, field: str = "cpu") -> int:
    """``"500m"`` -> 500, ``"2"``/``2``/``2.0`` -> 2000, ``"0.5"`` -> 500 (millicores).

    At most ``MAX_CPU_CORES``; anything else raises ``SpecInvalidError`` naming *field*."""
    number = _number(value)
    text = str(value).strip()
    if number is None:
        millis = _float(text[:-1]) if text.endswith("m") and text[:-1].isdigit() else None
        number = millis / 1000 if millis is not None else _float(text)
    if number is None or not 0 < number <= MAX_CPU_CORES:  # also refuses nan and inf
        raise SpecInvalidError(f"{field}: {_brief(text)} is not a CPU quantity like 500m or 2 "
                               f"(at most {MAX_CPU_CORES:,} cores)", field=field)
    return max(1, round(number * 1000))


def parse_memory(value: object, field: str = "memory") -> int:
    """``"256Mi"``, ``"1Gi"``, ``"512m"``, ``"1G"``, ``1048576`` -> bytes.

    At most ``MAX_MEMORY_BYTES`` (8Ei); anything else raises ``SpecInvalidError``."""
    number = _number(value)
    if number is None or number <= 0:
        match = _MEMORY.match(str(value))
        unit = match.group(2).lower() if match else ""
        if match and unit in _MEMORY_UNITS:
            number = float(match.group(1)) * _MEMORY_UNITS[unit]
        else:
            number = None
    if number is None or not 1 <= number <= MAX_MEMORY_BYTES:
        raise SpecInvalidError(
            f"{field}: {_brief(value)} is not a memory quantity like 256Mi or 1Gi (at most 8Ei)",
            field=field,
        )
    return min(int(number), MAX_MEMORY_BYTES)


def parse_duration(value: object, field: str = "timeout") -> float:
    """``"10m"``, ``"1h30m"``, ``"45s"``, ``"500ms"``, ``90`` (seconds) -> seconds.

    Positive and at most ``MAX_DURATION_SECONDS`` (ten years); anything else raises
    ``SpecInvalidError`` naming *field*."""
    seconds = _number(value)
    if seconds is None:
        text = str(value).strip()
        parts = _DURATION_PART.findall(text)
        if parts and "".join(n + u for n, u in parts) == text:
            seconds = sum(float(n) * _DURATION_UNITS[u] for n, u in parts)
        else:
            seconds = _float(text)
    if seconds is None or not 0 < seconds <= MAX_DURATION_SECONDS:
        raise SpecInvalidError(
            f"{field}: {_brief(value)} is not a duration like 10m or 30s (at most 10 years)", field=field)
    return seconds


def parse_pids(value: object, field: str = "pids") -> int:
    """A process limit: a positive integer, at most ``MAX_PIDS``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_PIDS:
        raise SpecInvalidError(
            f"{field}: {_brief(value)} is not a positive integer of at most {MAX_PIDS:,}", field=field)
    return value


def format_memory(num_bytes: int) -> str:
    for unit, size in (("Gi", 1024**3), ("Mi", 1024**2), ("Ki", 1024)):
        if num_bytes % size == 0:
            return f"{num_bytes // size}{unit}"
    return str(num_bytes)


def format_cpu(millis: int) -> str:
    return f"{millis // 1000}" if millis % 1000 == 0 else f"{millis}m"
