"""The one loopback rule: plain-HTTP registries and where ``:serve --dev`` may bind."""

from __future__ import annotations

import pytest

from flwd.adapters.loopback import is_loopback


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.9.9.9", True), ("::1", True), ("localhost", True),
    ("0.0.0.0", False), ("10.0.0.1", False), ("::", False), ("example.org", False),
    ("localhost:5000", False),  # a port is the caller's to strip (cosign_verifier does)
])
def test_is_loopback_accepts_only_loopback_hosts_when_given_without_a_port(
        host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
