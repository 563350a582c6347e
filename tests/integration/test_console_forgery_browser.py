"""Cross-site request forgery from a page of the same site, in a real browser: a server on
another port of 127.0.0.1 (same site, other origin; cookies are not isolated by port) plants
its own CSRF cookie under ``/ui`` and has the signed-in victim post a run with the matching
token (SPEC section 12: every state-changing request carries a CSRF token)."""

from __future__ import annotations

import http.server
import re
import threading
from contextlib import contextmanager
from typing import Any, Iterator

import httpx
import pytest

from tests.integration.api_support import DEV, Server, dev_server_on_podman
from tests.integration.browser_support import browser, sign_in  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.podman]
_CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def server(podman_socket: str) -> Iterator[Server]:
    with dev_server_on_podman(podman_socket, "forgery-", "other-token=jobs:read") as server:
        yield server


@contextmanager
def same_site_attacker(console_url: str) -> Iterator[str]:
    """A page on another port of the console's host: it sets the CSRF cookie to a token the
    attacker got for himself, and holds a form posting a run of ``sleep`` with that token."""
    with httpx.Client(base_url=console_url, timeout=30) as own:
        token = _CSRF.search(own.get("/ui/signin").text).group(1)  # type: ignore[union-attr]
    page = (f'<!doctype html><form method="post" action="{console_url}/ui/jobs/sleep">'
            f'<input type="hidden" name="_csrf_token" value="{token}">'
            '<button id="go" name="action" value="run">Win a prize</button></form>').encode()

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Set-Cookie",
                             f"flwd_csrf={token}; Path=/ui; HttpOnly; SameSite=Strict")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *_args: Any) -> None:
            pass

    attacker = http.server.HTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{attacker.server_port}/"
    finally:
        attacker.shutdown()
        attacker.server_close()


def _sleep_runs(server: Server) -> list[str]:
    with httpx.Client(base_url=server.url, headers=DEV, timeout=30) as client:
        return [r["run_id"] for r in client.get("/runs", params={"job": "sleep"}).json()["runs"]]


def test_same_site_page_cannot_start_a_run_when_it_plants_its_own_csrf_cookie(
        browser: Any, server: Server) -> None:
    context = browser.new_context(base_url=server.url)
    context.set_default_timeout(30_000)
    tab = context.new_page()
    sign_in(tab, server.url, "dev-token")
    before = _sleep_runs(server)

    with same_site_attacker(server.url) as evil:
        tab.goto(evil)
        tab.click("#go")
        tab.wait_for_load_state()
    text, after = tab.inner_text("main"), _sleep_runs(server)
    tab.goto(f"{server.url}/ui/jobs")  # the planted cookie is not the session's: sign in again
    asked_to_sign_in = "/ui/signin" in tab.url
    context.close()

    assert after == before
    assert "403" in text and "csrf.invalid" in text
    assert asked_to_sign_in


def test_signing_in_again_works_when_the_browser_restarted_with_only_its_lasting_cookies(
        browser: Any, server: Server) -> None:
    """The CSRF cookie lasts as long as the browser, the session cookie 8 hours: a restarted
    browser brings the session without its CSRF cookie, which asks to sign in again (and
    never leaves every form refused)."""
    first = browser.new_context(base_url=server.url)
    sign_in(first.new_page(), server.url, "dev-token")
    state = first.storage_state()
    first.close()
    lasting = [c for c in state["cookies"] if c["expires"] > 0]
    restarted = browser.new_context(base_url=server.url,
                                    storage_state={"cookies": lasting, "origins": []})
    restarted.set_default_timeout(30_000)
    tab = restarted.new_page()

    tab.goto("/ui/jobs/sleep")
    asked = "/ui/signin" in tab.url
    sign_in(tab, server.url, "dev-token")
    tab.goto("/ui/jobs/sleep")
    tab.click('button[value="plan"]')
    tab.wait_for_selector("#plan")
    restarted.close()

    assert [c["name"] for c in lasting] == ["flwd_session"]
    assert asked
