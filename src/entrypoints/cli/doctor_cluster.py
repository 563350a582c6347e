"""``flwd :doctor``'s checks of cluster mode (SPEC section 11): the run store, the queue and
the workers. Each is ``{check, ok, detail}``; a failing one makes ``:doctor`` exit 125."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from flwd.domain.errors import FlwdError
from flwd.entrypoints.config import FlwdConfig

if TYPE_CHECKING:
    from flwd.entrypoints.container import Container

SINGLE_HOST = "not used (single-host mode: no queue_url)"


def cluster_checks(config: FlwdConfig, container: Container) -> list[dict[str, Any]]:
    queue_url = config.queue_url
    checks = [_check("store", lambda: _store(config, container))]
    if not queue_url:
        checks += [{"check": "queue", "ok": True, "detail": SINGLE_HOST},
                   {"check": "workers", "ok": True, "detail": SINGLE_HOST}]
        return checks
    checks.append(_check("queue", lambda: _queue(container)))
    checks.append(_check("workers", lambda: _workers(container)))
    return checks


def _check(name: str, probe: Callable[[], str]) -> dict[str, Any]:
    try:
        return {"check": name, "ok": True, "detail": probe()}
    except FlwdError as exc:
        return {"check": name, "ok": False, "detail": f"{exc.code}: {exc.detail}"}
    except _CheckFailed as failed:
        return {"check": name, "ok": False, "detail": str(failed)}


class _CheckFailed(Exception):
    """A check that fails without an error of flwd's (no worker is live)."""


def _store(config: FlwdConfig, container: Container) -> str:
    if config.store_url:
        from flwd.adapters.pg_url import redact

        where = f"postgresql at {redact(config.store_url)}"
    else:
        path = config.data_path / "flwd.db"
        if not path.exists():  # :doctor creates nothing
            return f"sqlite at {path}: not created yet (the first run creates it)"
        where = f"sqlite at {path}"
    counts = container.store().count_by_status()
    return f"{where}: answers, {sum(counts.values())} runs"


def _queue(container: Container) -> str:
    status = container.queue_probe().probe(["default"])
    depth = status.depths.get("default")
    return f"{status.broker}: answers" + ("" if depth is None else f", {depth} runs waiting in default")


def _workers(container: Container) -> str:
    live = container.list_workers().live()
    if not live:
        raise _CheckFailed("no live worker: queued runs wait until a `flwd :worker` starts "
                                "(or heartbeats again)")
    names = ", ".join(f"{w.beat.worker_id} ({','.join(w.beat.queues)})" for w in live)
    return f"{len(live)} live: {names}"
