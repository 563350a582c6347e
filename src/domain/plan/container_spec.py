"""Turns a plan into the runtime-neutral ContainerSpec of one run (pure)."""

from __future__ import annotations

from typing import Mapping

from flwd.domain.model import JOB_DIR, RUN_DIR, SECRETS_DIR, RunPlan
from flwd.ports.runtime import LABEL_JOB_ID, LABEL_RUN_ID, ContainerSpec, Mount


def container_name(run_id: str) -> str:
    return f"flwd-{run_id}"


def build_container_spec(
    plan: RunPlan,
    *,
    run_id: str,
    job_dir: str,
    run_dir: str,
    secrets_dir: str | None,
    host_env: Mapping[str, str] | None = None,
) -> ContainerSpec:
    """The container for *plan*: the three mounts of SPEC section 2 (no job directory for an
    add-on job, whose *job_dir* is empty), /run/secrets only when there are secrets, the host
    environment only when policy granted env inheritance."""
    settings = plan.settings
    mounts = [Mount(source=run_dir, target=RUN_DIR, read_only=False)]
    if job_dir:  # an add-on job has none: its files are in its image
        mounts.insert(0, Mount(source=job_dir, target=JOB_DIR, read_only=True))
    if secrets_dir is not None and plan.secret_files:
        mounts.append(Mount(source=secrets_dir, target=SECRETS_DIR, read_only=True))
    env: dict[str, str] = {}
    if settings.env_inheritance and host_env:
        env.update(host_env)
    env.update(plan.env)  # FLWD_RUN_ID among them: the run's plan is made with its run id
    resources = settings.resources
    return ContainerSpec(
        name=container_name(run_id),
        image=plan.image,
        command=plan.command,
        env=env,
        labels={LABEL_RUN_ID: run_id, LABEL_JOB_ID: plan.job_id},
        mounts=tuple(mounts),
        workdir=plan.workdir,
        read_only_rootfs=settings.read_only_rootfs,
        tmpfs=dict(settings.tmpfs),
        cap_drop=settings.cap_drop,
        cap_add=settings.cap_add,
        no_new_privileges=settings.no_new_privileges,
        network=settings.network,
        pids_limit=resources.pids,
        memory_bytes=resources.memory_bytes,
        nano_cpus=resources.cpu_millis * 1_000_000 if resources.cpu_millis else None,
        init=settings.init,
        user=settings.user,
    )
