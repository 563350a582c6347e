"""RFC 3339 times as the Clock port gives them (UTC, milliseconds, ``Z``), shifted and compared."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


def shifted(iso: str, seconds: float) -> str:
    """*iso* moved by *seconds* (negative: earlier), in the same format, so that text order
    stays time order."""
    moved = parse(iso) + timedelta(seconds=seconds)
    return moved.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def age_seconds(iso: str, now_iso: str) -> float:
    """How long before *now_iso* the time *iso* was (never negative: clocks differ a little)."""
    return max(0.0, (parse(now_iso) - parse(iso)).total_seconds())


def parse(iso: str) -> datetime:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
