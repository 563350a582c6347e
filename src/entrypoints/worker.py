"""``flwd :worker``: take runs off cluster mode's queue and execute them on this host's runtime.

Small on purpose: the run is executed by the container's ``take_queued_run`` (the same
supervisor and run use case as single-host mode), Celery is driven by
``adapters.celery_queue.run_worker``, and pluggable parts (heartbeats, a worker registry) are
the container's ``worker_hooks``, each told ``started(info, active)`` and ``stopped(info)``.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence, TextIO

from flwd.domain.errors import ConfigInvalidError, RunStoreError
from flwd.entrypoints.config import FlwdConfig
from flwd.ports.worker import WorkerInfo

_STORE_RETRY_SECONDS = 1.0  # the store is away when a message comes: it goes back, after this


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerOptions:
    queues: tuple[str, ...] = ("default",)
    concurrency: int | None = None  # default: max_concurrent_runs


def worker_options(values: Mapping[str, Any]) -> WorkerOptions:
    """``:worker``'s parsed options checked (``usage.invalid``)."""
    from flwd.domain.errors import UsageError
    from flwd.domain.spec.job import is_queue_name

    queues = tuple(dict.fromkeys(values.get("queues") or ())) or ("default",)
    for queue in queues:
        if not is_queue_name(queue):
            raise UsageError(f"--queue {queue!r} is not a queue name: 1-63 of [A-Za-z0-9._-], "
                             "starting with a letter or digit")
    text = values.get("concurrency")
    concurrency = None
    if text is not None:
        if not (str(text).isascii() and str(text).isdigit()) or not 1 <= int(text) <= 1024:
            raise UsageError(f"--concurrency must be a whole number from 1 to 1024, not {text!r}")
        concurrency = int(text)
    return WorkerOptions(queues=queues, concurrency=concurrency)


def work(config: FlwdConfig, options: WorkerOptions, err: TextIO, env: Mapping[str, str]) -> int:
    """Consume until SIGTERM/SIGINT; refuses to start (a coded error) outside cluster mode,
    without a reachable store or runtime. The first signal cancels the runs in progress (they
    still clean up and record their end), a second one kills them."""
    from dependency_injector import providers

    from flwd.adapters.celery_queue import run_worker
    from flwd.entrypoints.container import build_container
    from flwd.ports.kinds import DispatchKind

    if not config.cluster or config.queue_url is None:
        raise ConfigInvalidError("flwd :worker runs in cluster mode only: set store_url and "
                                 "queue_url (FLWD_STORE_URL, FLWD_QUEUE_URL)", field="queue_url")
    concurrency = options.concurrency or config.max_concurrent_runs
    container = build_container(replace(config, max_concurrent_runs=concurrency),
                                dispatch=DispatchKind.QUEUE)
    container.env.override(providers.Object(env))
    try:
        container.store().active()  # store.unavailable: refuse to start
        worker = _Worker(container, _worker_info(container, options.queues, concurrency), err,
                         retry_after=config.heartbeat_interval)
        try:
            return run_worker(config.queue_url, handle=worker.handle, queues=options.queues,
                              concurrency=concurrency, on_ready=worker.ready,
                              on_shutdown=worker.shutting_down)
        finally:
            worker.stopped()
    finally:
        container.shutdown_resources()


class _Worker:
    """What Celery's worker calls: each message to ``take_queued_run``, its start to the
    stop-request watch and the hooks, each stop signal to the runs in progress."""

    def __init__(self, container: Any, info: WorkerInfo, err: TextIO,
                 retry_after: float) -> None:
        self._take, self._supervisor = container.take_queued_run(), container.supervisor()
        self._stops, self._hooks = container.remote_stops(), tuple(container.worker_hooks())
        self._info, self._err, self._retry_after = info, err, retry_after

    def handle(self, run_id: str, sealed: bytes | None) -> None:
        from flwd.adapters.celery_queue import RetryLater
        from flwd.domain.run.take import MessageStillNeeded

        try:
            self._take(run_id, sealed)
        except RunStoreError as exc:  # nothing claimed yet: the message goes back
            time.sleep(_STORE_RETRY_SECONDS)
            raise RetryLater(exc.detail) from None
        except MessageStillNeeded as exc:  # looked at again once per heartbeat, off the slot
            raise RetryLater(str(exc), countdown=self._retry_after) from None

    def ready(self) -> None:
        self._stops.start()
        for hook in self._hooks:
            hook.started(self._info, self._supervisor.active_ids)
        info = self._info
        self._err.write(f"flwd: worker {info.owner} ready on queues {', '.join(info.queues)} "
                        f"(concurrency {info.concurrency}, {info.runtime})\n")
        self._err.flush()

    def shutting_down(self, kill: bool) -> None:
        threading.Thread(target=_stop_runs, args=(self._supervisor, kill), daemon=True).start()

    def stopped(self) -> None:
        self._stops.stop()
        self._supervisor.shutdown(cancel=True)
        for hook in self._hooks:
            hook.stopped(self._info)


def _worker_info(container: Any, queues: Sequence[str], concurrency: int) -> WorkerInfo:
    probe = container.runtime().probe()  # container.runtime.unavailable: refuse to start
    return WorkerInfo(owner=container.owner(), host=os.uname().nodename, queues=tuple(queues),
                      concurrency=concurrency, runtime=f"{probe.name} {probe.version}",
                      rootless=probe.rootless)


def _stop_runs(supervisor: Any, kill: bool) -> None:
    for run_id in supervisor.active_ids():
        (supervisor.kill if kill else supervisor.cancel)(run_id)
