"""Cross-site request forgery through a same-site page (SPEC section 12: every state-changing
request carries a CSRF token). SameSite=Strict does not stop a page of the same site (another
port of the same host, a sibling subdomain) and cookies are not isolated by port, so such a
page can plant a CSRF cookie of its own choosing beside the victim's session ("cookie
tossing") and post the matching token: the double-submit check alone passes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar.testing import TestClient

from tests.unit.console_support import csrf_of, console, sign_in
from tests.unit.http_support import ADMIN, auth

RUN_HELLO = [("action", "run"), ("arg.name", "Mallory")]


def _attackers_pair(client: TestClient[Any]) -> str:
    """A valid CSRF token (and cookie) the attacker got by loading the sign-in page himself."""
    with TestClient(client.app) as attacker:
        return csrf_of(attacker.get("/ui/signin").text)


def _post(client: TestClient[Any], path: str, fields: list[tuple[str, str]], token: str,
          headers: dict[str, str] | None = None) -> Any:
    return client.post(path, data=dict([*fields, ("_csrf_token", token)]), headers=headers or {},
                       follow_redirects=False)


def _runs(client: TestClient[Any]) -> list[Any]:
    return list(client.get("/runs", headers=auth(ADMIN)).json()["runs"])


def test_post_is_refused_when_the_browser_says_it_came_from_another_origin(tmp_path: Path) -> None:
    with console(tmp_path) as client:
        sign_in(client, ADMIN)
        token = csrf_of(client.get("/ui/jobs/hello").text)
        same_site = _post(client, "/ui/jobs/hello", RUN_HELLO, token,
                          {"Sec-Fetch-Site": "same-site"})
        cross_site = _post(client, "/ui/signout", [], token, {"Sec-Fetch-Site": "cross-site"})
        runs = _runs(client)
        still_in = client.get("/ui/jobs", follow_redirects=False)

    assert same_site.status_code == 403 and "csrf.invalid" in same_site.text
    assert cross_site.status_code == 403 and "csrf.invalid" in cross_site.text
    assert runs == [] and still_in.status_code == 200


def test_post_is_accepted_when_the_browser_says_it_came_from_the_console_itself(
        tmp_path: Path) -> None:
    with console(tmp_path) as client:
        sign_in(client, ADMIN)
        token = csrf_of(client.get("/ui/jobs/hello").text)
        response = _post(client, "/ui/jobs/hello", RUN_HELLO, token,
                         {"Sec-Fetch-Site": "same-origin"})

        assert response.status_code == 303 and len(_runs(client)) == 1


def test_planted_csrf_cookie_is_refused_when_it_is_not_the_one_issued_at_sign_in(
        tmp_path: Path) -> None:
    """An older browser sends no Sec-Fetch-Site: the session itself must know its CSRF cookie.
    With another one the session does not count (the request is not signed in)."""
    with console(tmp_path) as client:
        sign_in(client, ADMIN)
        planted = _attackers_pair(client)
        client.cookies.set("flwd_csrf", planted, domain="testserver.local", path="/ui")
        response = _post(client, "/ui/jobs/hello", RUN_HELLO, planted)
        runs = _runs(client)

    assert response.status_code == 303 and response.headers["location"].startswith("/ui/signin")
    assert runs == []


def test_sign_in_works_again_when_the_browser_kept_the_session_but_lost_its_csrf_cookie(
        tmp_path: Path) -> None:
    """The CSRF cookie lasts as long as the browser; the session cookie 8 hours: after a
    browser restart the session asks to sign in again, and signing in works."""
    with console(tmp_path) as client:
        sign_in(client, ADMIN)
        client.cookies.delete("flwd_csrf", domain="testserver.local", path="/ui")
        page = client.get("/ui/jobs", follow_redirects=False)
        again = sign_in(client, ADMIN)
        run = _post(client, "/ui/jobs/hello", RUN_HELLO, csrf_of(client.get("/ui/jobs/hello").text))

    assert page.status_code == 303 and page.headers["location"].startswith("/ui/signin")
    assert again.status_code == 303 and again.headers["location"] == "/ui/jobs"
    assert run.status_code == 303 and run.headers["location"].startswith("/ui/runs/")


def test_sign_in_issues_a_new_csrf_cookie_when_one_was_planted_before(tmp_path: Path) -> None:
    with console(tmp_path) as client:
        planted = _attackers_pair(client)
        client.cookies.set("flwd_csrf", planted, domain="testserver.local", path="/ui")
        signed_in = client.post("/ui/signin", data={"token": ADMIN, "_csrf_token": planted},
                                follow_redirects=False)
        forged = _post(client, "/ui/jobs/hello", RUN_HELLO, planted)
        own = _post(client, "/ui/jobs/hello", RUN_HELLO, csrf_of(client.get("/ui/jobs/hello").text))

    assert signed_in.status_code == 303
    assert forged.status_code == 403
    assert own.status_code == 303
