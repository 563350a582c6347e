"""The terminal's pull progress line: a bar with byte counts, text without, cut to the width."""

from __future__ import annotations

import io

from flwd.entrypoints.cli.progress import PullProgressLine, progress_text
from flwd.entrypoints.cli.render import EventPrinter, Io
from flwd.ports.store import EventRecord

IMAGE = "127.0.0.1:5000/flwd-it/busy:1"


class FakeTty(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def _event(seq: int, kind: str, **data: object) -> EventRecord:
    return EventRecord(run_id="r1", seq=seq, type=kind, time="t", data=data)


def _pull(seq: int, **data: object) -> EventRecord:
    return _event(seq, "image.pull", image=IMAGE, **data)


def test_bar_fills_with_the_byte_count_when_the_runtime_reports_one() -> None:
    assert progress_text({"image": IMAGE, "status": "Downloading", "current": 3, "total": 4}) == (
        f"pulling {IMAGE} [###############-----]  75% Downloading")


def test_no_bar_only_the_step_when_the_runtime_reports_no_byte_count() -> None:
    assert progress_text({"image": IMAGE, "status": "Copying blob sha256:ab"}) == (
        f"pulling {IMAGE} Copying blob sha256:ab")


def test_progress_is_drawn_in_place_on_a_terminal_when_stderr_is_a_tty() -> None:
    out, err = io.StringIO(), FakeTty()
    printer = EventPrinter(Io(out=out, err=err), as_json=False)

    printer(_pull(1, status="checking"))
    printer(_pull(2, status="Downloading", current=1, total=10))
    printer(_pull(3, status="Downloading", current=10, total=10))
    printer(_pull(4, status="ready", pulled=True))
    printer(_event(5, "run.output", stream="stdout", line="hello"))

    assert err.getvalue() == (
        f"\rpulling {IMAGE} [##------------------]  10% Downloading\033[K"
        f"\rpulling {IMAGE} [####################] 100% Downloading\033[K"
        f"\rpulled {IMAGE}\033[K\n")
    assert out.getvalue() == "hello\n"


def test_nothing_is_drawn_when_stderr_is_not_a_tty() -> None:
    out, err = io.StringIO(), io.StringIO()
    printer = EventPrinter(Io(out=out, err=err), as_json=False)

    printer(_pull(1, status="Downloading", current=1, total=10))
    printer(_pull(2, status="ready", pulled=True))

    assert err.getvalue() == "" and out.getvalue() == ""


def test_nothing_is_drawn_when_the_image_was_already_present() -> None:
    err = FakeTty()
    printer = EventPrinter(Io(out=io.StringIO(), err=err), as_json=False)

    printer(_pull(1, status="checking"))
    printer(_pull(2, status="ready", pulled=False))

    assert err.getvalue() == ""


def test_line_is_cut_to_the_terminal_width_when_the_step_is_long() -> None:
    err = FakeTty()
    line = PullProgressLine(err, columns=lambda: 40)

    line.show({"image": IMAGE, "status": "Copying blob sha256:" + "a" * 64})

    drawn = err.getvalue().removeprefix("\r").removesuffix("\033[K")
    assert len(drawn) == 39 and drawn.endswith("…") and drawn.startswith(f"pulling {IMAGE}")


def test_open_line_is_ended_before_the_error_when_the_run_finishes_during_a_pull() -> None:
    err = FakeTty()
    printer = EventPrinter(Io(out=io.StringIO(), err=err), as_json=False)

    printer(_pull(1, status="pulling"))
    printer(_event(2, "run.finished", status="error", code="E_OCI", detail="manifest unknown"))

    assert err.getvalue().endswith("\033[K\n")
