"""The container's store and queue wiring: one run store adapter per kind, the add-on job
listing beside it, and cluster mode's queue, its probe and the sealer of the secrets it
carries (SPEC section 11)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dependency_injector import providers

from flwd.entrypoints.lazy_module import Lazy

# imported when first provided: `flwd :plan` never loads a store, `flwd :jobs` only the
# read-only SQLite listing, and neither a broker client
if TYPE_CHECKING:
    from flwd.adapters import celery_queue, kombu_probe, pg_store, secret_sealer
    from flwd.adapters import sqlite_sources, sqlite_store

    # store (also the event feed and the worker registry), source_listing (the add-on sources
    # `flwd :jobs` lists), sealer, run_queue, queue_probe; a plain tuple, as a NamedTuple's
    # class would cost every start-up
    StoreProviders = tuple[providers.Selector[Any], providers.Selector[Any],
                           providers.Singleton[secret_sealer.AesGcmSecretSealer],
                           providers.Singleton[celery_queue.CeleryRunQueue],
                           providers.Singleton[kombu_probe.KombuQueueProbe]]
else:
    celery_queue, kombu_probe, pg_store, secret_sealer, sqlite_sources, sqlite_store = (
        Lazy(f"flwd.adapters.{name}") for name in (
            "celery_queue", "kombu_probe", "pg_store", "secret_sealer", "sqlite_sources",
            "sqlite_store"))


def store_providers(config: providers.Configuration) -> StoreProviders:
    """The store of ``config.store`` (one selector line per kind) and the queue of
    ``config.queue_url``, each connecting on first use: ``(store, source_listing, sealer,
    run_queue, queue_probe)``."""
    store = providers.Selector(
        config.store,
        sqlite=providers.Singleton(sqlite_store.SqliteRunStore, path=config.db_path),
        postgresql=providers.Singleton(pg_store.PostgresRunStore, url=config.store_url),
    )
    # SPEC section 10: add-on jobs are listed from the store's records alone; `flwd :jobs`
    # reads the SQLite file read-only (when there is one) without the store adapter
    source_listing = providers.Selector(
        config.store,
        sqlite=providers.Singleton(sqlite_sources.SqliteSourceListing, path=config.db_path),
        postgresql=store,
    )
    # queue messages carry secrets sealed by this; without a configured key it is still
    # provided, and refuses each call with secret.key.missing
    sealer = providers.Singleton(secret_sealer.AesGcmSecretSealer, key=config.secret_key)
    run_queue = providers.Singleton(celery_queue.CeleryRunQueue, url=config.queue_url)
    queue_probe = providers.Singleton(kombu_probe.KombuQueueProbe, url=config.queue_url)
    return store, source_listing, sealer, run_queue, queue_probe
