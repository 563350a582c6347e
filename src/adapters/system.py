"""The real clock and run id source behind the Clock and IdSource ports."""

from __future__ import annotations

import secrets
import time
from datetime import datetime, timezone


class SystemClock:
    """Wall time in UTC (RFC 3339, milliseconds, ``Z``) and the process's monotonic clock."""

    def now_iso(self) -> str:
        now = datetime.now(timezone.utc)
        return now.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def monotonic(self) -> float:
        return time.monotonic()


class UuidRunIds:
    """Run ids of 12 random lowercase hex digits; the container is ``flwd-<run_id>``."""

    def new_run_id(self) -> str:
        return secrets.token_hex(6)
