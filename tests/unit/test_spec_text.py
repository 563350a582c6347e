"""Text in a spec that no container can carry is spec.invalid, naming file and field (SPEC 1)."""

from __future__ import annotations

import pytest

from flwd.domain.errors import SpecInvalidError
from flwd.domain.spec.job import parse_job_spec
from flwd.ports.catalog import JobDocument

SPEC = "jobs/demo/job.yaml"


def _doc(**data: object) -> JobDocument:
    return JobDocument(default_id="demo", spec_path=SPEC, directory="/srv/demo",
                       data={"executor": "container", "image": "alpine:3.20", **data},
                       shell_scripts=(), files=frozenset())


@pytest.mark.parametrize(("data", "field"), [
    ({"env": {"A": "x\x00y"}}, "env.A"),
    ({"command": ["echo", "a\x00b"]}, "command[1]"),
    ({"command": "echo a\x00b"}, "command"),
])
def test_spec_is_invalid_naming_the_field_when_text_holds_a_nul(
        data: dict[str, object], field: str) -> None:
    # runc refuses such a variable or argument only at start: E_OCI after a pull and a create
    with pytest.raises(SpecInvalidError) as err:
        parse_job_spec(_doc(**data))

    assert err.value.context == {"file": SPEC, "field": field}
    assert "NUL" in err.value.detail
