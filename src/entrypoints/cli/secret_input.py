"""Secret values kept off the command line, where ``ps`` shows them (SPEC section 3).

``--NAME @PATH`` reads a secret from a file, ``--NAME -`` from standard input, and a required
secret left out while standard input is a terminal is asked for without echo. Only
``format: secret`` arguments read this way; ``@@`` starts a literal value with ``@``. Each
value is read once, and no message shows a value or the path after ``@`` (a literal secret
mistaken for a path would otherwise be printed).
"""

from __future__ import annotations

from typing import Mapping

from flwd.domain.errors import ArgProblem, ArgsInvalidError, UsageError
from flwd.domain.model import ArgSpec, JobSpec
from flwd.entrypoints.cli.secret_source import SecretInput

MAX_SECRET_BYTES = 256 * 1024  # a key or a certificate chain fits; the API takes 1 MiB bodies
FROM_STDIN = "-"
FROM_FILE = "@"


class _Unreadable(Exception):
    """Why a secret could not be read; the text never holds the value or the path."""


def read_secrets(job: JobSpec, args: Mapping[str, object], source: SecretInput) -> dict[str, object]:
    """*args* with each secret given as ``@PATH`` or ``-`` replaced by what it names, and
    each missing required secret prompted for when standard input is a terminal.

    Raises ``UsageError`` when more than one secret asks for standard input, and
    ``ArgsInvalidError`` naming each secret that could not be read (with the other
    arguments' problems, all at once)."""
    from flwd.entrypoints.cli.job_parser import raise_with_contract_problems

    values = dict(args)
    secrets = [spec for spec in job.args if spec.secret]
    piped = [spec.name for spec in secrets if values.get(spec.name) == FROM_STDIN]
    if len(piped) > 1:
        raise UsageError("standard input can give only one secret, not "
                         + " and ".join(f"--{name} -" for name in piped))
    problems: list[ArgProblem] = []
    for spec in secrets:
        value = values.get(spec.name)
        if isinstance(value, str):
            try:
                values[spec.name] = _read(spec, value, source)
            except _Unreadable as bad:
                problems.append(_problem(spec, str(bad)))
    if problems:
        raise_with_contract_problems(job, values, problems)
    return _prompt_missing(job, values, secrets, source)


def _read(spec: ArgSpec, value: str, source: SecretInput) -> str:
    if value == FROM_STDIN:
        return _from_stdin(spec, source)
    if value.startswith(FROM_FILE + FROM_FILE):
        return value[1:]
    if not value.startswith(FROM_FILE):
        return value
    if value == FROM_FILE:
        raise _Unreadable("@ needs a file name after it (write @@ for a value starting with @)")
    try:
        data = source.read_file(value[1:], MAX_SECRET_BYTES)
    except OSError as exc:
        reason = (exc.strerror or type(exc).__name__).lower()
        raise _Unreadable(f"cannot read the file after @: {reason} "
                          "(write @@ for a value starting with @)") from None
    return _text(data, "the file after @")


def _from_stdin(spec: ArgSpec, source: SecretInput) -> str:
    """Standard input to its end; on a terminal, the no-echo prompt (typing would show)."""
    if source.interactive():
        try:
            return source.prompt(_prompt_text(spec))
        except EOFError:
            return ""
    try:
        data = source.read_stdin(MAX_SECRET_BYTES)
    except OSError as exc:
        reason = (exc.strerror or str(exc) or type(exc).__name__).lower()
        raise _Unreadable(f"cannot read standard input: {reason}") from None
    return _text(data, "standard input")


def _prompt_text(spec: ArgSpec) -> str:
    return f"{spec.name} (secret, not echoed): "


def _text(data: bytes, where: str) -> str:
    """*data* as text, without one final line break (what ``echo`` and editors add)."""
    if len(data) > MAX_SECRET_BYTES:
        raise _Unreadable(f"{where} holds more than {MAX_SECRET_BYTES // 1024} KiB, "
                          "the most a secret may hold")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _Unreadable(f"{where} is not UTF-8 text") from None
    if text.endswith("\n"):
        text = text[:-2] if text.endswith("\r\n") else text[:-1]
    return text


def _problem(spec: ArgSpec, message: str) -> ArgProblem:
    return ArgProblem(arg=spec.name, code="type", message=message)


def _prompt_missing(job: JobSpec, values: dict[str, object], secrets: list[ArgSpec],
                    source: SecretInput) -> dict[str, object]:
    """Ask for each missing required secret, once the other arguments are known good."""
    missing = [spec for spec in secrets if spec.required and values.get(spec.name) is None]
    if not missing or not source.interactive():
        return values
    from flwd.domain.args.contract import check_args

    try:
        check_args(job.args, values, from_text=True, job=job.id)
    except ArgsInvalidError as exc:
        asked = {spec.name for spec in missing}
        if any(p.arg not in asked or p.code != "required" for p in exc.problems):
            raise
    for spec in missing:
        try:
            answer = source.prompt(_prompt_text(spec))
        except EOFError:
            answer = ""
        if answer:  # nothing typed stays missing: `required`
            values[spec.name] = answer
    return values
