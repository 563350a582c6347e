"""Two real ``flwd :serve`` replicas on loopback sharing ``FLWD_SECRET_KEY`` (SPEC sections 11
and 12): a console session started on A, and A's CSRF token, hold on B; a replica with another
key refuses both; a sign-out on A is seen by B, which shares A's run store (the same data
directory: one SQLite file). Plan-only replicas (``--no-runtime``): no container runs, no
browser."""

from __future__ import annotations

import re
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

import httpx

from tests.integration.api_support import Server, serving, shared_dir, write_job

KEY = "replica-test-key-" + "q" * 24
OTHER_KEY = "another-replica-key-" + "z" * 24
HELLO = """\
executor: container
image: alpine:3.20
command: ["echo", "hello"]
args:
  - {name: name, type: string, required: true}
"""
_CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


@contextmanager
def replica(name: str, key: str, store_of: Server | None = None) -> Iterator[Server]:
    """A replica; with *store_of*, over that replica's data directory (its run store)."""
    base = shared_dir(f"console-replica-{name}-")
    write_job(base / "jobs", "hello", HELLO)
    (base / "home").mkdir(mode=0o755)
    if store_of is None:
        (base / "data").mkdir(mode=0o755)
    else:
        (base / "data").symlink_to(data_dir(store_of))
    with serving(base, ["--dev", "--no-runtime"], {"FLWD_SECRET_KEY": key}) as server:
        yield server


def data_dir(server: Server) -> Path:
    return server.log.parent / "data"


def csrf_of(page: httpx.Response) -> str:
    found = _CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


def signed_in(server: Server) -> tuple[httpx.Cookies, str]:
    """Sign in to *server*'s console; its cookies and the CSRF token of the job's page."""
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        form = browser.get("/ui/signin")
        answer = browser.post("/ui/signin", data={"token": "dev-token", "next": "/ui/jobs",
                                                  "_csrf_token": csrf_of(form)})
        assert answer.status_code == 303, answer.text
        token = csrf_of(browser.get("/ui/jobs/hello"))
        return browser.cookies, token


def plan_on(server: Server, cookies: httpx.Cookies, csrf: str) -> tuple[int, int, str]:
    """Load the jobs page, then POST the plan preview form, on *server* with those cookies."""
    with httpx.Client(base_url=server.url, timeout=30, cookies=cookies) as browser:
        page = browser.get("/ui/jobs")
        plan = browser.post("/ui/jobs/hello", data={
            "arg.name": "Alice", "action": "plan", "_csrf_token": csrf})
        return page.status_code, plan.status_code, plan.text


def test_console_session_and_csrf_hold_on_replica_b_when_signed_in_on_replica_a() -> None:
    with ExitStack() as stack:
        a = stack.enter_context(replica("a", KEY))
        b = stack.enter_context(replica("b", KEY))
        stranger = stack.enter_context(replica("c", OTHER_KEY))
        cookies, csrf = signed_in(a)
        on_b = plan_on(b, cookies, csrf)
        on_stranger = plan_on(stranger, cookies, csrf)

    page, plan, text = on_b
    assert page == 200 and plan == 200, text
    assert 'id="plan"' in text and "<code>ARG_NAME</code>" in text
    page, plan, text = on_stranger
    assert page == 303 and plan == 403 and "csrf.invalid" in text


def test_console_session_is_refused_on_replica_b_when_signed_out_on_replica_a() -> None:
    with ExitStack() as stack:
        a = stack.enter_context(replica("a", KEY))
        b = stack.enter_context(replica("b", KEY, store_of=a))
        cookies, csrf = signed_in(a)
        before = plan_on(b, cookies, csrf)
        with httpx.Client(base_url=a.url, timeout=30, cookies=cookies) as browser:
            signed_out = browser.post("/ui/signout", data={"_csrf_token": csrf})
        after = plan_on(b, cookies, csrf)  # the copy of the cookie taken before sign-out

    assert before[:2] == (200, 200), before[2]
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/ui/signin"
    assert after[0] == 303, "B sends the copied cookie to sign in"
    assert after[1] == 303 and 'id="plan"' not in after[2], "and answers no form for it"
