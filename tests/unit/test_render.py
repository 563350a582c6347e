"""What the CLI prints for events: output on the right stream, pull progress on a terminal."""

from __future__ import annotations

import io

from flwd.entrypoints.cli.render import EventPrinter, Io
from flwd.ports.store import EventRecord


def _event(seq: int, kind: str, **data: object) -> EventRecord:
    return EventRecord(run_id="r1", seq=seq, type=kind, time="t", data=data)


def test_pull_progress_is_shown_on_a_terminal_and_ended_before_output() -> None:
    out, err = io.StringIO(), io.StringIO()
    printer = EventPrinter(Io(out=out, err=err), as_json=False, show_progress=True)

    printer(_event(1, "image.pull", image="alpine:3.20", status="Downloading", current=5, total=10))
    printer(_event(2, "image.pull", image="alpine:3.20", status="ready", pulled=True))
    printer(_event(3, "run.output", stream="stdout", line="hello"))

    assert "pulling alpine:3.20 [##########----------]  50% Downloading" in err.getvalue()
    assert "pulled alpine:3.20" in err.getvalue()
    assert out.getvalue() == "hello\n"


def test_pull_progress_is_silent_when_not_a_terminal() -> None:
    out, err = io.StringIO(), io.StringIO()
    printer = EventPrinter(Io(out=out, err=err), as_json=False, show_progress=False)

    printer(_event(1, "image.pull", image="alpine:3.20", status="Downloading", current=5, total=10))
    printer(_event(2, "run.output", stream="stderr", line="oops"))

    assert err.getvalue() == "oops\n" and out.getvalue() == ""


def test_warn_decisions_are_printed_as_warnings() -> None:
    out, err = io.StringIO(), io.StringIO()
    printer = EventPrinter(Io(out=out, err=err), as_json=False, show_progress=False)

    printer(_event(1, "policy.decision", decision="warn", code="runtime.rootful", reason="rootful"))
    printer(_event(2, "policy.decision", decision="allow", code="policy.default", reason="ok"))

    assert err.getvalue() == "warning[runtime.rootful]: rootful\n"


def test_warn_decisions_stay_on_one_line_when_the_reason_holds_control_characters() -> None:
    """A reason quotes the job's spec (a network name under the disabled profile)."""
    out, err = io.StringIO(), io.StringIO()
    printer = EventPrinter(Io(out=out, err=err), as_json=False, show_progress=False)

    printer(_event(1, "policy.decision", decision="warn", code="policy.override.unchecked",
                   reason="network x\x1b[1A\x1b[2K\nwarning[ok]: fine granted unchecked"))

    assert err.getvalue() == ("warning[policy.override.unchecked]: network x\\x1b[1A\\x1b[2K "
                              "warning[ok]: fine granted unchecked\n")
