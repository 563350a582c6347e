"""The pull progress line the CLI keeps on a terminal's stderr while a run's image is pulled.

One line, rewritten in place with ``\\r`` and erase-to-end-of-line::

    pulling 127.0.0.1:5000/acme/tool:1 [########------------]  42% Downloading

The bar and percentage appear when the runtime reports byte counts (Docker does, per layer);
Podman reports only steps ("Copying blob sha256:..."), shown as text. The line is cut to the
terminal's width, because a line that wraps cannot be rewritten in place. When the image is
ready the line becomes ``pulled IMAGE``; an image already present prints nothing.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping, TextIO

BAR_WIDTH = 20
FALLBACK_COLUMNS = 80
ERASE_TO_END = "\033[K"
_NO_DETAIL = ("", "pulling", "pulled")  # the adapters' own start/end marks say nothing new


def terminal_columns(stream: TextIO) -> int:
    """The width of the terminal *stream* writes to, or 80 when it has none."""
    try:
        return os.get_terminal_size(stream.fileno()).columns or FALLBACK_COLUMNS
    except (OSError, ValueError, AttributeError):
        return FALLBACK_COLUMNS


def progress_text(data: Mapping[str, Any]) -> str:
    """``pulling IMAGE [bar] NN% STATUS`` (bar and percentage only with byte counts)."""
    current, total = data.get("current"), data.get("total")
    text = f"pulling {data.get('image')}"
    if isinstance(current, int) and isinstance(total, int) and total > 0:
        done = max(0, min(current, total))
        filled = BAR_WIDTH * done // total
        text += f" [{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {100 * done // total:3d}%"
    status = str(data.get("status") or "").strip()
    return f"{text} {status}" if status not in _NO_DETAIL else text


class PullProgressLine:
    """Draws ``image.pull`` events on *err*, a terminal; ``end()`` closes an open line
    before anything else is printed."""

    def __init__(self, err: TextIO, columns: Callable[[], int] | None = None) -> None:
        self._err = err
        self._columns = columns or (lambda: terminal_columns(err))
        self._open = False

    def show(self, data: Mapping[str, Any]) -> None:
        status = data.get("status")
        if status == "checking":
            return
        if status == "ready":
            if data.get("pulled"):
                pulled = self._fit(f"pulled {data.get('image')}")
                self._err.write(f"\r{pulled}{ERASE_TO_END}\n")
            elif self._open:
                self._err.write(f"\r{ERASE_TO_END}")
            self._err.flush()
            self._open = False
            return
        self._err.write(f"\r{self._fit(progress_text(data))}{ERASE_TO_END}")
        self._err.flush()
        self._open = True

    def end(self) -> None:
        if self._open:
            self._err.write("\n")
            self._open = False

    def _fit(self, text: str) -> str:
        width = max(self._columns() - 1, 10)  # the last column would wrap on some terminals
        return text if len(text) <= width else text[: width - 1] + "…"
