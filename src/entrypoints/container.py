"""The dependency-injector container: the one composition root of flwd.

Its runtime selection, store and queue wiring and cluster worker liveness are declared by the
provider factories of ``container_runtime``, ``container_store`` and ``container_cluster``;
every provider is an attribute of ``Container``, which is what tests override."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from dependency_injector import containers, providers

from flwd.adapters.deferred_verifier import DeferredVerifier
from flwd.adapters.pem_keys import PemSignatureKeyReader
from flwd.adapters.system import LocalRunOwners, SystemClock, UuidRunIds
from flwd.adapters.yaml_catalog import YamlJobCatalog
from flwd.domain.model import PolicyBundle
from flwd.domain.policy.bundle import parse_policy
from flwd.domain.policy.profiles import effective_profile
from flwd.domain.policy.signatures import ImageSignatureCheck
from flwd.domain.plan.use_cases import EngineSettings, ListJobs, PlanJob
from flwd.domain.sources.jobs import SourceJobs
from flwd.domain.spec.addon import parse_addon_manifest
from flwd.entrypoints.config import FlwdConfig
from flwd.entrypoints.config_file import check_not_world_writable, read_yaml_mapping
from flwd.entrypoints.container_cluster import liveness_providers
from flwd.entrypoints.container_config import config_dict
from flwd.entrypoints.container_runtime import runtime_providers
from flwd.entrypoints.container_store import store_providers
from flwd.entrypoints.lazy_module import Lazy
from flwd.ports.kinds import DispatchKind
from flwd.ports.owner import QUEUED_OWNER


# The run side is imported when first provided, so `flwd :jobs` and `flwd :plan` never load
# the store, the secret writer, the workspace, the executor or a runtime SDK (a fifth of their
# start-up). Providers name the classes: mypy sees the modules, and at run time each is
# ``Lazy`` (tests/unit/test_container.py resolves every provider: a wrong name fails there).
# The signature verifier (requests, python-dxf, cryptography) loads on the first check.
if TYPE_CHECKING:
    from flwd.adapters import cosign_verifier, fs_secrets, fs_workspace
    from flwd.domain import sessions as console_sessions_
    from flwd.domain.run import execution, orphans, queue_dispatch, reconcile, remote_stop
    from flwd.domain.run import start, take, use_cases
    from flwd.domain.run import pending as run_pending
    from flwd.domain.run import supervisor as run_supervisor
    from flwd.domain.run.execution import QueuedRun
    from flwd.domain.sources import health as source_health
    from flwd.domain.sources import on_run as source_on_run
    from flwd.domain.sources import use_cases as source_cases
    from flwd.entrypoints.cli import adopter
    from flwd.ports.dispatch import RunDispatcher
else:
    cosign_verifier, fs_secrets, fs_workspace = (
        Lazy(f"flwd.adapters.{name}") for name in ("cosign_verifier", "fs_secrets",
                                                   "fs_workspace"))
    (execution, orphans, queue_dispatch, reconcile, remote_stop, run_pending, run_supervisor,
     start, take, use_cases) = (
        Lazy(f"flwd.domain.run.{name}") for name in (
            "execution", "orphans", "queue_dispatch", "reconcile", "remote_stop", "pending",
            "supervisor", "start", "take", "use_cases"))
    source_cases, source_health, source_on_run = (
        Lazy(f"flwd.domain.sources.{name}") for name in ("use_cases", "health", "on_run"))
    adopter = Lazy("flwd.entrypoints.cli.adopter")
    console_sessions_ = Lazy("flwd.domain.sessions")


NO_SOURCES_DETAIL = ("this server was started with --no-runtime (plan-only): adding or "
                     "refreshing a source pulls its image, which it cannot do")
NO_RUNTIME_DETAIL = ("this server was started with --no-runtime (plan-only): it cannot run jobs; "
                     "the run was validated and recorded, and ended without starting")


def load_policy(policy_file: str | None) -> PolicyBundle:
    """The bundle from *policy_file*, or the default bundle when none is configured."""
    if not policy_file:
        return parse_policy(None)
    path = Path(os.path.expanduser(policy_file))
    check_not_world_writable(path, "policy")
    # an empty policy file (truncated, all commented out) is a mistake, not "allow everything"
    return parse_policy(read_yaml_mapping(path, "policy", allow_empty=False), source=str(path),
                        keys=PemSignatureKeyReader(path.parent, str(path)))


# flwd's own settings are never handed to a job, not even under a policy that grants
# env_inheritance: among them are credentials (FLWD_TOKENS and FLWD_TOKEN grant API scopes,
# FLWD_STORE_URL may hold the database password, FLWD_SECRET_KEY opens every queued run's
# secrets). A job gets its own FLWD_* variables from the ULC environment. Nor are ARG_*: a
# host ARG_NAME would pass for an argument the caller never gave.
NOT_INHERITED_PREFIXES = ("FLWD_", "ARG_")


def inheritable_env(env: Mapping[str, str]) -> dict[str, str]:
    """What a job granted ``env_inheritance`` may see of this process's environment."""
    return {name: value for name, value in env.items()
            if not name.upper().startswith(NOT_INHERITED_PREFIXES)}


def build_detaching_dispatcher(container: Container) -> RunDispatcher[QueuedRun]:
    """``--detach``: runs execute in a forked child, on a dispatcher built afresh there."""
    from flwd.entrypoints.cli.detach import DetachingDispatcher

    return DetachingDispatcher(dispatcher=container.supervisor,
                               reset=container.reset_singletons,
                               close=container.shutdown_resources)


class Container(containers.DeclarativeContainer):
    """Wires adapters to ports and use cases. Tests override providers with fakes.

    A port served by several adapters is a ``providers.Selector`` on its kind (``ports.kinds``),
    one line per kind; ``runtime_found`` turns the ``auto`` setting into a kind and an address.
    """

    __self__ = providers.Self()
    config = providers.Configuration(strict=True)
    env = providers.Object(os.environ)
    job_env = providers.Singleton(inheritable_env, env)

    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(UuidRunIds)
    owners = providers.Singleton(LocalRunOwners, shared_store=config.store_shared,
                                 cluster=config.cluster)
    owner = providers.Callable(lambda owners: owners.me(), owners)
    catalog = providers.Singleton(
        YamlJobCatalog, roots=config.jobs_dirs, rescan_seconds=config.catalog_rescan_seconds
    )
    # the run store, the add-on sources listing beside it, and cluster mode's queue
    store, source_listing, sealer, run_queue, queue_probe = store_providers(config)
    secrets = providers.Singleton(fs_secrets.FilesystemSecretWriter)
    workspace = providers.Singleton(fs_workspace.FilesystemRunWorkspace, base_dir=config.runs_dir)
    # the runtime found, its adapter, and add-on images (pull, pin, read the manifest) on it
    runtime_found, runtime, addon_images = runtime_providers(config, env)
    bundle = providers.Singleton(load_policy, policy_file=config.policy_file)
    # cosign signatures of add-on images (SPEC section 10): check_image_signature's verifier
    # (made on the first check: a local job's run never imports it)
    signatures = providers.Singleton(
        DeferredVerifier, make=providers.Factory(cosign_verifier.CosignSignatureVerifier).provider)
    # at add and refresh: the profile of no particular run (FLWD_PROFILE, the configuration's)
    # before each add-on run: the same check under the run's own profile (SPEC section 10)
    signature_check_for = providers.Factory(partial, ImageSignatureCheck, bundle=bundle,
                                            verifier=signatures)
    signature_check = providers.Factory(
        ImageSignatureCheck, bundle=bundle, verifier=signatures,
        profile=providers.Callable(effective_profile, requested=None, env=config.env_profile,
                                   configured=config.default_profile, job=None))

    settings = providers.Singleton(
        EngineSettings,
        env_profile=config.env_profile,
        configured_profile=config.default_profile,
        bundle=bundle,
        cancel_grace=config.cancel_grace,
    )
    # --- sources (SPEC section 10)
    manifest_parser = providers.Object(parse_addon_manifest)
    source_jobs = providers.Singleton(SourceJobs, manifest_parser)
    # a plan-only server (--no-runtime) validates a source request, then refuses to pull it
    source_images = providers.Selector(
        config.dispatch,
        local=addon_images,
        queue=addon_images,  # a cluster replica adds sources with the runtime of its host
        none=providers.Singleton(source_cases.NoRuntimeImages, detail=NO_SOURCES_DETAIL),
    )
    source_deps = providers.Factory(
        source_cases.SourceDeps, store=store, images=source_images, parse=manifest_parser, clock=clock,
        bundle=bundle, check_signature=signature_check,
    )
    add_source = providers.Factory(source_cases.AddSource, deps=source_deps)
    refresh_source = providers.Factory(source_cases.RefreshSource, deps=source_deps)
    remove_source = providers.Factory(source_cases.RemoveSource, store=store)
    query_sources = providers.Factory(source_cases.QuerySources, store=store, parse=manifest_parser)
    check_sources = providers.Factory(
        source_health.CheckSources, store=store, images=addon_images, parse=manifest_parser,
        check_signature=signature_check,
    )
    list_jobs = providers.Singleton(ListJobs, catalog=catalog, sources=source_listing,
                                    addon_jobs=source_jobs)
    plan_job = providers.Factory(PlanJob, jobs=list_jobs, settings=settings)
    pending = providers.Singleton(run_pending.PendingCleanup)
    execute_run = providers.Singleton(
        execution.ExecuteRun,
        pending=pending,
        runtime=runtime.provider,
        secrets=secrets,
        workspace=workspace,
        store=store,
        clock=clock,
        bundle=bundle,
        cancel_grace=config.cancel_grace,
        host_env=job_env,
        owner=owner,
    )
    supervisor = providers.Singleton(
        run_supervisor.RunSupervisor, execute=execute_run,
        max_concurrent=config.max_concurrent_runs,
    )
    # --- cluster mode (SPEC section 11): runs recorded here wait in the queue, owned by it
    submit_owner = providers.Selector(config.dispatch, local=owner, none=owner,
                                      queue=providers.Object(QUEUED_OWNER))
    take_queued_run = providers.Factory(
        take.TakeQueuedRun, store=store, jobs=list_jobs, plan=plan_job, sealer=sealer,
        supervisor=supervisor, clock=clock, pending=pending, owner=owner)
    remote_stops = providers.Factory(remote_stop.RemoteStops, store=store, feed=store,
                                     runs=supervisor)
    # --- end of cluster mode's providers
    submit_run = providers.Factory(
        use_cases.SubmitRun, plan=plan_job, store=store, clock=clock, ids=ids, owner=submit_owner,
        pending=pending,
    )
    # The dispatch seam: StartRun hands runs to this process's supervisor, refuses them on a
    # plan-only server, or (cluster mode) enqueues them for a worker; --detach hands them to a
    # forked child.
    dispatcher = providers.Selector(
        config.dispatch,
        local=supervisor,
        none=providers.Singleton(start.NoRuntimeDispatcher, detail=NO_RUNTIME_DETAIL),
        queue=providers.Singleton(queue_dispatch.QueueDispatcher, queue=run_queue, sealer=sealer,
                                  store=store, clock=clock, owner=owner, pending=pending,
                                  waiter=store),
    )
    addon_pre_run = providers.Factory(
        source_on_run.AddonPreRun, jobs=list_jobs, plan=plan_job, store=store,
        images=source_images.provider, refresh=refresh_source.provider,
        signatures=signature_check_for,
    )
    start_run = providers.Factory(
        start.StartRun, submit=submit_run, dispatcher=dispatcher, store=store, clock=clock,
        pending=pending, pre_run=addon_pre_run,
    )
    start_detached_run = providers.Factory(
        start.StartRun, submit=submit_run, store=store, clock=clock, pending=pending,
        dispatcher=providers.Selector(  # cluster mode: enqueued, nothing to detach
            config.dispatch, queue=dispatcher,
            local=providers.Factory(build_detaching_dispatcher, container=__self__),
            none=providers.Factory(build_detaching_dispatcher, container=__self__)),
        pre_run=addon_pre_run,
    )
    query_runs = providers.Factory(use_cases.QueryRuns, store=store, pending=pending)
    reconcile_runs = providers.Factory(
        reconcile.ReconcileRuns,
        store=store,
        runtime=runtime,
        secrets=secrets,
        supervisor=supervisor,
        execute=execute_run,
        clock=clock,
        owners=owners,
        pending=pending,
    )
    # Orphans (runs whose flwd died): a server adopts them itself, a CLI command hands the
    # still-running ones to a detached adopter process.
    adopt_orphans = providers.Factory(
        orphans.AdoptOrphans, store=store, owners=owners, reconcile=reconcile_runs.provider
    )
    orphan_hand_off = providers.Factory(adopter.ProcessHandOff, config=config, env=env)
    hand_off_orphans = providers.Factory(
        orphans.AdoptOrphans, store=store, owners=owners, reconcile=reconcile_runs.provider,
        hand_off=orphan_hand_off,
    )
    cancel_run = providers.Factory(
        use_cases.CancelRun, store=store, supervisor=dispatcher, clock=clock, owners=owners,
        orphans=reconcile_runs.provider,
    )
    # The web console's sign-outs (SPEC section 12), in the store every replica shares.
    console_sessions = providers.Singleton(console_sessions_.ConsoleSessions, store=store,
                                           clock=clock)
    # Cluster mode's worker liveness (SPEC section 11): heartbeats and the lost-run sweep
    (requeue, list_workers, sweep_lost_runs, lost_run_sweeper, worker_liveness,
     worker_hooks) = liveness_providers(
        config, store=store, clock=clock, owner=owner, pending=pending, runtime=runtime,
        secrets=secrets, supervisor=supervisor, run_queue=run_queue, jobs=list_jobs)


def build_container(config: FlwdConfig, *, profile_override: str | None = None,
                    catalog_rescan_seconds: float = 0.0,
                    env: Mapping[str, str] | None = None,
                    dispatch: DispatchKind | None = None) -> Container:
    """The container for *config*. A long-lived server passes ``catalog_rescan_seconds`` so
    that the jobs roots are walked at most that often, not on every request; *env* (default
    ``os.environ``) is where the runtime is looked for and what a job may inherit;
    *dispatch* ``none`` (``:serve --no-runtime``) refuses runs once they are recorded; None
    enqueues them in cluster mode and runs them here otherwise."""
    container = Container()
    if env is not None:
        container.env.override(providers.Object(env))
    container.config.from_dict(config_dict(config, profile_override=profile_override,
                                           catalog_rescan_seconds=catalog_rescan_seconds,
                                           dispatch=dispatch))
    return container
