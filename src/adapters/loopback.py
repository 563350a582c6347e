"""Whether a host is this machine: the registries spoken to over plain HTTP, and the only
addresses ``flwd :serve --dev`` may bind."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """Whether *host* (a name or an address, without a port or brackets) is the loopback
    host: ``localhost``, ``127.0.0.0/8`` or ``::1``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
