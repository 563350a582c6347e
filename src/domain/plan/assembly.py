"""Plan assembly: a checked job request becomes a secret-free RunPlan plus what running it needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Mapping

from flwd.domain.args.ulc import public_args, ulc_environment
from flwd.domain.errors import ArgsInvalidError, SpecInvalidError
from flwd.domain.spec.images import parse_image_ref
from flwd.domain.model import (
    JOB_DIR,
    RUN_DIR,
    SECRETS_DIR,
    Decision,
    ImageRef,
    JobSpec,
    MountSpec,
    PolicyBundle,
    Profile,
    RunPlan,
)
from flwd.domain.policy.profiles import decide
from flwd.domain.spec.quantity import format_cpu, format_memory
from flwd.domain.args.redact import Redactor
from flwd.domain.plan.secrets import plan_secrets
from flwd.domain.args.ulc import oversize_problems
from flwd.ports.secrets import SecretFile

_BASE_MOUNTS = (
    MountSpec(source="job", target=JOB_DIR, read_only=True),
    MountSpec(source="run", target=RUN_DIR, read_only=False),
)
_SECRET_MOUNTS = _BASE_MOUNTS + (MountSpec(source="secrets", target=SECRETS_DIR, read_only=True),)


@dataclass(frozen=True, slots=True, kw_only=True)
class PreparedRun:
    """A plan plus what executing it needs. Only ``values`` and ``secrets`` hold secret
    values, and neither shows in ``repr``; ``plan`` holds none."""

    plan: RunPlan
    values: Mapping[str, object] = field(repr=False)
    secrets: tuple[SecretFile, ...] = field(repr=False)
    redactor: Redactor
    image_ref: ImageRef


@lru_cache(maxsize=512)
def _image_ref(text: str) -> ImageRef:
    return parse_image_ref(text)


def _parse_image(job: JobSpec) -> ImageRef:
    try:
        return _image_ref(job.image)
    except SpecInvalidError as exc:
        raise SpecInvalidError(f"{job.spec_path}: image: {exc.detail}",
                               file=job.spec_path, field="image") from exc


def prepare_run(
    job: JobSpec,
    values: Mapping[str, object],
    *,
    profile: Profile,
    profile_decision: Decision,
    bundle: PolicyBundle,
    run_id: str = "<run_id>",
) -> PreparedRun:
    """Assemble the plan for *job* with checked *values* (from ``check_args``).

    The plan's env is the job's ``env`` overlaid by the ULC environment (ULC names win);
    its args show secrets as ``<secret>``; its secret files are names only; the
    ``/run/secrets`` mount appears only when there are secret files; its decisions are
    *profile_decision* followed by ``decide``'s. Denials do not raise here: a plan shows
    them, and the run use case calls ``raise_for_denials``. An image reference that breaks
    the grammar raises ``SpecInvalidError`` (``spec.invalid``, field ``image``); arguments
    too long for the container's environment raise ``ArgsInvalidError`` (code ``range``).
    """
    image_ref = _parse_image(job)
    settings, decisions = decide(job, profile, bundle, image_ref)
    specs = job.args
    env = dict(job.env)
    env.update(ulc_environment(specs, values, run_id=run_id, job_id=job.id))
    oversize = oversize_problems(specs, env)
    if oversize:
        raise ArgsInvalidError(oversize, job=job.id)
    secrets = plan_secrets(job, values)
    command = job.command
    if command is None and job.script:
        command = ("/bin/sh", f"{JOB_DIR}/{job.script}")
    plan = RunPlan(
        job_id=job.id,
        image=str(image_ref),
        command=command,
        profile=profile,
        settings=settings,
        env=env,
        args=public_args(specs, values),
        secret_files=tuple(f.name for f in secrets),
        mounts=_mounts(job, secrets=bool(secrets)),
        decisions=(profile_decision, *decisions),
        pull_policy=job.container.pull_policy,
        timeout_seconds=job.timeout_seconds,
        queue=job.queue,
        origin=job.origin,
    )
    redactor = Redactor([f.value.decode("utf-8") for f in secrets]) if secrets else _NO_SECRETS
    return PreparedRun(plan=plan, values=values, secrets=secrets, redactor=redactor,
                       image_ref=image_ref)


_NO_SECRETS = Redactor()


def _mounts(job: JobSpec, *, secrets: bool) -> tuple[MountSpec, ...]:
    """Section 2's mounts; an add-on job's files are in its image, so it has no job
    directory and nothing is mounted at /flwd/job (SPEC section 10)."""
    mounts: tuple[MountSpec, ...] = _SECRET_MOUNTS if secrets else _BASE_MOUNTS
    if not job.directory:
        mounts = tuple(m for m in mounts if m.source != "job")
    return mounts


def plan_as_dict(plan: RunPlan) -> dict[str, Any]:
    """The JSON-ready rendering of *plan* used by ``flwd :plan --json`` and ``POST /plans``.

    Memory as ``256Mi``, CPU as ``500m``/``2``, env sorted by name, decisions as dicts,
    ``allowed`` false when any decision denies. Holds no secret value.
    """
    settings = plan.settings
    res = settings.resources
    return {
        "job_id": plan.job_id,
        "image": plan.image,
        "command": list(plan.command) if plan.command is not None else None,
        "profile": plan.profile.value,
        "allowed": not plan.denied,
        "settings": {
            "read_only_rootfs": settings.read_only_rootfs,
            "cap_drop": list(settings.cap_drop),
            "cap_add": list(settings.cap_add),
            "no_new_privileges": settings.no_new_privileges,
            "network": settings.network,
            "resources": {
                "cpu": format_cpu(res.cpu_millis) if res.cpu_millis is not None else None,
                "memory": format_memory(res.memory_bytes) if res.memory_bytes is not None else None,
                "pids": res.pids,
            },
            "tmpfs": dict(settings.tmpfs),
            "init": settings.init,
            "env_inheritance": settings.env_inheritance,
            "user": settings.user,
        },
        "env": dict(sorted(plan.env.items())),
        "args": dict(plan.args),
        "secret_files": list(plan.secret_files),
        "mounts": [
            {"source": m.source, "target": m.target, "read_only": m.read_only} for m in plan.mounts
        ],
        "workdir": plan.workdir,
        "decisions": [d.as_dict() for d in plan.decisions],
        "pull_policy": plan.pull_policy.value,
        "timeout_seconds": plan.timeout_seconds,
        "queue": plan.queue,
        "origin": plan.origin.as_dict() if plan.origin is not None else None,
    }
