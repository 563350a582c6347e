"""An in-memory stand-in for the CLI's secret input (files, standard input, a no-echo prompt).

It conforms by shape to ``flwd.entrypoints.cli.secret_source.SecretInput`` and records what was
read and what was asked, so tests can hold the CLI to reading each value once.
"""

from __future__ import annotations

import errno
from collections import Counter
from dataclasses import dataclass, field


@dataclass(slots=True)
class FakeSecretInput:
    """``files``: path -> content (absent paths do not exist, ``unreadable`` ones refuse);
    ``stdin``: what standard input holds (``stdin_closed``: reading it fails); ``tty``: whether it is a terminal; ``answers``:
    what a person types at successive prompts (then end of input)."""

    files: dict[str, bytes] = field(default_factory=dict)
    unreadable: set[str] = field(default_factory=set)
    stdin: bytes = b""
    stdin_closed: bool = False  # reading standard input fails (EBADF)
    tty: bool = False
    answers: list[str] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)  # the prompts shown, in order
    reads: Counter[str] = field(default_factory=Counter)  # "stdin" or a path -> times read

    def read_file(self, path: str, limit: int) -> bytes:
        self.reads[path] += 1
        if path in self.unreadable:
            raise PermissionError(errno.EACCES, "Permission denied", path)
        if path not in self.files:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        return self.files[path][: limit + 1]

    def read_stdin(self, limit: int) -> bytes:
        self.reads["stdin"] += 1
        if self.stdin_closed:
            raise OSError(errno.EBADF, "Bad file descriptor")
        data, self.stdin = self.stdin[: limit + 1], self.stdin[limit + 1:]
        return data

    def interactive(self) -> bool:
        return self.tty

    def prompt(self, text: str) -> str:
        self.prompts.append(text)
        if not self.answers:
            raise EOFError
        return self.answers.pop(0)
