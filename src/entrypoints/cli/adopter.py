"""The orphan adopter: a detached process that follows runs whose flwd died to their end.

A short-lived CLI command (``:runs``, ``:logs``...) that finds an orphan whose container still
runs claims it and hands it here instead of following it itself: this process takes it over
from that command (``ReconcileRuns.take_over``), records its output and real end, then
removes its container and secrets directory. It is started as a fresh interpreter (no state
inherited from the command: the command's runtime client and store connection are its own).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING, Any, Mapping, Sequence

if TYPE_CHECKING:
    from flwd.ports.store import RunRecord


class ProcessHandOff:
    """Hands claimed orphans to a new detached adopter process (``python -m`` this module).

    It needs only the provider configuration and the environment (runtime sockets); the runs
    go as ids with the owner tag that holds them now, so that it takes over only runs that
    nobody took from that command meanwhile.
    """

    def __init__(self, *, config: Mapping[str, Any], env: Mapping[str, str]) -> None:
        self._config = dict(config)
        self._env = dict(env)

    def __call__(self, records: Sequence[RunRecord]) -> None:
        payload = {"config": self._config,
                   "runs": [{"run_id": r.run_id, "owner": r.owner} for r in records]}
        try:
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "flwd.entrypoints.cli.adopter"],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env=self._env, start_new_session=True, close_fds=True,
            )
            assert process.stdin is not None
            with process.stdin:
                process.stdin.write(json.dumps(payload).encode())
        except OSError:
            return  # the runs stay claimed by this command: orphans again once it exits
        process.returncode = 0  # never waited for: it outlives this command by design


def adopt(payload: Mapping[str, Any]) -> None:
    """Take over the runs in *payload* and follow them to their end."""
    from flwd.entrypoints.container import Container

    container = Container()
    container.config.from_dict(dict(payload["config"]))
    try:
        reconcile = container.reconcile_runs()
        for run in payload["runs"]:
            reconcile.take_over(str(run["run_id"]), str(run["owner"]))
        container.supervisor().shutdown(cancel=False, wait=True)
    finally:
        container.shutdown_resources()


def main() -> None:  # pragma: no cover - runs in the detached process (integration tests)
    try:
        adopt(json.loads(sys.stdin.read()))
    except BaseException:  # noqa: BLE001 - nobody reads its output; a later flwd re-adopts
        os._exit(1)
    os._exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
