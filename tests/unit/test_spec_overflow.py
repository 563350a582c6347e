"""Numbers too large for a float in a spec, a policy or a request: one job's problem, never a crash."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from litestar.testing import TestClient

from flwd.adapters.yaml_catalog import YamlJobCatalog
from flwd.domain.errors import ConfigInvalidError
from flwd.domain.policy.bundle import parse_policy
from flwd.domain.spec.catalog import load_catalog
from flwd.entrypoints.cli.main import main
from flwd.entrypoints.cli.render import Io
from tests.unit.http_support import auth, client_with_jobs

HUGE = "9" * 401
BASE = "executor: container\nimage: alpine:3.20\n"
# Each spec holds a 401-digit integer where float() used to raise OverflowError.
HUGE_SPECS = {
    "timeout": (f"timeout: {HUGE}\n", "timeout"),
    "minimum": (f"args: [{{name: n, type: number, minimum: {HUGE}}}]\n", "args[0].minimum"),
    "maximum": (f"args: [{{name: n, type: integer, maximum: -{HUGE}}}]\n", "args[0].maximum"),
    "default": (f"args: [{{name: n, type: integer, default: {HUGE}}}]\n", "args[0].default"),
    "enum": (f"args: [{{name: n, type: number, enum: [1, {HUGE}]}}]\n", "args[0].enum"),
    "cpu": (f"container: {{resources: {{cpu: {HUGE}}}}}\n", "container.resources.cpu"),
    "cpu-millis": (f"container: {{resources: {{cpu: '{HUGE}m'}}}}\n", "container.resources.cpu"),
    "memory": (f"container: {{resources: {{memory: {HUGE}}}}}\n", "container.resources.memory"),
    "memory-text": (f"container: {{resources: {{memory: '{HUGE}Gi'}}}}\n",
                    "container.resources.memory"),
    "pids": (f"container: {{resources: {{pids: {HUGE}}}}}\n", "container.resources.pids"),
}


def write_job(root: Path, job_id: str, extra: str) -> None:
    (root / job_id).mkdir(parents=True, exist_ok=True)
    (root / job_id / "job.yaml").write_text(BASE + extra)


@pytest.mark.parametrize("case", sorted(HUGE_SPECS))
def test_huge_number_is_spec_invalid_for_that_job_alone_when_a_spec_holds_one(
        tmp_path: Path, case: str) -> None:
    extra, field = HUGE_SPECS[case]
    write_job(tmp_path, "good", "")
    write_job(tmp_path, "huge", extra)

    catalog = load_catalog(YamlJobCatalog([tmp_path]).documents())

    assert [job.id for job in catalog.jobs] == ["good"]
    (broken,) = catalog.invalid
    assert (broken.id, broken.field) == ("huge", field)
    assert HUGE not in broken.reason  # the message stays one readable line


def test_job_listing_exits_zero_listing_the_rest_when_one_spec_holds_a_huge_number(
        tmp_path: Path) -> None:
    write_job(tmp_path / "jobs", "good", "")
    write_job(tmp_path / "jobs", "huge", HUGE_SPECS["timeout"][0])
    out, err = io.StringIO(), io.StringIO()

    code = main(["--jobs-dir", str(tmp_path / "jobs"), "--data-dir", str(tmp_path / "data"), ":jobs"],
                Io(out=out, err=err), {"HOME": "/nonexistent"})

    assert code == 0, err.getvalue()
    assert "good" in out.getvalue() and "huge" in out.getvalue() and "timeout" in out.getvalue()


@pytest.mark.parametrize("ceiling", [{"cpu": int(HUGE)}, {"memory": int(HUGE)}, {"pids": int(HUGE)},
                                     {"memory": HUGE + "Ki"}, {"cpu": float("inf")}])
def test_huge_ceiling_is_config_invalid_when_the_policy_holds_one(ceiling: dict[str, object]) -> None:
    with pytest.raises(ConfigInvalidError) as err:
        parse_policy({"ceilings": ceiling}, source="policy.yaml")

    assert err.value.context["field"] == f"ceilings.{next(iter(ceiling))}"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient[Any]]:
    jobs = {f"huge-{case}": BASE + extra for case, (extra, _) in HUGE_SPECS.items()}
    jobs["numbers"] = BASE + "args: [{name: i, type: integer}, {name: x, type: number, maximum: 5}]\n"
    with client_with_jobs(tmp_path, jobs) as (_, client):
        yield client


def test_job_listing_shows_huge_specs_as_invalid_when_the_api_lists_jobs(
        client: TestClient[Any]) -> None:
    response = client.get("/jobs", headers=auth())

    assert response.status_code == 200
    body = response.json()
    listed = {job["id"]: job for job in body["jobs"]}
    invalid = {job["id"] for job in body["invalid"]}
    assert "numbers" in listed and "hello" in listed
    assert invalid >= {f"huge-{case}" for case in HUGE_SPECS}


@pytest.mark.parametrize("case", sorted(HUGE_SPECS))
def test_plan_is_422_spec_invalid_when_the_job_holds_a_huge_number(
        client: TestClient[Any], case: str) -> None:
    response = client.post("/plans", json={"job": f"huge-{case}", "args": {}}, headers=auth())

    assert response.status_code == 422
    assert response.json()["code"] == "spec.invalid"


@pytest.mark.parametrize("args_json", [
    '{"i": ' + HUGE + '}',
    '{"i": -' + HUGE + '}',
    '{"x": ' + HUGE + '}',
    '{"x": 1e400}',
    '{"x": -1e400}',
    '{"i": 1e400}',
    '{"x": ' + HUGE + '.5}',
])
def test_plan_never_5xx_when_an_argument_is_a_huge_number(client: TestClient[Any], args_json: str) -> None:
    body = '{"job": "numbers", "args": ' + args_json + '}'

    response = client.post("/plans", content=body.encode(),
                           headers={**auth(), "Content-Type": "application/json"})

    assert response.status_code in (200, 400, 422), response.text
    if response.status_code != 200:
        assert response.json()["code"] in ("request.invalid", "args.invalid")
    else:  # a 401-digit integer is a valid integer: delivered exactly
        assert json.loads(response.json()["env"]["FLWD_ARGS_JSON"])["i"] == json.loads(args_json)["i"]
