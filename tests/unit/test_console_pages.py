"""Web console pages: scopes as on the API, the jobs list, runs list, run page (tail, earlier
pages, live fragments), cancel, and the security headers (SPEC section 12)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.unit.console_support import console, post_form, sign_in
from tests.unit.http_support import (
    ADMIN,
    JOBS_ONLY,
    READER,
    auth,
    fake_runtime,
    sse_messages,
    wait_finished,
    wait_status,
)


def test_runs_page_is_forbidden_and_not_shown_when_the_token_lacks_runs_read(tmp_path: Path) -> None:
    with console(tmp_path) as client:
        sign_in(client, JOBS_ONLY)
        response = client.get("/ui/runs/")
        run_page = client.get("/ui/runs/some-run")

    assert response.status_code == 403 and run_page.status_code == 403
    assert "auth.forbidden" in response.text and "runs:read" in response.text
    assert "<table" not in response.text and 'href="/ui/runs/"' not in response.text


def test_jobs_only_token_sees_jobs_and_plans_but_cannot_run(tmp_path: Path) -> None:
    with console(tmp_path) as client:
        sign_in(client, JOBS_ONLY)
        jobs = client.get("/ui/jobs")
        form = client.get("/ui/jobs/hello")
        plan = post_form(client, "/ui/jobs/hello", [("arg.name", "Al"), ("action", "plan")])
        run = post_form(client, "/ui/jobs/hello", [("arg.name", "Al"), ("action", "run")])
        runs = client.get("/runs", headers=auth()).json()["runs"]

    assert jobs.status_code == 200 and form.status_code == 200 and plan.status_code == 200
    assert 'value="run"' not in form.text and "lacks the scope <code>runs:write</code>" in form.text
    assert 'id="plan"' in plan.text
    assert run.status_code == 403 and "runs:write" in run.text
    assert runs == []


def test_disabled_profile_needs_runs_admin_as_on_the_api(tmp_path: Path) -> None:
    with console(tmp_path) as client:
        sign_in(client, "writer-token")
        form = client.get("/ui/jobs/hello")
        response = post_form(client, "/ui/jobs/hello", [
            ("arg.name", "Al"), ("profile", "disabled"), ("action", "plan")])

    assert '<option value="disabled"' not in form.text
    assert response.status_code == 403 and "runs:admin" in response.text


def test_reader_cannot_cancel_when_lacking_runs_write(tmp_path: Path) -> None:
    with console(tmp_path, runtime=fake_runtime(run_seconds=30)) as client:
        run_id = client.post("/runs", json={"job": "hello", "args": {"name": "x"}},
                             headers=auth()).json()["run_id"]
        sign_in(client, READER)
        page = client.get(f"/ui/runs/{run_id}")
        response = post_form(client, f"/ui/runs/{run_id}/cancel", [], page_path="/ui/jobs")
        status = client.get(f"/runs/{run_id}", headers=auth()).json()["status"]
        client.post(f"/runs/{run_id}:cancel", headers=auth())

    assert "Cancel run" not in page.text
    assert response.status_code == 403
    assert status in ("queued", "pulling", "running")


def test_jobs_list_searches_and_shows_invalid_jobs_with_reasons(tmp_path: Path) -> None:
    with console(tmp_path) as client:
        sign_in(client, ADMIN)
        everything = client.get("/ui/jobs").text
        searched = client.get("/ui/jobs?q=nested").text

    assert 'href="/ui/jobs/hello"' in everything and "<td>local</td>" in everything
    assert "broken" in everything and "invalid YAML" in everything
    assert 'href="/ui/jobs/team/nightly"' in searched and 'href="/ui/jobs/hello"' not in searched


def test_cancel_button_cancels_the_run_when_posted_with_csrf(tmp_path: Path) -> None:
    with console(tmp_path, runtime=fake_runtime(run_seconds=30)) as client:
        sign_in(client, ADMIN)
        started = post_form(client, "/ui/jobs/hello", [("arg.name", "Al"), ("action", "run")])
        run_path = started.headers["location"]
        run_id = run_path.rsplit("/", 1)[1]
        wait_status(client, run_id, "running")
        without = client.post(f"{run_path}/cancel", follow_redirects=False)
        response = post_form(client, f"{run_path}/cancel", [], page_path=run_path)
        run = wait_finished(client, run_id)

    assert without.status_code == 403
    assert response.status_code == 303 and response.headers["location"] == run_path
    assert run["status"] == "canceled"


def test_run_page_tails_a_long_run_and_pages_back_when_asked(tmp_path: Path) -> None:
    lines = tuple(f"line {i}" for i in range(1200))
    with console(tmp_path, runtime=fake_runtime(lines=lines)) as client:
        run_id = client.post("/runs", json={"job": "hello", "args": {"name": "x"}},
                             headers=auth()).json()["run_id"]
        wait_finished(client, run_id)
        sign_in(client, ADMIN)
        latest = client.get(f"/ui/runs/{run_id}").text
        earlier_href = re.search(r'href="(/ui/runs/[^"]+\?before=\d+)">Show earlier', latest)
        assert earlier_href
        earlier = client.get(earlier_href.group(1)).text

    shown = re.findall(r'<div class="ln out" data-seq="\d+">line (\d+)</div>', latest)
    before = re.findall(r'<div class="ln out" data-seq="\d+">line (\d+)</div>', earlier)
    assert 0 < len(shown) <= 500 and shown[-1] == "1199"
    assert before and int(before[-1]) + 1 == int(shown[0])
    assert "sse-connect" not in latest  # ended: nothing to follow


def test_stream_sends_escaped_output_and_the_end_as_fragments(tmp_path: Path) -> None:
    runtime = fake_runtime(run_seconds=0.3, lines=("<b>bold</b> & co",))
    with console(tmp_path, runtime=runtime) as client:
        sign_in(client, ADMIN)
        started = post_form(client, "/ui/jobs/hello", [("arg.name", "Al"), ("action", "run")])
        run_path = started.headers["location"]
        with client.stream("GET", f"{run_path}/stream") as response:
            messages = list(sse_messages(response.iter_lines()))

    by_event = {m.get("event"): m for m in messages}
    assert '<div class="ln out" data-seq=' in by_event["output"]["data"]
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in by_event["output"]["data"]
    assert 'data-status="succeeded"' in by_event["summary"]["data"]
    assert messages[-1]["event"] == "done"
    assert all("id" in m for m in messages if m.get("event") == "output")


def test_stream_opens_with_the_current_state_when_the_run_started_while_the_page_loaded(
        tmp_path: Path) -> None:
    runtime = fake_runtime(run_seconds=1.0, lines=("tick",))
    with console(tmp_path, runtime=runtime) as client:
        sign_in(client, ADMIN)
        started = post_form(client, "/ui/jobs/hello", [("arg.name", "Al"), ("action", "run")])
        run_path = started.headers["location"]
        run_id = run_path.rsplit("/", 1)[-1]
        wait_status(client, run_id, "running")
        with client.stream("GET", f"/runs/{run_id}/events?follow=false", headers=auth()) as stored:
            types = {json.loads(m["data"])["type"]: int(m["id"])
                     for m in sse_messages(stored.iter_lines()) if "id" in m}
        # a page drawn while the run was queued, whose stream resumes after run.started
        with client.stream("GET", f"{run_path}/stream?after={types['run.started']}") as response:
            first = next(sse_messages(response.iter_lines()))

    assert first["event"] == "summary" and 'data-status="running"' in first["data"]


def test_runs_list_filters_by_job_and_status_and_pages(tmp_path: Path) -> None:
    with console(tmp_path) as client:
        ids = [client.post("/runs", json={"job": job, "args": args}, headers=auth()).json()["run_id"]
               for job, args in [("hello", {"name": "x"})] * 26 + [("team/nightly", {})]]
        for run_id in ids:
            wait_finished(client, run_id)
        sign_in(client, ADMIN)
        nightly = client.get("/ui/runs/?job=team/nightly").text
        failed = client.get("/ui/runs/?status=failed").text
        first = client.get("/ui/runs/?job=hello").text
        older = re.search(r'href="(/ui/runs/\?[^"]*cursor=[^"]+)">Older runs', first)
        assert older
        second = client.get(older.group(1).replace("&amp;", "&")).text
        table = client.get("/ui/runs/?job=hello&part=table").text

    assert nightly.count("<tr data-run=") == 1 and ids[-1][:12] in nightly
    assert "No runs match these filters" in failed
    assert first.count("<tr data-run=") == 25 and second.count("<tr data-run=") == 1
    assert table.startswith('<div id="runs"') and 'hx-trigger="every 2s"' in table


def test_pages_carry_a_csp_without_inline_scripts_or_styles(tmp_path: Path) -> None:
    with console(tmp_path) as client:
        sign_in(client, ADMIN)
        pages = [client.get(path) for path in ("/ui/signin", "/ui/jobs", "/ui/jobs/every", "/ui/runs/")]

    for page in pages:
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp
        assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=", page.text)
        assert not re.search(r'(?:src|href)="(?:https?:)?//', page.text)


def test_vendored_assets_are_served_by_flwd_with_their_licences(tmp_path: Path) -> None:
    with console(tmp_path) as client:
        htmx = client.get("/ui/static/htmx.min.js")
        sse = client.get("/ui/static/sse.min.js")
        licences = [client.get(f"/ui/static/{name}.LICENSE.txt") for name in ("htmx", "sse")]

    assert htmx.status_code == 200 and "htmx" in htmx.text
    assert sse.status_code == 200 and 'defineExtension("sse"' in sse.text
    assert all(r.status_code == 200 and "Permission to use" in r.text for r in licences)


def test_unknown_console_page_is_an_html_404(tmp_path: Path) -> None:
    with console(tmp_path) as client:
        sign_in(client, ADMIN)
        job = client.get("/ui/jobs/no-such-job")
        run = client.get("/ui/runs/no-such-run")

    assert job.status_code == 404 and "job.not.found" in job.text
    assert run.status_code == 404 and "run.not.found" in run.text
    assert job.headers["content-type"].startswith("text/html")


def test_api_still_answers_without_csrf_when_called_with_a_bearer_token(tmp_path: Path) -> None:
    with console(tmp_path) as client:
        response = client.post("/plans", json={"job": "hello", "args": {"name": "x"}}, headers=auth())

    assert response.status_code == 200


def test_live_stream_is_forbidden_when_the_token_lacks_runs_read(tmp_path: Path) -> None:
    with console(tmp_path) as client:
        run_id = client.post("/runs", json={"job": "hello", "args": {"name": "x"}},
                             headers=auth()).json()["run_id"]
        sign_in(client, JOBS_ONLY)
        response = client.get(f"/ui/runs/{run_id}/stream")

    assert response.status_code == 403
    assert "text/event-stream" not in response.headers["content-type"]


def test_console_paths_no_route_takes_answer_html_pages_and_api_paths_problems(
        tmp_path: Path) -> None:
    with console(tmp_path) as client:
        sign_in(client, ADMIN)
        unknown = client.get("/ui/no-such-page")
        wrong_method = client.put("/ui/jobs/hello")
        too_large = post_form(client, "/ui/jobs/hello", [("arg.name", "x" * (2 << 20))])
        api_unknown = client.get("/no-such-endpoint", headers=auth())

    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith("text/html")
    assert "route.not.found" in unknown.text and "script-src 'self'" in unknown.headers[
        "content-security-policy"]
    assert wrong_method.status_code == 405 and "method.not.allowed" in wrong_method.text
    assert wrong_method.headers["content-type"].startswith("text/html")
    assert too_large.status_code == 413 and "request.too.large" in too_large.text
    assert api_unknown.headers["content-type"].startswith("application/problem+json")


def test_run_page_and_stream_cut_a_huge_output_line_but_the_api_keeps_it_whole(
        tmp_path: Path) -> None:
    from flwd.entrypoints.web.stream import SHOWN_CHARS

    huge = "x" * (SHOWN_CHARS * 10)
    with console(tmp_path, runtime=fake_runtime(lines=(huge, "after"))) as client:
        run_id = client.post("/runs", json={"job": "hello", "args": {"name": "x"}},
                             headers=auth()).json()["run_id"]
        wait_finished(client, run_id)
        sign_in(client, ADMIN)
        page = client.get(f"/ui/runs/{run_id}").text
        with client.stream("GET", f"/ui/runs/{run_id}/stream?after=0") as response:
            live = "".join(m["data"] for m in sse_messages(response.iter_lines())
                           if m.get("event") == "output")
        with client.stream("GET", f"/runs/{run_id}/events", headers=auth()) as response:
            kept = [json.loads(m["data"])["data"]["line"] for m in sse_messages(response.iter_lines())
                    if m.get("event") == "run.output"]

    for shown in (page, live):
        assert "x" * SHOWN_CHARS in shown and "x" * (SHOWN_CHARS + 1) not in shown
        assert f"{len(huge) - SHOWN_CHARS:,} more characters" in shown and "after" in shown
    assert kept == [huge, "after"]
