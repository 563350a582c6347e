"""The EndedSessions contract (the console's sign-outs), run against the fake, SQLite and
PostgreSQL stores (each empty)."""

from __future__ import annotations

from flwd.ports.console import EndedSessions


def at(hour: int) -> str:
    return f"2026-01-01T{hour:02d}:00:00.000Z"


def check_ended_sessions_contract(store: EndedSessions) -> None:
    """Every rule of the EndedSessions port; *store* must start empty."""
    _check_end_and_look_up(store)
    _check_purge_of_expired_records(store)
    _check_ending_again_keeps_the_later_expiry(store)


def _check_end_and_look_up(store: EndedSessions) -> None:
    assert not store.session_ended("s-1")
    store.end_session("s-1", until=at(9), now=at(1))
    assert store.session_ended("s-1")
    assert not store.session_ended("s-2"), "only the ended id is ended"
    assert not store.session_ended("S-1"), "ids are compared exactly"


def _check_purge_of_expired_records(store: EndedSessions) -> None:
    store.end_session("s-2", until=at(12), now=at(8))
    assert store.session_ended("s-1"), "a record is kept until its expiry"
    store.end_session("s-3", until=at(20), now=at(10))
    assert not store.session_ended("s-1"), "a record past its expiry is purged on write"
    assert store.session_ended("s-2") and store.session_ended("s-3")


def _check_ending_again_keeps_the_later_expiry(store: EndedSessions) -> None:
    store.end_session("s-4", until=at(22), now=at(10))
    store.end_session("s-4", until=at(15), now=at(10))  # an earlier expiry: ignored
    store.end_session("s-5", until=at(23), now=at(21))
    assert store.session_ended("s-4"), "the later expiry of the two holds"
    store.end_session("s-6", until=at(23), now="2026-01-01T22:00:00.001Z")
    assert not store.session_ended("s-4")
