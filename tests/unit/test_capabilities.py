"""The Linux capability list and how names in specs and policies are checked against it."""

from __future__ import annotations

import pytest

from flwd.domain.spec.capabilities import ALL, CAPABILITIES, parse_capability


def test_capabilities_lists_the_41_linux_capabilities_when_read() -> None:
    assert len(CAPABILITIES) == len(set(CAPABILITIES)) == 41
    assert {"AUDIT_CONTROL", "NET_BIND_SERVICE", "PERFMON", "BPF", "CHECKPOINT_RESTORE"} <= set(
        CAPABILITIES)
    assert ALL not in CAPABILITIES
    assert not any(name.startswith("CAP_") for name in CAPABILITIES)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("NET_BIND_SERVICE", "NET_BIND_SERVICE"),
        ("net_bind_service", "NET_BIND_SERVICE"),
        ("CAP_NET_BIND_SERVICE", "NET_BIND_SERVICE"),
        ("cap_net_bind_service", "NET_BIND_SERVICE"),
        (" Cap_Chown ", "CHOWN"),
        ("audit_control", "AUDIT_CONTROL"),
        ("CAP_CHECKPOINT_RESTORE", "CHECKPOINT_RESTORE"),
        ("ALL", "ALL"),
        ("all", "ALL"),
    ],
)
def test_parse_capability_gives_canonical_name_when_name_is_known(raw: str, expected: str) -> None:
    assert parse_capability(raw) == expected


@pytest.mark.parametrize("name", CAPABILITIES)
def test_parse_capability_accepts_every_capability_when_spelled_any_way(name: str) -> None:
    spellings = (name, name.lower(), f"CAP_{name}", f"cap_{name.lower()}")

    assert {parse_capability(spelling) for spelling in spellings} == {name}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("NET_BIND_SERVICES",
         "'NET_BIND_SERVICES' is not a Linux capability name; did you mean 'NET_BIND_SERVICE'?"),
        ("net_bind_services",
         "'net_bind_services' is not a Linux capability name; did you mean 'NET_BIND_SERVICE'?"),
        ("CAP_NET_BIND_SERVICES",
         "'CAP_NET_BIND_SERVICES' is not a Linux capability name; "
         "did you mean 'CAP_NET_BIND_SERVICE'?"),
        ("cap_sys_admn", "'cap_sys_admn' is not a Linux capability name; did you mean 'CAP_SYS_ADMIN'?"),
        ("NET ADMIN", "'NET ADMIN' is not a Linux capability name; did you mean 'NET_ADMIN'?"),
        ("AL", "'AL' is not a Linux capability name; did you mean 'ALL'?"),
        ("FROBNICATE",
         "'FROBNICATE' is not a Linux capability name; see capabilities(7) for the names"),
        ("CAP_ALL", "'CAP_ALL' is not a capability name; write ALL (without CAP_)"),
        (1, "1 is not a capability name (expected text such as NET_ADMIN)"),
    ],
)
def test_parse_capability_raises_with_suggestion_when_name_is_unknown(raw: object, message: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_capability(raw)

    assert str(err.value) == message
