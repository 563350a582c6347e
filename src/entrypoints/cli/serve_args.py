"""``flwd :serve``'s arguments as the options the HTTP entrypoint serves with."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from flwd.domain.errors import UsageError
from flwd.domain.model import Profile
from flwd.entrypoints.cli.command_parser import parse_command
from flwd.entrypoints.cli.grammar import COMMANDS_BY_NAME
from flwd.entrypoints.http.serve import ServeOptions

SERVE = COMMANDS_BY_NAME[":serve"]


def parse_serve_args(tokens: Sequence[str], default_bind: str) -> ServeOptions:
    """*tokens* after ``:serve``; raises UsageError."""
    return serve_options(parse_command(SERVE, tokens).values, default_bind)


def serve_options(values: Mapping[str, Any], default_bind: str) -> ServeOptions:
    """The parsed ``:serve`` options checked: *default_bind* where ``--bind`` is not given."""
    bind = values.get("bind")
    host, port = parse_bind(default_bind if bind is None else bind)
    profile = values.get("profile")
    if profile is not None and profile not in {p.value for p in Profile}:
        raise UsageError(f"--profile must be one of {', '.join(p.value for p in Profile)}")
    local = bool(values.get("local"))
    if local and (bind is not None or values.get("dev") or values.get("no_runtime")):
        raise UsageError("--local serves only the unix socket in the data directory: it takes "
                         "no --bind, --dev or --no-runtime")
    return ServeOptions(host=host, port=port, dev=bool(values.get("dev")), profile=profile,
                        no_runtime=bool(values.get("no_runtime")), local=local)


def parse_bind(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[v6]:PORT`` or ``:PORT`` (loopback); raises UsageError."""
    host, sep, port_text = text.strip().rpartition(":")
    if not sep or not (port_text.isascii() and port_text.isdigit()) or int(port_text) > 65535:
        raise UsageError(f"--bind must be HOST:PORT, not {text!r}")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port_text)
