"""The attached output shared by both adapters: frames to lines, once each, and the log read
only when the attach connection broke (over a socket pair standing in for the runtime)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Iterator

import pytest

from flwd.adapters._attach import CONFIRM_STARTS, AttachedStream, FrameReader, nothing_after
from flwd.ports.runtime import OutputLine


def frame(stream: int, payload: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


def out(line: str) -> OutputLine:
    return OutputLine(stream="stdout", line=line)


def err(line: str) -> OutputLine:
    return OutputLine(stream="stderr", line=line)


def attached(sent: bytes, *, running: bool | list[bool], log: list[OutputLine] | None = None,
             since: list[OutputLine] | None = None) -> tuple[AttachedStream, list[str]]:
    """An AttachedStream over a socket pair whose far end sends *sent*, then closes; the
    runtime reports *running* (each answer in turn, the last one from then on); with *since*,
    a confirming read of the log's end answers those lines."""
    ours, theirs = socket.socketpair()
    calls: list[str] = []
    answers = list(running) if isinstance(running, list) else [running]

    def is_running() -> bool:
        calls.append("running")
        return answers.pop(0) if len(answers) > 1 else answers[0]

    def recover() -> Iterator[OutputLine]:
        calls.append("log")
        if log is None:
            raise AssertionError("the log was read though the attach was complete")
        yield from log

    def confirm(at: float) -> Iterator[OutputLine]:
        assert at <= time.time()  # from before the last byte arrived
        calls.append("since")
        yield from since or ()

    stream = AttachedStream(ours.recv, ours, running=is_running, recover=recover,
                            exit_grace=0.3, confirm=None if since is None else confirm)

    def send() -> None:
        for i in range(0, len(sent), 5):  # in pieces that cut headers and payloads
            theirs.sendall(sent[i:i + 5])
        theirs.close()

    threading.Thread(target=send, daemon=True).start()
    return stream, calls


def test_frame_reader_returns_whole_frames_when_fed_byte_by_byte() -> None:
    reader = FrameReader()
    data = frame(1, b"one\n") + frame(2, b"") + frame(2, b"two")

    found = [f for i in range(len(data)) for f in reader.feed(data[i:i + 1])]

    assert found == [("stdout", b"one\n"), ("stderr", b""), ("stderr", b"two")]
    assert reader.pending == 0


def test_attached_stream_yields_every_line_once_when_it_ends_at_the_exit() -> None:
    sent = (frame(1, b"a\nb") + frame(2, b"e\xff\n") + frame(1, b"c\n" + b"x" * 70_000)
            + frame(2, b"f"))
    stream, calls = attached(sent, running=False)

    lines = list(stream)

    assert lines == [out("a"), err("e\ufffd"), out("bc"), out("x" * 70_000), err("f")]
    assert calls == ["running"] and not stream.recovered


def test_attached_stream_reads_the_rest_from_the_log_when_it_breaks_while_running() -> None:
    log = [out("a"), err("e"), out("b"), out("partial line"), err("f"), out("c")]
    stream, calls = attached(frame(1, b"a\nb\npartial") + frame(2, b"e\n"), running=True,
                             log=log)

    lines = list(stream)

    assert lines == [out("a"), out("b"), err("e"), out("partial line"), err("f"), out("c")]
    assert set(calls[:-1]) == {"running"} and calls[-1] == "log" and stream.recovered


def test_attached_stream_reads_no_log_when_the_exit_is_recorded_just_after_the_end() -> None:
    stream, calls = attached(frame(1, b"a\nb"), running=[True, True, False])

    lines = list(stream)

    assert lines == [out("a"), out("b")]
    assert calls == ["running"] * 3 and not stream.recovered


def test_attached_stream_reads_the_rest_from_the_log_when_it_ends_inside_a_frame() -> None:
    log = [out("a"), out("b"), out("c")]
    stream, calls = attached(frame(1, b"a\n") + frame(1, b"b\nc\n")[:9], running=False, log=log)

    lines = list(stream)

    assert lines == log
    assert calls == ["log"] and stream.recovered


def test_attached_stream_reads_the_rest_from_the_log_when_the_job_writes_after_a_clean_end(
) -> None:
    # the connection ends at a frame boundary while the job runs on, writes c and d, and exits
    # within the grace: the log's end shows lines the connection never delivered
    log = [out("a"), err("e"), out("b"), out("c"), err("f"), out("d")]
    stream, calls = attached(frame(1, b"a\nb\n") + frame(2, b"e\n"), running=[True, False],
                             log=log, since=[out("b"), out("c"), err("f"), out("d")])

    lines = list(stream)

    assert lines == [out("a"), out("b"), err("e"), out("c"), err("f"), out("d")]
    assert calls == ["running", "running", "since", "log"] and stream.recovered


def test_attached_stream_reads_no_log_when_the_log_ends_with_the_delivered_lines() -> None:
    stream, calls = attached(frame(1, b"a\nb\nc") + frame(2, b"e\n"), running=False,
                             since=[out("b"), err("e"), out("c")])

    lines = list(stream)

    assert lines == [out("a"), out("b"), err("e"), out("c")]
    assert calls == ["running", "since"] and not stream.recovered


def test_attached_stream_reads_the_log_when_repeated_lines_leave_the_end_ambiguous() -> None:
    # "x" then "x": the last delivered line, or one delivered and one written after the end
    log = [out("x"), out("x"), out("x")]
    stream, calls = attached(frame(1, b"x\nx\n"), running=False, log=log,
                             since=[out("x"), out("x")])

    lines = list(stream)

    assert lines == log and calls[-1] == "log" and stream.recovered


def test_nothing_after_is_false_when_the_read_is_too_long_or_begins_too_late() -> None:
    delivered = {"stdout": ["a", "b"], "stderr": ["e"]}

    assert not nothing_after(delivered, [out("z"), out("a"), out("b"), err("e")])
    assert not nothing_after(delivered, [out("b")])  # nothing of stderr read back
    assert not nothing_after({}, [err("late")])
    assert nothing_after({}, []) and nothing_after(delivered, [out("b"), err("e")])


def test_nothing_after_is_false_when_the_read_could_start_at_too_many_places() -> None:
    lines = [f"{i % 2}" for i in range(4 * CONFIRM_STARTS)]  # 0 1 0 1 ...: ambiguous starts
    unique = [str(i) for i in range(4 * CONFIRM_STARTS)]

    assert not nothing_after({"stdout": ["x", *lines]}, [out(x) for x in lines])
    assert nothing_after({"stdout": ["x", *unique]}, [out(x) for x in unique])


def test_nothing_after_is_true_when_the_read_begins_between_the_pieces_of_a_line() -> None:
    delivered = {"stdout": ["1233", "1234", "1235"]}

    assert nothing_after(delivered, [out("34"), out("1235")])
    assert not nothing_after(delivered, [out("34"), out("1235"), out("1236")])


def test_nothing_after_is_false_when_a_line_without_newline_may_have_gone_on() -> None:
    delivered = {"stdout": ["a", "pa"]}

    assert nothing_after(delivered, [out("pa")], open_ended=["stdout"])
    assert not nothing_after(delivered, [out("pax")], open_ended=["stdout"])
    # the read may have begun at pa's "a", so its "pa" may be a second, new line
    assert not nothing_after(delivered, [out("a"), out("pa")], open_ended=["stdout"])


def test_attached_stream_lets_go_of_the_connection_when_closed_unread() -> None:
    ours, theirs = socket.socketpair()
    stream = AttachedStream(ours.recv, ours, running=lambda: False, recover=lambda: [])

    stream.close()

    theirs.settimeout(5)
    assert theirs.recv(1) == b""  # the far end sees the connection end
    with pytest.raises(StopIteration):
        next(stream)
