"""Web console sign-in: sessions, cookies, CSRF and sign-out (SPEC section 12)."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.testing import TestClient

from flwd.entrypoints.tokens import token_digest
from tests.unit.console_support import console, console_app, csrf_of, post_form, sign_in
from tests.unit.http_support import ADMIN, close, fake_runtime, make_container


def test_page_sends_to_sign_in_when_not_signed_in(tmp_path: Path) -> None:
    with console(tmp_path) as client:
        response = client.get("/ui/jobs?q=x", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/ui/signin?next=%2Fui%2Fjobs%3Fq%3Dx"


def test_sign_in_refused_when_token_is_not_configured(tmp_path: Path) -> None:
    with console(tmp_path) as client:
        response = sign_in(client, "not-a-token")
        after = client.get("/ui/jobs", follow_redirects=False)

    assert response.status_code == 401
    assert "not a configured API token" in response.text
    assert "not-a-token" not in response.text
    assert after.status_code == 303


def test_session_cookie_is_httponly_strict_and_holds_no_token_when_signed_in(tmp_path: Path) -> None:
    with console(tmp_path) as client:
        response = sign_in(client, ADMIN)
        page = client.get("/ui/jobs")

    cookies = [c for c in response.headers.get_list("set-cookie") if c.startswith("flwd_session=")]
    assert response.status_code == 303 and response.headers["location"] == "/ui/jobs"
    assert len(cookies) == 1
    cookie = cookies[0]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    assert "Secure" not in cookie  # plain HTTP here
    assert ADMIN not in cookie and token_digest(ADMIN) not in cookie
    assert page.status_code == 200 and "hello" in page.text


def test_cookies_are_secure_when_served_over_tls(tmp_path: Path) -> None:
    container = make_container(tmp_path, fake_runtime())
    with TestClient(console_app(container), base_url="https://testserver.local") as client:
        page = client.get("/ui/signin")
        response = client.post("/ui/signin", data={"token": ADMIN, "_csrf_token": csrf_of(page.text)},
                               follow_redirects=False)
    close(container)

    cookies = page.headers.get_list("set-cookie") + response.headers.get_list("set-cookie")
    assert any(c.startswith("flwd_session=") for c in cookies)
    assert all("Secure" in c for c in cookies), cookies


def test_sign_in_refused_when_csrf_token_is_missing(tmp_path: Path) -> None:
    with console(tmp_path) as client:
        client.get("/ui/signin")
        response = client.post("/ui/signin", data={"token": ADMIN}, follow_redirects=False)
        after = client.get("/ui/jobs", follow_redirects=False)

    assert response.status_code == 403
    assert "csrf.invalid" in response.text
    assert after.status_code == 303


def test_sign_out_ends_the_session_when_posted(tmp_path: Path) -> None:
    with console(tmp_path) as client:
        sign_in(client, ADMIN)
        response = post_form(client, "/ui/signout", [], page_path="/ui/jobs")
        after = client.get("/ui/jobs", follow_redirects=False)

    assert response.status_code == 303
    assert after.status_code == 303 and after.headers["location"].startswith("/ui/signin")


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/ui/",
                                    "/ui/jobs\r\nSet-Cookie: x=1", "/elsewhere"])
def test_sign_in_goes_only_to_console_pages_when_next_points_elsewhere(tmp_path: Path,
                                                                      target: str) -> None:
    with console(tmp_path) as client:
        page = client.get("/ui/signin")
        response = client.post("/ui/signin", data={
            "token": ADMIN, "_csrf_token": csrf_of(page.text), "next": target},
            follow_redirects=False)

    assert response.status_code == 303 and response.headers["location"] == "/ui/jobs"


def test_anonymous_pages_store_no_session_when_nobody_signs_in(tmp_path: Path) -> None:
    with console(tmp_path) as client:
        response = client.get("/ui/signin")

    sessions = [c for c in response.headers.get_list("set-cookie") if c.startswith("flwd_session=")]
    assert all(c.startswith("flwd_session=null") for c in sessions)


def test_root_redirects_to_the_console(tmp_path: Path) -> None:
    with console(tmp_path) as client:
        response = client.get("/", follow_redirects=False)

    assert response.status_code == 303 and response.headers["location"] == "/ui/"



def test_htmx_refresh_sends_the_whole_page_to_sign_in_when_the_session_ended(
        tmp_path: Path) -> None:
    """The runs list re-reads its table every 2 s: a redirect would be followed by htmx and
    the sign-in page drawn inside the table."""
    with console(tmp_path) as client:
        response = client.get("/ui/runs/?part=table&job=&status=&cursor=", follow_redirects=False,
                              headers={"HX-Request": "true",
                                       "HX-Current-URL": "http://testserver.local/ui/runs/?job=a"})

    assert response.status_code == 200 and response.text == ""
    assert response.headers["HX-Redirect"] == "/ui/signin?next=%2Fui%2Fruns%2F%3Fjob%3Da"
