"""Where the CLI reads secret values besides the command line: files, standard input and a
no-echo prompt. Nothing of flwd is imported here: every ``Io`` makes one at start-up."""

from __future__ import annotations

import sys
from typing import Protocol


class SecretInput(Protocol):
    """Where secret values come from besides the command line."""

    def read_file(self, path: str, limit: int) -> bytes:
        """At most *limit* + 1 bytes of the file (raises ``OSError``)."""
        ...

    def read_stdin(self, limit: int) -> bytes:
        """At most *limit* + 1 bytes of standard input, up to its end."""
        ...

    def interactive(self) -> bool:
        """Whether standard input is a terminal a person can answer a prompt on."""
        ...

    def prompt(self, text: str) -> str:
        """One line typed on the terminal without echo (raises ``EOFError`` at end of input)."""
        ...


class TerminalInput:
    """The real thing: files, ``sys.stdin``, and ``getpass`` (prompt and answer on /dev/tty)."""

    def read_file(self, path: str, limit: int) -> bytes:
        with open(path, "rb") as file:
            return file.read(limit + 1)

    def read_stdin(self, limit: int) -> bytes:
        if sys.stdin is None:  # started with standard input closed
            raise OSError(9, "standard input is closed")
        return sys.stdin.buffer.read(limit + 1)

    def interactive(self) -> bool:
        try:
            return sys.stdin is not None and sys.stdin.isatty()
        except ValueError:  # closed
            return False

    def prompt(self, text: str) -> str:
        import getpass

        return getpass.getpass(text)
