"""Console sessions and CSRF tokens across replicas and restarts (SPEC sections 11 and 12): two
apps built with the same secret key read each other's cookies; other keys, or none, do not."""

from __future__ import annotations

import base64
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Iterator

from litestar.testing import TestClient

from flwd.entrypoints.tokens import TokenGrant, token_digest
from flwd.entrypoints.web.cookies import SESSION_COOKIE, console_keys
from flwd.ports.sealing import SecretKey
from tests.unit.console_support import console_app, csrf_of, sign_in
from tests.unit.http_support import ADMIN, READER, close, fake_runtime, grants, make_container

KEY = SecretKey(text="k" * 20 + "-shared-replica-key-0123", source="test")
OTHER_KEY = SecretKey(text="o" * 20 + "-another-replica-key-456", source="test")
PLAN = [("arg.name", "Alice"), ("action", "plan")]


@contextmanager
def replica(tmp: Path, key: SecretKey | None,
            tokens: tuple[TokenGrant, ...] | None = None) -> Iterator[TestClient[Any]]:
    """One app (one ``flwd :serve`` replica) over its own container."""
    tmp.mkdir()
    container = make_container(tmp, fake_runtime())
    try:
        with TestClient(console_app(container, secret_key=key, tokens=tokens)) as client:
            yield client
    finally:
        close(container)


@contextmanager
def two_replicas(tmp: Path, key_a: SecretKey | None, key_b: SecretKey | None,
                 tokens_b: tuple[TokenGrant, ...] | None = None
                 ) -> Iterator[tuple[TestClient[Any], TestClient[Any]]]:
    with ExitStack() as stack:
        yield (stack.enter_context(replica(tmp / "a", key_a)),
               stack.enter_context(replica(tmp / "b", key_b, tokens_b)))


def move_cookies(source: TestClient[Any], target: TestClient[Any]) -> None:
    """What a load balancer does: the browser's cookies reach the other replica."""
    for cookie in source.cookies.jar:
        target.cookies.jar.set_cookie(cookie)


def signed_in_with_form_token(client: TestClient[Any], token: str = ADMIN) -> str:
    """Sign in on *client* and return the CSRF token of a job page it rendered."""
    assert sign_in(client, token).status_code == 303
    return csrf_of(client.get("/ui/jobs/hello").text)


def post_plan(client: TestClient[Any], csrf: str) -> Any:
    return client.post("/ui/jobs/hello", data=dict([*PLAN, ("_csrf_token", csrf)]),
                       follow_redirects=False)


def test_session_and_csrf_hold_on_another_replica_when_both_share_the_secret_key(
        tmp_path: Path) -> None:
    with two_replicas(tmp_path, KEY, KEY) as (a, b):
        csrf = signed_in_with_form_token(a)
        move_cookies(a, b)
        page = b.get("/ui/jobs", follow_redirects=False)
        plan = post_plan(b, csrf)

    assert page.status_code == 200 and "hello" in page.text
    assert plan.status_code == 200 and 'id="plan"' in plan.text


def test_session_holds_after_a_restart_when_the_secret_key_is_configured(tmp_path: Path) -> None:
    with replica(tmp_path / "before", KEY) as before:
        signed_in_with_form_token(before)
        cookies = list(before.cookies.jar)
    with replica(tmp_path / "after", KEY) as after:
        for cookie in cookies:
            after.cookies.jar.set_cookie(cookie)
        page = after.get("/ui/jobs", follow_redirects=False)

    assert page.status_code == 200


def test_session_and_csrf_refused_on_another_replica_when_keys_differ(tmp_path: Path) -> None:
    with two_replicas(tmp_path, KEY, OTHER_KEY) as (a, b):
        csrf = signed_in_with_form_token(a)
        move_cookies(a, b)
        page = b.get("/ui/jobs", follow_redirects=False)
        plan = post_plan(b, csrf)

    assert page.status_code == 303 and page.headers["location"].startswith("/ui/signin")
    assert plan.status_code == 403 and "csrf.invalid" in plan.text


def test_session_and_csrf_are_per_process_when_no_key_is_configured(tmp_path: Path) -> None:
    with two_replicas(tmp_path, None, None) as (a, b):
        csrf = signed_in_with_form_token(a)
        same_replica = post_plan(a, csrf)
        move_cookies(a, b)
        page = b.get("/ui/jobs", follow_redirects=False)
        plan = post_plan(b, csrf)

    assert same_replica.status_code == 200 and 'id="plan"' in same_replica.text
    assert page.status_code == 303 and page.headers["location"].startswith("/ui/signin")
    assert plan.status_code == 403


def test_shared_session_ends_when_its_token_is_not_configured_on_that_replica(
        tmp_path: Path) -> None:
    without_admin = tuple(grant for grant in grants() if grant.name != ADMIN)
    with two_replicas(tmp_path, KEY, KEY, tokens_b=without_admin) as (a, b):
        signed_in_with_form_token(a)
        move_cookies(a, b)
        page = b.get("/ui/jobs", follow_redirects=False)

    assert page.status_code == 303 and page.headers["location"].startswith("/ui/signin")


def test_session_cookie_holds_neither_token_nor_digest_when_sealed_with_the_key(
        tmp_path: Path) -> None:
    with replica(tmp_path / "a", KEY) as client:
        response = sign_in(client, ADMIN)
    cookie = next(c for c in response.headers.get_list("set-cookie")
                  if c.startswith(f"{SESSION_COOKIE}="))
    value = cookie.split(";", 1)[0].split("=", 1)[1].strip('"')
    sealed = base64.b64decode(value)
    digest = token_digest(ADMIN)

    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    for text in (cookie, sealed.decode("latin-1")):
        assert ADMIN not in text and digest not in text
    assert bytes.fromhex(digest) not in sealed


def test_console_keys_are_derived_apart_from_the_secret_key_when_one_is_set() -> None:
    keys, again, other = console_keys(KEY), console_keys(KEY), console_keys(OTHER_KEY)
    raw = KEY.text.encode()

    assert keys.shared and keys.session == again.session and keys.csrf == again.csrf
    assert keys.session != other.session and keys.csrf != other.csrf
    assert len(keys.session) == 32 and keys.session not in raw and raw[:32] != keys.session
    assert bytes.fromhex(keys.csrf) != keys.session and KEY.text not in keys.csrf
    assert KEY.text not in repr(keys)
    assert console_keys(None).session != console_keys(None).session
    assert not console_keys(None).shared


def test_sign_in_replaces_the_session_the_browser_came_with_when_signing_in_again(
        tmp_path: Path) -> None:
    """No fixation: a session cookie planted before sign-in never becomes the new session."""
    with replica(tmp_path / "a", KEY) as client:
        signed_in_with_form_token(client, READER)
        planted = client.cookies.get(SESSION_COOKIE, path="/ui")
        signed_in_with_form_token(client, ADMIN)
        fresh = client.cookies.get(SESSION_COOKIE, path="/ui")
        client.cookies.set(SESSION_COOKIE, planted, path="/ui")
        run_form = client.get("/ui/jobs/hello").text

    assert fresh and planted and fresh != planted
    assert 'value="run"' not in run_form  # the planted cookie is still only the reader's


def test_unreadable_session_cookie_is_no_session_when_malformed(tmp_path: Path) -> None:
    malformed = [base64.b64encode(b"n" * 12 + b"additional_authenticated_data=not json").decode(),
                 base64.b64encode(b"n" * 12 + b'additional_authenticated_data=[1]').decode(),
                 base64.b64encode(b"additional_authenticated_data={}").decode(),
                 "%%%", "QUJD", ""]
    with replica(tmp_path / "a", KEY) as client:
        answers = []
        for value in malformed:
            client.cookies.set(SESSION_COOKIE, value, path="/ui")
            answers.append(client.get("/ui/jobs", follow_redirects=False).status_code)

    assert answers == [303] * len(malformed)
