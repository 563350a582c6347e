"""``flwd :workers``: cluster mode's live workers, from the store or a server's ``/workers``."""

from __future__ import annotations

from typing import Any, Mapping, Protocol, Sequence

from flwd.entrypoints.cli.command_parser import ParsedCommand
from flwd.entrypoints.cli.exit_codes import EXIT_OK
from flwd.entrypoints.cli.render import Io, dumps


class WorkersBackend(Protocol):
    def workers(self) -> list[dict[str, Any]]: ...


def workers_command(backend: WorkersBackend, parsed: ParsedCommand, io: Io) -> int:
    print_workers(io, backend.workers(), parsed.values["json"])
    return EXIT_OK


def print_workers(io: Io, workers: Sequence[Mapping[str, Any]], as_json: bool) -> None:
    """One JSON document (``{"workers": [...]}``, as ``GET /workers``), or one line each."""
    if as_json:
        io.out.write(dumps({"workers": list(workers)}) + "\n")
        return
    if not workers:
        io.out.write("no live workers\n")
        return
    for worker in workers:
        rootless = "rootless" if worker["rootless"] else "rootful"
        runs = f"{len(worker['active_runs'])}/{worker['concurrency']} runs"
        io.out.write(
            f"{worker['worker_id']}  host={worker['host']}  queues={','.join(worker['queues'])}"
            f"  {worker['runtime']} ({rootless})  {runs}  last heartbeat "
            f"{worker['last_heartbeat']} ({worker['heartbeat_age_seconds']:.1f}s ago)\n")
