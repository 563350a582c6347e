"""Resource limits of a run: a job's requests judged against the policy's ceilings (pure)."""

from __future__ import annotations

from flwd.domain.model import DEFAULT_PIDS, Decision, Profile, Resources, Verdict
from flwd.domain.spec.quantity import format_cpu, format_memory

_SUBJECT = "container.resources"


def _show(kind: str, value: int) -> str:
    if kind == "memory":
        return format_memory(value)
    if kind == "cpu":
        return format_cpu(value)
    return str(value)


def limits_text(resources: Resources) -> str:
    """``pids=256, memory=256Mi, cpu=500m`` for the limits that are set ('' when none)."""
    parts = []
    if resources.pids is not None:
        parts.append(f"pids={resources.pids}")
    if resources.memory_bytes is not None:
        parts.append(f"memory={format_memory(resources.memory_bytes)}")
    if resources.cpu_millis is not None:
        parts.append(f"cpu={format_cpu(resources.cpu_millis)}")
    return ", ".join(parts)


def _unrequested(kind: str, ceiling: int | None) -> int | None:
    if kind == "pids":
        return DEFAULT_PIDS if ceiling is None else min(DEFAULT_PIDS, ceiling)
    return ceiling


def judge_resources(
    asked: Resources, ceilings: Resources, profile: Profile
) -> tuple[Resources, Decision]:
    """The limits a run gets, and its ``container.resources`` decision.

    Per resource: nothing requested -> the ceiling (pids: 256, or the ceiling if lower);
    a request at or below the ceiling (or with no ceiling) -> the request; above it ->
    deny ``policy.ceiling.exceeded`` and keep the ceiling, except under the ``disabled``
    profile, which grants the request with a ``warn`` of the same code. Nothing
    requested at all gives ``policy.default``, requests within gives ``policy.ceiling.within``.
    """
    granted: dict[str, int | None] = {}
    exceeded: list[str] = []
    requested = False
    for kind, want, ceiling in (
        ("pids", asked.pids, ceilings.pids),
        ("memory", asked.memory_bytes, ceilings.memory_bytes),
        ("cpu", asked.cpu_millis, ceilings.cpu_millis),
    ):
        if want is None:
            granted[kind] = _unrequested(kind, ceiling)
            continue
        requested = True
        if ceiling is not None and want > ceiling:
            exceeded.append(f"{kind}={_show(kind, want)} exceeds the ceiling {_show(kind, ceiling)}")
            granted[kind] = want if profile is Profile.DISABLED else ceiling
        else:
            granted[kind] = want
    resources = Resources(
        pids=granted["pids"], memory_bytes=granted["memory"], cpu_millis=granted["cpu"]
    )
    limits = limits_text(resources) or "no limits"
    if exceeded:
        disabled = profile is Profile.DISABLED
        reason = "; ".join(exceeded) + (
            " (granted unchecked: the profile is disabled)" if disabled else ""
        )
        verdict = Verdict.WARN if disabled else Verdict.DENY
        return resources, Decision(subject=_SUBJECT, decision=verdict,
                                   code="policy.ceiling.exceeded", reason=reason)
    if requested:
        return resources, Decision(subject=_SUBJECT, decision=Verdict.ALLOW,
                                   code="policy.ceiling.within",
                                   reason=f"{limits}: requests within the policy's ceilings")
    return resources, Decision(subject=_SUBJECT, decision=Verdict.ALLOW, code="policy.default",
                               reason=f"{limits}: the default limits and the policy's ceilings")
