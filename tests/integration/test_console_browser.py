"""The web console in a real browser (Playwright + Debian's chromium) against a real
``flwd :serve`` on loopback, running real jobs on rootless Podman (SPEC section 12)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.integration.api_support import DEV, Server, dev_server_on_podman
from tests.integration.browser_support import browser, browser_storage, screenshot, sign_in  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.podman]
GREETING = "Hello Alice from inside a container!"
JOBS_ONLY = "jobs-only-token"
SECRET = "Zx9-very-secret-value-41"
EVERY_TYPE = """\
executor: container
image: alpine:3.20
description: One argument of every type.
command: ["/bin/sh", "-c", "echo \\"who=$ARG_WHO count=$ARG_COUNT tags=$ARG_TAGS\\"; echo \\"secret=$(cat /run/secrets/api_token)\\""]
args:
  - {name: who, type: string, required: true, description: Who to greet}
  - {name: count, type: integer, minimum: 1, maximum: 5, default: 2}
  - {name: ratio, type: number, maximum: 1.5}
  - {name: loud, type: boolean, default: true}
  - {name: colour, type: string, enum: [red, green]}
  - {name: tags, type: array, items: string}
  - {name: extra, type: object}
  - {name: api_token, type: string, format: secret, required: true}
"""


@pytest.fixture(scope="module")
def server(podman_socket: str) -> Iterator[Server]:
    with dev_server_on_podman(podman_socket, "console-", f"{JOBS_ONLY}=jobs:read",
                              {"every": EVERY_TYPE}) as server:
        yield server


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    """A fresh browser context; afterwards, no page may have logged a Content-Security-Policy
    violation (an inline script or style htmx would have added) or a failed script."""
    context = browser.new_context(base_url=server.url, viewport={"width": 1100, "height": 900})
    context.set_default_timeout(30_000)
    tab = context.new_page()
    complaints: list[str] = []
    tab.on("console", lambda m: complaints.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: complaints.append(str(e)))
    try:
        yield tab
    finally:
        context.close()
    assert [c for c in complaints if "Content Security Policy" in c or "htmx" in c.lower()
            or "Uncaught" in c] == []


def _run_ids(server: Server) -> list[str]:
    with httpx.Client(base_url=server.url, headers=DEV, timeout=30) as client:
        return [run["run_id"] for run in client.get("/runs", params={"limit": 500}).json()["runs"]]


def test_every_type_form_validates_plans_and_runs_without_ever_showing_the_secret(
        page: Any, server: Server, tmp_path: Path) -> None:
    bodies: list[str] = []

    def keep(response: Any) -> None:
        kind = response.headers.get("content-type", "")
        if "event-stream" not in kind and response.request.method in ("GET", "POST"):
            try:
                bodies.append(response.text())
            except Exception:  # noqa: BLE001 - a redirect has no body
                pass

    page.on("response", keep)
    sign_in(page, server.url, "dev-token")
    screenshot(page, tmp_path, "jobs", publish=True)
    page.goto("/ui/jobs/every")
    page.fill("#arg-who", "Bob")
    page.fill("#arg-count", "4")
    page.fill("#arg-ratio", "0.5")
    page.uncheck("#arg-loud")
    page.select_option("#arg-colour", "green")
    page.fill('[data-arg="tags"] input >> nth=0', "a")
    page.click('[data-arg="tags"] [data-add-item]')
    page.keyboard.type("b")  # the new input has the focus
    page.fill("#arg-extra", "not json")
    page.fill("#arg-api-token", SECRET)
    screenshot(page, tmp_path, "job-form", publish=True)
    page.click('button[value="run"]')

    problem = page.locator('[data-arg="extra"] .problem')
    assert "expected a JSON object" in problem.inner_text()
    assert page.locator("[data-arg] .problem").count() == 1
    assert page.locator("#problems a[href='#arg-extra']").count() == 1
    assert page.input_value("#arg-api-token") == ""  # never rendered back
    assert page.input_value("#arg-who") == "Bob"
    screenshot(page, tmp_path, "job-form-problem")

    page.fill("#arg-extra", '{"k": [1, 2]}')
    page.fill("#arg-api-token", SECRET)
    page.click('button[value="plan"]')
    decisions = page.locator("#plan table.decisions tbody tr")
    assert decisions.count() >= 5
    assert "security.profile" in page.locator("#plan").inner_text()
    assert "api_token" in page.locator("#plan").inner_text()  # the secret file, by name
    screenshot(page, tmp_path, "plan")

    page.fill("#arg-api-token", SECRET)
    page.click('button[value="run"]')
    page.wait_for_url(re.compile(r".*/ui/runs/[^/]+$"))
    page.wait_for_selector('#summary [data-status="succeeded"]', timeout=90_000)
    output = page.inner_text("#output")
    assert "who=Bob count=4 tags=[\"a\",\"b\"]" in output
    assert "secret=***" in output
    page.reload()
    page.wait_for_selector('#summary [data-status="succeeded"]')

    assert all(SECRET not in body for body in bodies)
    assert SECRET not in page.content()
    assert SECRET not in browser_storage(page)


def test_secret_is_not_restored_when_going_back_to_the_form_after_a_preview(
        page: Any, server: Server) -> None:
    sign_in(page, server.url, "dev-token")
    page.goto("/ui/jobs/every")
    page.fill("#arg-who", "Bob")
    page.fill("#arg-api-token", SECRET)
    page.click('button[value="plan"]')
    page.wait_for_selector("#plan")

    page.go_back()
    page.wait_for_selector("#arg-api-token")

    assert page.get_attribute("#arg-api-token", "autocomplete") == "new-password"
    assert page.input_value("#arg-api-token") == ""
    assert SECRET not in browser_storage(page)


def test_demo_run_shows_the_greeting_live_and_its_decisions(page: Any, server: Server,
                                                            tmp_path: Path) -> None:
    sign_in(page, server.url, "dev-token")
    page.goto("/ui/jobs/demo-container?name=Alice")
    assert page.input_value("#arg-name") == "Alice"  # pre-filled by the link
    with page.expect_response(re.compile(r".*/ui/runs/[^/?]+$")) as first:
        page.click('button[value="run"]')
    initial = first.value.text()

    page.locator("#output", has_text=GREETING).wait_for(timeout=90_000)
    page.wait_for_selector('#summary [data-status="succeeded"]', timeout=60_000)
    assert "sse-connect" in initial and GREETING not in initial  # it came over SSE
    assert page.inner_text("#summary [data-exit-code]") == "0"
    assert page.locator("table.decisions tbody tr").count() >= 5
    assert "run.finished" in page.inner_text("#events")
    screenshot(page, tmp_path, "run", publish=True)


def _run_until(page: Any, server: Server, form: str, status: str) -> None:
    """Signs in, runs the job of the form at *form* and waits for its page to show *status*."""
    sign_in(page, server.url, "dev-token")
    page.goto(form)
    page.click('button[value="run"]')
    page.wait_for_selector(f'#summary [data-status="{status}"]', timeout=90_000)


def test_cancel_button_ends_a_sleeping_run_canceled(page: Any, server: Server, tmp_path: Path) -> None:
    _run_until(page, server, "/ui/jobs/sleep", "running")
    page.click("text=Cancel run")

    page.wait_for_selector('#summary [data-status="canceled"]', timeout=60_000)
    page.locator("#events", has_text="run.canceled").wait_for(timeout=10_000)
    assert page.locator("text=Cancel run").count() == 0
    screenshot(page, tmp_path, "run-canceled")


def test_double_click_on_run_starts_the_job_once(page: Any, server: Server) -> None:
    sign_in(page, server.url, "dev-token")
    page.goto("/ui/jobs/demo-container?name=Twice")
    before = set(_run_ids(server))

    # a person's double click: the second click lands while the first post is on its way
    page.evaluate("""() => { const run = document.querySelector('button[value="run"]');
                             run.click(); setTimeout(() => run.click(), 60); }""")
    page.wait_for_timeout(1500)
    page.wait_for_url(re.compile(r".*/ui/runs/[^/]+$"))
    page.wait_for_selector('#summary [data-status="succeeded"]', timeout=90_000)

    assert len(set(_run_ids(server)) - before) == 1


def test_runs_list_filters_by_job_and_status(page: Any, server: Server, tmp_path: Path) -> None:
    _run_until(page, server, "/ui/jobs/demo-container?name=Filter", "succeeded")

    page.goto("/ui/runs/")
    page.fill("#job", "demo-container")
    page.select_option("#status", "succeeded")
    page.click("text=Filter")
    page.wait_for_url(re.compile(r".*status=succeeded.*"))
    rows = page.locator("#runs tbody tr[data-run]")
    assert rows.count() >= 1
    texts = rows.all_inner_texts()
    assert all("demo-container" in t and "succeeded" in t for t in texts)
    screenshot(page, tmp_path, "runs")

    page.select_option("#status", "timed_out")
    page.click("text=Filter")
    page.wait_for_url(re.compile(r".*status=timed_out.*"))
    assert page.locator("#runs tbody tr[data-run]").count() == 0


def test_runs_list_shows_a_state_change_without_reloading(page: Any, server: Server) -> None:
    with httpx.Client(base_url=server.url, headers=DEV, timeout=30) as api:
        run_id = api.post("/runs", json={"job": "sleep"}).json()["run_id"]
        sign_in(page, server.url, "dev-token")
        page.goto("/ui/runs/?job=sleep")
        badge = page.locator(f'tr[data-run="{run_id}"] .badge')
        badge.wait_for()
        assert badge.inner_text() in ("queued", "pulling", "running")
        page.evaluate("() => { window.notReloaded = true; }")
        api.post(f"/runs/{run_id}:cancel")

        page.locator(f'tr[data-run="{run_id}"] .badge', has_text="canceled").wait_for(timeout=60_000)
    assert page.evaluate("() => window.notReloaded") is True


def test_jobs_only_token_sees_jobs_but_cannot_run(page: Any, server: Server) -> None:
    before = len(_run_ids(server))
    sign_in(page, server.url, JOBS_ONLY)
    page.goto("/ui/jobs/demo-container?name=Eve")
    assert page.locator('button[value="run"]').count() == 0
    assert page.locator("button:has-text('Run')").is_disabled()
    csrf = page.get_attribute('input[name="_csrf_token"]', "value")
    forced = page.request.post("/ui/jobs/demo-container", form={
        "arg.name": "Eve", "action": "run", "_csrf_token": str(csrf)})
    runs = page.goto("/ui/runs/")

    assert forced.status == 403
    assert runs is not None and runs.status == 403
    assert page.locator("table").count() == 0
    assert len(_run_ids(server)) == before


def test_post_without_csrf_token_is_refused(page: Any, server: Server) -> None:
    before = len(_run_ids(server))
    sign_in(page, server.url, "dev-token")
    refused = page.request.post("/ui/jobs/demo-container", form={"arg.name": "Mallory",
                                                                 "action": "run"})

    assert refused.status == 403
    assert "csrf.invalid" in refused.text()
    assert len(_run_ids(server)) == before


def test_pages_fit_a_phone_screen(browser: Any, server: Server, tmp_path: Path) -> None:
    context = browser.new_context(base_url=server.url, viewport={"width": 375, "height": 740})
    phone = context.new_page()
    try:
        sign_in(phone, server.url, "dev-token")
        for name, path in (("phone-jobs", "/ui/jobs"), ("phone-job", "/ui/jobs/every"),
                           ("phone-runs", "/ui/runs/"), ("phone-workers", "/ui/workers/")):
            phone.goto(path)
            width = phone.evaluate("() => document.documentElement.scrollWidth")
            assert width <= 375, f"{path} is {width}px wide"
            screenshot(phone, tmp_path, name)
    finally:
        context.close()


def test_run_form_is_usable_with_the_keyboard_alone(page: Any, server: Server) -> None:
    sign_in(page, server.url, "dev-token")
    page.goto("/ui/jobs/demo-container")
    page.focus("#arg-name")
    page.keyboard.type("Keys")
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.value") == "run":
            break
    with page.expect_navigation():
        page.keyboard.press("Enter")

    assert re.search(r"/ui/runs/[^/]+$", page.url)
