"""Ending console sessions (SPEC section 12: sign-out ends the session) on every replica: the
session's id is recorded as ended in the shared run store until any copy of its cookie has
expired; every signed-in request asks the store whether its id was ended."""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict

from flwd.domain.worker.times import shifted
from flwd.ports.clock import Clock
from flwd.ports.console import EndedSessions

SESSION_SECONDS = 8 * 3600  # a console session's idle lifetime: its cookie's max age
# A copy renewed by a request still in flight at sign-out (on another replica) expires a
# little after the sign-out plus the lifetime: the record outlives it by this much.
RACE_MARGIN_SECONDS = 300.0
KNOWN_ENDED = 1024  # ids this process knows ended, answered without the store


def new_session_id() -> str:
    """A fresh, unguessable session id (128 bits), drawn at every sign-in."""
    return secrets.token_urlsafe(16)


class ConsoleSessions:
    """Sign-outs recorded in the store for *lifetime* seconds (the cookie's idle lifetime)
    and a margin;
    ids known ended are kept in a small in-process cache (an ended id never comes back, so the
    cache cannot be stale; ids not ended are always asked, so another replica's sign-out holds
    at once)."""

    def __init__(self, *, store: EndedSessions, clock: Clock,
                 lifetime: float = SESSION_SECONDS) -> None:
        self._store = store
        self._clock = clock
        self._lifetime = lifetime
        self._known: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def end(self, session_id: str) -> None:
        """Record the sign-out; raises ``RunStoreError`` (the session was NOT ended)."""
        now = self._clock.now_iso()
        self._store.end_session(session_id, shifted(now, self._lifetime + RACE_MARGIN_SECONDS),
                                now)
        self._remember(session_id)

    def ended(self, session_id: str) -> bool:
        """Raises ``RunStoreError`` when the store cannot tell."""
        with self._lock:
            if session_id in self._known:
                return True
        if not self._store.session_ended(session_id):
            return False
        self._remember(session_id)
        return True

    def _remember(self, session_id: str) -> None:
        with self._lock:
            self._known[session_id] = None
            while len(self._known) > KNOWN_ENDED:
                self._known.popitem(last=False)
