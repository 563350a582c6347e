"""``flwd :serve``'s arguments: --bind HOST:PORT, --dev, --profile P, --no-runtime."""

from __future__ import annotations

import pytest

from flwd.domain.errors import UsageError
from flwd.entrypoints.cli.serve_args import parse_bind, parse_serve_args


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:8080", ("127.0.0.1", 8080)), ("[::1]:9", ("::1", 9)), (":7000", ("127.0.0.1", 7000)),
    ("0.0.0.0:0", ("0.0.0.0", 0)),
])
def test_parse_bind_reads_host_and_port_when_well_formed(text: str, expected: tuple[str, int]) -> None:
    assert parse_bind(text) == expected


@pytest.mark.parametrize("text", ["8080", "host:", "host:http", "h:70000", "h:\u00b2", "h:\u0663"])
def test_parse_bind_raises_usage_error_when_malformed(text: str) -> None:
    with pytest.raises(UsageError):
        parse_bind(text)


def test_parse_serve_args_reads_every_option_when_given() -> None:
    options = parse_serve_args(["--bind=[::1]:9000", "--dev", "--profile", "permissive",
                                "--no-runtime"], "127.0.0.1:8080")

    assert (options.host, options.port, options.dev, options.profile, options.no_runtime) == (
        "::1", 9000, True, "permissive", True)


@pytest.mark.parametrize("argv", [["--profile", "lax"], ["--bogus"], ["--bind"], ["--bind", ""],
                                  ["--bind", ":1", "--bind", ":2"]])
def test_parse_serve_args_raises_usage_error_when_option_invalid(argv: list[str]) -> None:
    with pytest.raises(UsageError):
        parse_serve_args(argv, "127.0.0.1:8080")


def test_parse_serve_args_listens_on_the_configured_address_when_bind_is_not_given() -> None:
    options = parse_serve_args(["--dev"], "0.0.0.0:9090")

    assert (options.host, options.port, options.dev, options.no_runtime) == ("0.0.0.0", 9090, True,
                                                                           False)
