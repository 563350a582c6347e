"""The Linux capability names jobs and policies may use, so a typo fails at load, not at create."""

from __future__ import annotations

from flwd.domain.suggest import did_you_mean

ALL = "ALL"
"""Every capability, as ``--cap-add ALL`` means to Docker and Podman."""

# capabilities(7) in kernel bit order, CAP_CHOWN (0) .. CAP_CHECKPOINT_RESTORE (40, Linux 5.9)
CAPABILITIES: tuple[str, ...] = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
    "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN",
    "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE",
    "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME",
    "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ",
    "PERFMON", "BPF", "CHECKPOINT_RESTORE",
)
_KNOWN = frozenset(CAPABILITIES)
_PREFIX = "CAP_"


def normalise_cap(name: str) -> str:
    """``cap_net_bind_service`` -> ``NET_BIND_SERVICE``: the form policies and specs compare."""
    upper = name.strip().upper()
    return upper.removeprefix(_PREFIX)


def parse_capability(raw: object) -> str:
    """The canonical name (upper-case, no ``CAP_``) of the capability *raw* names.

    Accepts the 41 capabilities of capabilities(7), with or without ``CAP_``, in any case and
    with surrounding blanks, and ``ALL`` (every capability; like Docker and Podman, not
    ``CAP_ALL``). Raises ``ValueError`` whose message quotes *raw* and suggests the closest
    known name; callers turn it into their coded error (``spec.invalid``, ``config.invalid``).
    """
    if not isinstance(raw, str):
        raise ValueError(f"{raw!r} is not a capability name (expected text such as NET_ADMIN)")
    upper = raw.strip().upper()
    name = normalise_cap(raw)
    if name in _KNOWN or upper == ALL:
        return name
    if name == ALL:
        raise ValueError(f"{raw!r} is not a capability name; write ALL (without CAP_)")
    prefixed = upper.startswith(_PREFIX)
    choices = [_PREFIX + cap for cap in CAPABILITIES] if prefixed else [*CAPABILITIES, ALL]
    hint = did_you_mean(upper, choices) or "; see capabilities(7) for the names"
    raise ValueError(f"{raw!r} is not a Linux capability name{hint}")
