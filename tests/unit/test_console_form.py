"""The job form of the web console: one control per argument type, server-side validation by
the argument contract with each problem beside its field, pre-filling, and secrets never shown."""

from __future__ import annotations

import re
from pathlib import Path

from flwd.domain.model import NO_DEFAULT, ArgSpec, ArgType, JobSpec
from flwd.entrypoints.web.form import contract_input
from litestar.datastructures import MultiDict
from tests.unit.console_support import SECRET_VALUE, console, post_form, sign_in
from tests.unit.http_support import ADMIN, auth


def _field(page: str, arg: str) -> str:
    """The HTML of one argument's field on *page*."""
    found = re.search(rf'<div class="field[^"]*" data-arg="{re.escape(arg)}">(.*?)</div>\s*(?=<div class="field|\s*<div class="field">)',
                      page, re.S)
    assert found, f"no field {arg}"
    return found.group(1)


def _every_page(tmp_path: Path, query: str = "") -> str:
    with console(tmp_path) as client:
        sign_in(client, ADMIN)
        return client.get(f"/ui/jobs/every{query}").text


def test_form_has_a_control_per_type_when_a_job_has_every_type(tmp_path: Path) -> None:
    page = _every_page(tmp_path)

    assert re.search(r'<input type="text" id="arg-who" name="arg.who"[^>]*pattern="\[A-Za-z\]\+"[^>]*required', page)
    count = _field(page, "count")
    assert 'type="number"' in count and 'step="1"' in count and 'min="1"' in count and 'max="5"' in count
    assert 'value="2"' in count  # the default
    ratio = _field(page, "ratio")
    assert 'step="any"' in ratio and 'max="1.5"' in ratio
    loud = _field(page, "loud")
    assert 'type="checkbox"' in loud and "checked" in loud
    colour = _field(page, "colour")
    assert "<select" in colour and '<option value="red">' in colour
    tags = _field(page, "tags")
    assert "<fieldset" in tags and "data-add-item" in tags and 'name="arg.tags"' in tags
    sizes = _field(page, "sizes")
    assert sizes.count('type="checkbox"') == 3
    assert "<textarea" in _field(page, "extra")
    secret = _field(page, "api_token")
    assert 'type="password"' in secret and 'value=""' in secret and "required" in secret


def test_secret_input_is_never_filled_with_a_saved_password_when_drawn(tmp_path: Path) -> None:
    """The sign-in page lets the browser save the API token as this site's password; browsers
    ignore ``autocomplete="off"`` on password inputs and would offer (or fill) that token into
    a job's secret, handing it to the job's container. ``new-password`` is never filled."""
    secret = _field(_every_page(tmp_path), "api_token")

    assert 'autocomplete="new-password"' in secret


def test_form_marks_required_arguments_and_shows_descriptions_when_drawn(tmp_path: Path) -> None:
    page = _every_page(tmp_path)

    assert '(required)' in _field(page, "who") and "Who to greet" in _field(page, "who")
    assert '(required)' not in _field(page, "count")
    assert "default <code>2</code>" in _field(page, "count")


def test_every_input_has_a_label_when_drawn(tmp_path: Path) -> None:
    page = _every_page(tmp_path)

    ids = re.findall(r'<(?:input|select|textarea)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', page)
    unlabelled_lists = re.findall(r'<input(?![^>]*(?:type="hidden"|\bid=|aria-label=))[^>]*>', page)
    for dom_id in ids:
        assert f'for="{dom_id}"' in page, dom_id
    assert [i for i in unlabelled_lists if 'type="checkbox"' not in i] == []


def test_query_parameters_prefill_the_form_but_never_a_secret(tmp_path: Path) -> None:
    page = _every_page(tmp_path, f"?who=Bob&count=4&loud=false&tags=a&tags=b&api_token={SECRET_VALUE}")

    assert 'value="Bob"' in _field(page, "who")
    assert 'value="4"' in _field(page, "count")
    assert "checked" not in _field(page, "loud")
    assert 'value="a"' in _field(page, "tags") and 'value="b"' in _field(page, "tags")
    assert SECRET_VALUE not in page


def test_problems_show_beside_their_fields_when_the_contract_refuses(tmp_path: Path) -> None:
    with console(tmp_path) as client:
        sign_in(client, ADMIN)
        response = post_form(client, "/ui/jobs/every", [
            ("arg.who", "Bob1"), ("arg.count", "9"), ("arg.extra", "not json"),
            ("arg.api_token", SECRET_VALUE), ("action", "run")])
        runs = client.get("/runs", headers=auth()).json()["runs"]

    page = response.text
    assert response.status_code == 422
    assert "must match the pattern" in _field(page, "who")
    assert "must be between 1 and 5, got 9" in _field(page, "count")
    assert "expected a JSON object" in _field(page, "extra")
    assert 'class="problem"' not in _field(page, "ratio")
    assert runs == []


def test_secret_is_never_rendered_back_when_the_form_comes_back(tmp_path: Path) -> None:
    with console(tmp_path) as client:
        sign_in(client, ADMIN)
        refused = post_form(client, "/ui/jobs/every", [
            ("arg.count", "0"), ("arg.api_token", SECRET_VALUE), ("action", "run")])
        planned = post_form(client, "/ui/jobs/every", [
            ("arg.who", "Bob"), ("arg.api_token", SECRET_VALUE), ("action", "plan")])

    assert refused.status_code == 422 and "this argument is required" in _field(refused.text, "who")
    assert planned.status_code == 200 and 'id="plan"' in planned.text
    for response in (refused, planned):
        assert SECRET_VALUE not in response.text
        assert SECRET_VALUE not in str(response.headers)


def test_plan_preview_lists_every_decision_when_asked(tmp_path: Path) -> None:
    with console(tmp_path) as client:
        sign_in(client, ADMIN)
        response = post_form(client, "/ui/jobs/hello", [("arg.name", "Alice"), ("action", "plan")])
        api = client.post("/plans", json={"job": "hello", "args": {"name": "Alice"}},
                          headers=auth()).json()

    plan = response.text.split('id="plan"', 1)[1]
    for decision in api["decisions"]:
        assert f"<td>{decision['subject']}</td>" in plan
        assert f"<code>{decision['code']}</code>" in plan
    assert "<code>ARG_NAME</code>" in plan


def test_submitting_starts_the_run_and_opens_its_page_when_the_form_is_valid(tmp_path: Path) -> None:
    with console(tmp_path) as client:
        sign_in(client, ADMIN)
        response = post_form(client, "/ui/jobs/every", [
            ("arg.who", "Bob"), ("arg.loud", "true"), ("seen.loud", "1"), ("arg.tags", "a"),
            ("arg.tags", ""), ("arg.tags", "b"), ("arg.sizes", "3"), ("arg.extra", '{"k": [1]}'),
            ("arg.api_token", SECRET_VALUE), ("action", "run")])
        run_id = response.headers["location"].rsplit("/", 1)[1]
        run = client.get(f"/runs/{run_id}", headers=auth()).json()

    assert response.status_code == 303 and response.headers["location"] == f"/ui/runs/{run_id}"
    assert run["args"] == {"who": "Bob", "count": 2, "loud": True, "tags": ["a", "b"], "sizes": [3],
                           "extra": {"k": [1]}, "api_token": "<secret>"}


def _spec(name: str, kind: ArgType, **more: object) -> ArgSpec:
    return ArgSpec(name=name, type=kind, default=more.pop("default", NO_DEFAULT), **more)  # type: ignore[arg-type]


def test_contract_input_reads_an_unchecked_shown_checkbox_as_false() -> None:
    job = JobSpec(id="j", directory="", spec_path="", image="x",
                  args=(_spec("loud", ArgType.BOOLEAN), _spec("quiet", ArgType.BOOLEAN)))

    raw = contract_input(job, MultiDict([("seen.loud", "1")]))

    assert raw == {"loud": "false"}


def test_contract_input_leaves_empty_fields_absent_and_keeps_array_items_in_order() -> None:
    job = JobSpec(id="j", directory="", spec_path="", image="x",
                  args=(_spec("who", ArgType.STRING), _spec("tags", ArgType.ARRAY, items=ArgType.STRING)))

    raw = contract_input(job, MultiDict([("arg.who", ""), ("arg.tags", "b"), ("arg.tags", " "),
                                         ("arg.tags", "a"), ("arg.other", "x")]))

    assert raw == {"tags": ["b", "a"]}


def test_run_page_links_to_a_prefilled_form_without_the_secret(tmp_path: Path) -> None:
    with console(tmp_path) as client:
        sign_in(client, ADMIN)
        started = post_form(client, "/ui/jobs/every", [
            ("arg.who", "Bob"), ("arg.tags", "a"), ("arg.tags", "b"),
            ("arg.api_token", SECRET_VALUE), ("action", "run")])
        page = client.get(started.headers["location"]).text
        link = re.search(r'href="(/ui/jobs/every\?[^"]+)">Run again', page)
        assert link
        form = client.get(link.group(1).replace("&amp;", "&")).text

    assert "api_token" not in link.group(1) and "secret" not in link.group(1)
    assert 'value="Bob"' in _field(form, "who") and 'value="b"' in _field(form, "tags")
    assert 'value=""' in _field(form, "api_token")


def test_form_posted_twice_starts_one_run_when_the_run_button_is_double_clicked(
        tmp_path: Path) -> None:
    """A double click sends the same form twice before the first answer arrives."""
    with console(tmp_path) as client:
        sign_in(client, ADMIN)
        page = client.get("/ui/jobs/hello").text
        hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
        fields = {**hidden, "arg.name": "Bob", "action": "run"}
        first = client.post("/ui/jobs/hello", data=fields, follow_redirects=False)
        second = client.post("/ui/jobs/hello", data=fields, follow_redirects=False)
        runs = client.get("/runs", params={"job": "hello"}, headers=auth()).json()["runs"]
        again = client.get("/ui/jobs/hello").text

    assert "submission" in hidden
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert len(runs) == 1
    assert hidden["submission"] not in again  # the next drawing of the form is a new run
