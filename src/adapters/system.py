"""The real clock and run id source behind the Clock and IdSource ports."""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone

from flwd.ports.owner import QUEUED_OWNER


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
        return os.urandom(6).hex()  # what secrets.token_hex(6) does, without its imports


class LocalRunOwners:
    """Owner tags ``host:pid``; a tag is alive when it names another live process here.

    With a store shared by several hosts (``store_url``) a tag of another host counts as
    alive: this host cannot see that process, so it never adopts (and ends) the runs of a
    host that may well be running them. Without (SQLite), another host's tag is an old one of
    this data dir (the host was renamed) and counts as ended, as before.

    In cluster mode (``cluster``) every other tag counts as alive, this host's too: runs are
    executed by workers, and whether a worker is gone is decided by its heartbeats
    (``worker_timeout``), not by a CLI or a replica that happens to share its host.
    """

    def __init__(self, *, shared_store: bool = False, cluster: bool = False) -> None:
        self._host = os.uname().nodename  # socket.gethostname() on Linux
        self._shared = shared_store
        self._cluster = cluster

    def me(self) -> str:
        return f"{self._host}:{os.getpid()}"

    def alive(self, owner: str) -> bool:
        if owner == QUEUED_OWNER or (self._cluster and owner != self.me()):
            return True  # waiting in cluster mode's queue, or held by a worker
        host, _, pid_text = owner.rpartition(":")
        if host != self._host:
            return self._shared and bool(host) and pid_text.isdigit()
        if not pid_text.isdigit() or int(pid_text) == os.getpid():
            return False
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
