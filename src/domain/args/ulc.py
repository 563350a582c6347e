"""Delivery of checked arguments into a container: the ULC environment, secret texts, redaction."""

from __future__ import annotations

import json
from collections.abc import Mapping

from flwd.domain.errors import ArgProblem
from flwd.domain.model import (
    JOB_DIR,
    RUN_DIR,
    SECRET_PLACEHOLDER,
    SECRETS_DIR,
    ArgSpec,
    ArgType,
)


def compact_json(value: object, *, sort_keys: bool = False) -> str:
    """JSON without spaces, non-ASCII kept as is; NaN and infinities are refused."""
    return json.dumps(
        value, separators=(",", ":"), ensure_ascii=False, allow_nan=False, sort_keys=sort_keys
    )


def value_text(value: object) -> str:
    """The text form of one argument value: strings as is, everything else as compact JSON.

    Booleans become ``true``/``false``, numbers JSON number text (``3``, ``1.5``),
    arrays and objects compact JSON.
    """
    if isinstance(value, str):
        return value
    return compact_json(value)


def _secret_names(specs: tuple[ArgSpec, ...]) -> frozenset[str]:
    return frozenset(spec.name for spec in specs if spec.secret)


def ulc_environment(
    specs: tuple[ArgSpec, ...], values: Mapping[str, object], *, run_id: str, job_id: str
) -> dict[str, str]:
    """The ULC environment of SPEC section 2 for checked *values* (from ``check_args``).

    ``ARG_<NAME>`` for each non-secret value (a ``None`` value gets no variable but
    appears as ``null`` in ``FLWD_ARGS_JSON``), ``FLWD_ARGS_JSON`` with every
    non-secret value (sorted keys), and the run metadata variables. Only names
    declared in *specs* are delivered; secret arguments never appear here (they
    travel as files, see ``secret_values``). Raises nothing for checked values.
    """
    public: dict[str, object] = {}
    env: dict[str, str] = {}
    for spec in specs:
        if spec.secret or spec.name not in values:
            continue
        value = values[spec.name]
        public[spec.name] = value
        if value is not None:
            env[spec.env_name] = value_text(value)
    env["FLWD_ARGS_JSON"] = compact_json(public, sort_keys=True)
    env["FLWD_RUN_ID"] = run_id
    env["FLWD_JOB_ID"] = job_id
    env["FLWD_JOB_DIR"] = JOB_DIR
    env["FLWD_RUN_DIR"] = RUN_DIR
    env["FLWD_SECRETS_DIR"] = SECRETS_DIR
    return env


# Linux will not exec a process with an environment string ("NAME=value" and its NUL) longer
# than MAX_ARG_STRLEN (32 pages of 4 KiB): a bigger argument would make the job fail at start.
MAX_ENV_STRING_BYTES = 131_072
OVER_ENV_LIMIT = f"over the {MAX_ENV_STRING_BYTES:,} bytes Linux lets one environment variable hold"


def env_string_bytes(name: str, text: str) -> int:
    """The bytes ``NAME=text`` takes in a process's environment, its NUL included."""
    size = len(name) + len(text) + 2  # "=" and the NUL
    if 4 * size <= MAX_ENV_STRING_BYTES:  # no UTF-8 text of that length can be too long
        return size
    return len(name) + len(text.encode("utf-8", "surrogatepass")) + 2


def oversize_problems(specs: tuple[ArgSpec, ...], env: Mapping[str, str]) -> list[ArgProblem]:
    """One ``range`` problem per non-secret argument whose ULC variable could not be passed to
    the container's process; failing that, one naming the largest argument when
    ``FLWD_ARGS_JSON`` (all of them together) could not. Secrets travel as files: no limit."""
    together = env_string_bytes("FLWD_ARGS_JSON", env.get("FLWD_ARGS_JSON", ""))
    if together <= MAX_ENV_STRING_BYTES:
        return []  # each ARG_<NAME> string is shorter than the JSON that holds its value too
    hint = "pass large data as a file instead (a `format: secret` argument is delivered as one)"
    sizes: dict[str, int] = {}
    problems: list[ArgProblem] = []
    for spec in specs:
        text = None if spec.secret else env.get(spec.env_name)
        if text is None:
            continue
        sizes[spec.name] = size = env_string_bytes(spec.env_name, text)
        if size > MAX_ENV_STRING_BYTES:
            problems.append(ArgProblem(arg=spec.name, code="range", message=(
                f"too long to deliver: {spec.env_name} would take {size:,} bytes, "
                f"{OVER_ENV_LIMIT}; {hint}")))
    if not problems and sizes:
        largest = max(sizes, key=lambda name: sizes[name])
        problems.append(ArgProblem(arg=largest, code="range", message=(
            f"the arguments together are too long to deliver: FLWD_ARGS_JSON would take "
            f"{together:,} bytes, {OVER_ENV_LIMIT}; this is the largest of them; {hint}")))
    return problems


def secret_values(specs: tuple[ArgSpec, ...], values: Mapping[str, object]) -> dict[str, str]:
    """Name -> file text of each secret argument present (non-``None``) in *values*.

    Strings are delivered as is, anything else as compact JSON. The result is the
    only place the contract hands secret values on; feed it to the secret plan.
    """
    return {
        spec.name: value_text(values[spec.name])
        for spec in specs
        if spec.secret and values.get(spec.name) is not None
    }


def public_args(specs: tuple[ArgSpec, ...], values: Mapping[str, object]) -> dict[str, object]:
    """Every value in *values*, with each secret argument's value replaced by ``<secret>``.

    Safe for plans, events, API responses and CLI output.
    """
    secret = _secret_names(specs)
    return {name: SECRET_PLACEHOLDER if name in secret else value for name, value in values.items()}
