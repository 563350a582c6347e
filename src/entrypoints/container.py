"""The dependency-injector container: the one composition root of flwd."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from dependency_injector import containers, providers

from flwd.adapters.system import LocalRunOwners, SystemClock, UuidRunIds
from flwd.adapters.yaml_catalog import YamlJobCatalog
from flwd.domain.model import PolicyBundle
from flwd.domain.policy.bundle import parse_policy
from flwd.domain.plan.use_cases import EngineSettings, ListJobs, PlanJob
from flwd.entrypoints.config import FlwdConfig, read_yaml_mapping

if TYPE_CHECKING:
    from flwd.domain.run.execution import ExecuteRun, QueuedRun
    from flwd.domain.run.reconcile import ReconcileRuns
    from flwd.domain.run.use_cases import CancelRun, QueryRuns, SubmitRun
    from flwd.domain.run.start import StartRun
    from flwd.domain.run.supervisor import RunSupervisor
    from flwd.ports.dispatch import RunDispatcher
    from flwd.ports.runtime import ContainerRuntime
    from flwd.ports.secrets import SecretWriter
    from flwd.ports.store import RunStore
    from flwd.ports.workspace import RunWorkspace

def load_policy(policy_file: str | None) -> PolicyBundle:
    """The bundle from *policy_file*, or the default bundle when none is configured."""
    if not policy_file:
        return parse_policy(None)
    path = Path(os.path.expanduser(policy_file))
    return parse_policy(read_yaml_mapping(path, "policy"), source=str(path))


def runtime_resource(kind: str, env: Mapping[str, str]) -> Iterator[ContainerRuntime]:
    """Found on first use (SDKs are imported lazily: plans never need them), closed by
    ``container.shutdown_resources()`` together with any private Podman service."""
    from flwd.adapters.runtime_detect import detect_runtime

    runtime = detect_runtime(kind, env=env)
    try:
        yield runtime
    finally:
        runtime.close()


# The run side is imported when first provided, so `flwd :jobs` and `flwd :plan` never load
# the store, the secret writer, the workspace or the executor (a fifth of their start-up).

def build_store(path: str) -> RunStore:
    from flwd.adapters.sqlite_store import SqliteRunStore

    return SqliteRunStore(path=path)


def build_secrets() -> SecretWriter:
    from flwd.adapters.fs_secrets import FilesystemSecretWriter

    return FilesystemSecretWriter()


def build_workspace(base_dir: str) -> RunWorkspace:
    from flwd.adapters.fs_workspace import FilesystemRunWorkspace

    return FilesystemRunWorkspace(base_dir=base_dir)


def build_execute_run(**deps: Any) -> ExecuteRun:
    from flwd.domain.run.execution import ExecuteRun

    return ExecuteRun(**deps)


def build_supervisor(**deps: Any) -> RunSupervisor:
    from flwd.domain.run.supervisor import RunSupervisor

    return RunSupervisor(**deps)


def build_submit_run(**deps: Any) -> SubmitRun:
    from flwd.domain.run.use_cases import SubmitRun

    return SubmitRun(**deps)


def build_cancel_run(**deps: Any) -> CancelRun:
    from flwd.domain.run.use_cases import CancelRun

    return CancelRun(**deps)


def build_query_runs(**deps: Any) -> QueryRuns:
    from flwd.domain.run.use_cases import QueryRuns

    return QueryRuns(**deps)


def build_start_run(*, submit: SubmitRun, dispatcher: RunDispatcher[QueuedRun],
                    store: RunStore) -> StartRun:
    from flwd.domain.run.start import StartRun

    return StartRun(submit=submit, dispatcher=dispatcher, store=store)


def build_detaching_dispatcher(container: Container) -> RunDispatcher[QueuedRun]:
    """``--detach``: runs execute in a forked child, on a dispatcher built afresh there."""
    from flwd.entrypoints.cli.detach import DetachingDispatcher

    return DetachingDispatcher(dispatcher=container.supervisor,
                               reset=container.reset_singletons,
                               close=container.shutdown_resources)


def build_reconcile_runs(**deps: Any) -> ReconcileRuns:
    from flwd.domain.run.reconcile import ReconcileRuns

    return ReconcileRuns(**deps)


class Container(containers.DeclarativeContainer):
    """Wires adapters to ports and use cases. Tests override providers with fakes."""

    __self__ = providers.Self()
    config = providers.Configuration(strict=True)
    env = providers.Object(os.environ)

    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(UuidRunIds)
    owners = providers.Singleton(LocalRunOwners)
    owner = providers.Callable(lambda owners: owners.me(), owners)
    catalog = providers.Singleton(
        YamlJobCatalog, roots=config.jobs_dirs, rescan_seconds=config.catalog_rescan_seconds
    )
    store = providers.Singleton(build_store, path=config.db_path)
    secrets = providers.Singleton(build_secrets)
    workspace = providers.Singleton(build_workspace, base_dir=config.runs_dir)
    runtime = providers.Resource(runtime_resource, kind=config.runtime, env=env)
    bundle = providers.Singleton(load_policy, policy_file=config.policy_file)

    settings = providers.Singleton(
        EngineSettings,
        env_profile=config.env_profile,
        configured_profile=config.default_profile,
        bundle=bundle,
        cancel_grace=config.cancel_grace,
    )
    list_jobs = providers.Singleton(ListJobs, catalog=catalog)
    plan_job = providers.Factory(PlanJob, jobs=list_jobs, settings=settings)
    execute_run = providers.Singleton(
        build_execute_run,
        runtime=runtime.provider,
        secrets=secrets,
        workspace=workspace,
        store=store,
        clock=clock,
        bundle=bundle,
        cancel_grace=config.cancel_grace,
        host_env=env,
        owner=owner,
    )
    supervisor = providers.Singleton(
        build_supervisor, execute=execute_run, max_concurrent=config.max_concurrent_runs
    )
    submit_run = providers.Factory(
        build_submit_run, plan=plan_job, store=store, clock=clock, ids=ids, owner=owner
    )
    # The dispatch seam: StartRun hands runs to this process's supervisor (cluster mode can
    # select a dispatcher that enqueues them instead); --detach to a forked child.
    start_run = providers.Factory(
        build_start_run, submit=submit_run, dispatcher=supervisor, store=store
    )
    start_detached_run = providers.Factory(
        build_start_run, submit=submit_run, store=store,
        dispatcher=providers.Factory(build_detaching_dispatcher, container=__self__),
    )
    query_runs = providers.Factory(build_query_runs, store=store)
    reconcile_runs = providers.Factory(
        build_reconcile_runs,
        store=store,
        runtime=runtime,
        secrets=secrets,
        supervisor=supervisor,
        execute=execute_run,
        clock=clock,
        owners=owners,
    )
    cancel_run = providers.Factory(
        build_cancel_run, store=store, supervisor=supervisor, clock=clock, owners=owners,
        orphans=reconcile_runs.provider,
    )


def config_dict(config: FlwdConfig, *, profile_override: str | None = None,
                catalog_rescan_seconds: float = 0.0) -> dict[str, Any]:
    """The flat provider configuration for *config* (every key present: strict mode)."""
    data = config.data_path
    return {
        "jobs_dirs": [str(Path(os.path.expanduser(d))) for d in config.jobs_dirs],
        "data_dir": str(data),
        "db_path": str(data / "flwd.db"),
        "runs_dir": str(data / "runs"),
        "runtime": config.runtime,
        "env_profile": config.env_profile,
        "default_profile": profile_override or config.default_profile,
        "policy_file": config.policy_file,
        "cancel_grace": config.cancel_grace,
        "max_concurrent_runs": config.max_concurrent_runs,
        "catalog_rescan_seconds": catalog_rescan_seconds,
    }


def build_container(config: FlwdConfig, *, profile_override: str | None = None,
                    catalog_rescan_seconds: float = 0.0) -> Container:
    """The container for *config*. A long-lived server passes ``catalog_rescan_seconds`` so
    that the jobs roots are walked at most that often, not on every request."""
    container = Container()
    container.config.from_dict(config_dict(config, profile_override=profile_override,
                                           catalog_rescan_seconds=catalog_rescan_seconds))
    return container
