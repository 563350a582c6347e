"""The web console's ended sessions (SPEC section 12: sign-out ends the session), kept in the
run store so that a sign-out on one replica holds on every replica sharing the store."""

from __future__ import annotations

from typing import Protocol


class EndedSessions(Protocol):
    """Session ids signed out before their cookie expired. Times are RFC 3339 UTC with
    milliseconds and ``Z`` (the Clock port's), so text order is time order."""

    def end_session(self, session_id: str, until: str, now: str) -> None:
        """Record *session_id* as ended until *until* (when any copy of its cookie has
        expired), and purge the records whose *until* is before *now*, in one transaction.
        Ending an id again keeps the later *until*. Raises ``RunStoreError``."""
        ...

    def session_ended(self, session_id: str) -> bool:
        """Whether *session_id* was ended (one indexed lookup). Raises ``RunStoreError``."""
        ...
