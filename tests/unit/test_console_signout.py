"""Sign-out ends the console session on every replica (SPEC section 12): the session's id is
recorded as ended in the run store, so a copy of the cookie taken before is refused by any app
sharing the key and the store; the EndedSessions contract on the fake and on SQLite
(PostgreSQL: tests/integration/test_pg_console_sessions.py)."""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Iterator

from dependency_injector import providers
from litestar.testing import TestClient

from flwd.adapters._sql_sessions import ended_sessions_table
from flwd.adapters.fakes import FakeClock, FakeRunStore
from flwd.adapters.sqlite_store import SqliteRunStore
from flwd.domain.errors import StoreUnavailableError
from flwd.domain.sessions import RACE_MARGIN_SECONDS, SESSION_SECONDS, ConsoleSessions
from flwd.entrypoints.web.cookies import SESSION_COOKIE
from flwd.ports.sealing import SecretKey
from tests.contracts.sessions import check_ended_sessions_contract
from tests.unit.console_support import console, console_app, post_form, sign_in
from tests.unit.http_support import ADMIN, auth, close, fake_runtime, make_container, sse_messages
from tests.unit.sqlite_support import check_on_sqlite, database_before

KEY = SecretKey(text="k" * 20 + "-shared-signout-key-0123", source="test")


@contextmanager
def replicas(tmp: Path, count: int = 2, store: FakeRunStore | None = None
             ) -> Iterator[list[TestClient[Any]]]:
    """*count* apps (replicas) sharing the secret key and the run store (the same SQLite file
    under *tmp*, or *store*), each with its own container (so its own cache of ended ids)."""
    with ExitStack() as stack:
        clients = []
        for _ in range(count):
            container = make_container(tmp, fake_runtime())
            if store is not None:
                container.store.override(providers.Object(store))
            stack.callback(close, container)
            clients.append(stack.enter_context(TestClient(console_app(container, KEY))))
        yield clients


@contextmanager
def signed_in_over(tmp: Path, store: FakeRunStore) -> Iterator[TestClient[Any]]:
    """One replica over *store*, its browser signed in."""
    with replicas(tmp, 1, store) as (browser,):
        assert sign_in(browser, ADMIN).status_code == 303
        yield browser


def copy_cookies(source: TestClient[Any], target: TestClient[Any]) -> None:
    """A copy of the browser's cookies (taken by whoever could read them), or a load balancer."""
    for cookie in source.cookies.jar:
        target.cookies.jar.set_cookie(cookie)


def sign_out(client: TestClient[Any]) -> Any:
    return post_form(client, "/ui/signout", [], page_path="/ui/jobs")


def jobs_page(client: TestClient[Any]) -> Any:
    return client.get("/ui/jobs", follow_redirects=False)


def sent_to_sign_in(response: Any) -> bool:
    return response.status_code == 303 and response.headers["location"].startswith("/ui/signin")


def replayed_after_sign_out(tmp: Path) -> tuple[Any, Any, Any]:
    """Sign in, copy the cookie, sign out, replay the copy (on an app sharing key and store):
    the copy's page before sign-out, the sign-out's answer, the replayed copy's page."""
    with replicas(tmp, 2) as (browser, thief):
        assert sign_in(browser, ADMIN).status_code == 303
        copy_cookies(browser, thief)
        before = jobs_page(thief)
        return before, sign_out(browser), jobs_page(thief)


def test_copied_cookie_is_refused_when_its_session_was_signed_out(tmp_path: Path) -> None:
    before, signed_out, replayed = replayed_after_sign_out(tmp_path)

    assert before.status_code == 200, "the copy was valid before sign-out"
    assert signed_out.status_code == 303
    assert sent_to_sign_in(replayed)


def test_copied_cookie_is_refused_on_another_replica_when_signed_out_on_one(
        tmp_path: Path) -> None:
    with replicas(tmp_path, 3) as (a, b, copy_on_b):
        sign_in(a, ADMIN)
        copy_cookies(a, copy_on_b)
        copy_cookies(a, b)
        assert jobs_page(b).status_code == 200  # b has seen the session, valid then
        sign_out(a)
        refused = jobs_page(copy_on_b)

    assert sent_to_sign_in(refused)


def test_other_session_of_the_same_token_stays_valid_when_one_signs_out(tmp_path: Path) -> None:
    with replicas(tmp_path, 2) as (first, second):
        sign_in(first, ADMIN)
        sign_in(second, ADMIN)
        sign_out(first)
        still = jobs_page(second)
        again = sign_in(first, ADMIN)
        after = jobs_page(first)

    assert still.status_code == 200
    assert again.status_code == 303 and after.status_code == 200, "a new sign-in is a new session"


def test_refused_cookie_is_cleared_not_renewed_when_its_session_was_ended(tmp_path: Path) -> None:
    replayed = replayed_after_sign_out(tmp_path)[2]

    set_cookie = replayed.headers.get("set-cookie", "")
    assert f"{SESSION_COOKIE}=null" in set_cookie and "expires" in set_cookie.lower()


def test_sign_out_keeps_the_session_and_says_so_when_the_store_cannot_record_it(
        tmp_path: Path) -> None:
    store = FakeRunStore()
    with signed_in_over(tmp_path, store) as browser:
        store.full = True
        answer = sign_out(browser)
        store.full = False
        still = jobs_page(browser)

    assert answer.status_code == 503
    assert "run.store.failed" in answer.text and "NOT ended" in answer.text
    assert still.status_code == 200, "the user is still signed in, as the page said"
    assert store.ended_sessions == {}


class UnreadableSessions(FakeRunStore):
    """A store whose ended sessions cannot be read while ``down`` (PostgreSQL unreachable)."""

    down = False

    def session_ended(self, session_id: str) -> bool:
        if self.down:
            raise StoreUnavailableError("the run store at postgresql://db does not answer")
        return super().session_ended(session_id)


def test_page_answers_a_coded_error_when_the_store_cannot_tell_if_the_session_ended(
        tmp_path: Path) -> None:
    store = UnreadableSessions()
    with signed_in_over(tmp_path, store) as browser:
        store.down = True
        page, sign_in_form = jobs_page(browser), browser.get("/ui/signin")

    assert page.status_code == 503 and "store.unavailable" in page.text
    assert sign_in_form.status_code == 200


def test_ended_id_is_answered_without_the_store_when_this_process_ended_it() -> None:
    store = FakeRunStore()
    sessions = ConsoleSessions(store=store, clock=FakeClock())
    sessions.end("s-1")
    lookups = store.session_lookups
    assert sessions.ended("s-1")
    assert store.session_lookups == lookups
    assert not sessions.ended("s-2") and store.session_lookups == lookups + 1


def test_sign_outs_are_purged_when_older_than_the_session_lifetime() -> None:
    store, clock = FakeRunStore(), FakeClock()
    sessions = ConsoleSessions(store=store, clock=clock)
    sessions.end("old")
    clock.advance(SESSION_SECONDS)
    sessions.end("recent")
    assert set(store.ended_sessions) == {"old", "recent"}, "kept while a copy may be alive"
    clock.advance(RACE_MARGIN_SECONDS + 1)
    sessions.end("new")

    assert set(store.ended_sessions) == {"recent", "new"}
    assert ConsoleSessions(store=store, clock=clock).ended("recent")


def test_fake_store_keeps_the_ended_sessions_contract_when_empty() -> None:
    check_ended_sessions_contract(FakeRunStore())


def test_sqlite_store_keeps_the_ended_sessions_contract_when_empty(tmp_path: Path) -> None:
    check_on_sqlite(tmp_path / "flwd.db", check_ended_sessions_contract)


def test_sqlite_store_adds_ended_sessions_when_a_database_predates_them(tmp_path: Path) -> None:
    path = tmp_path / "flwd.db"
    database_before(path, ended_sessions_table())

    store = SqliteRunStore(path)
    store.end_session("s-1", until="2026-01-01T09:00:00.000Z", now="2026-01-01T01:00:00.000Z")
    assert store.session_ended("s-1")
    store.close()


def test_open_live_stream_ends_when_its_session_is_signed_out(tmp_path: Path) -> None:
    """A stream opened before sign-out (here by a copy of the cookie) would otherwise go on
    sending the run's output until the run ends."""
    with console(tmp_path, runtime=fake_runtime(run_seconds=20)) as browser:
        sign_in(browser, ADMIN)
        run_id = browser.post("/runs", json={"job": "hello", "args": {"name": "x"}},
                              headers=auth()).json()["run_id"]
        thief = TestClient(browser.app)
        copy_cookies(browser, thief)
        signing_out = threading.Timer(1.0, sign_out, (browser,))
        started = time.monotonic()
        signing_out.start()
        with thief.stream("GET", f"/ui/runs/{run_id}/stream") as response:
            messages = list(sse_messages(response.iter_lines()))
        took = time.monotonic() - started
        signing_out.join()
        browser.post(f"/runs/{run_id}:cancel", headers=auth())

    assert messages[-1] == {"event": "done", "data": "signed out"}
    assert took < 15
