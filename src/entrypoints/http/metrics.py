"""Prometheus text exposition of the server: runs by state, durations, denials, HTTP requests."""

from __future__ import annotations

import bisect
import threading
import time
from collections import Counter
from typing import Any, Mapping

from flwd.domain.run import events as ev
from flwd.domain.model import RunStatus
from flwd.ports.store import EventRecord, RunStore

CONTENT_TYPE = "text/plain; version=0.0.4"
RUN_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
PULL_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class Histogram:
    """A cumulative-bucket histogram keyed by one label value."""

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts: dict[str, list[int]] = {}
        self.sums: dict[str, float] = {}

    def observe(self, label: str, value: float) -> None:
        counts = self.counts.setdefault(label, [0] * (len(self.buckets) + 1))
        counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sums[label] = self.sums.get(label, 0.0) + value

    def lines(self, name: str, label_name: str) -> list[str]:
        out = []
        for label, counts in sorted(self.counts.items()):
            running = 0
            for bound, count in zip((*map(_num, self.buckets), "+Inf"), counts):
                running += count
                out.append(f'{name}_bucket{{{label_name}="{_esc(label)}",le="{bound}"}} {running}')
            out.append(f'{name}_sum{{{label_name}="{_esc(label)}"}} {_num(self.sums[label])}')
            out.append(f'{name}_count{{{label_name}="{_esc(label)}"}} {running}')
        return out


class Metrics:
    """Thread-safe counters fed by run events (as an ``EventListener``) and by HTTP responses."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._http: Counter[tuple[str, str, int]] = Counter()
        self._denials: Counter[str] = Counter()
        self._runs = Histogram(RUN_BUCKETS)
        self._pulls = Histogram(PULL_BUCKETS)
        self._pull_started: dict[str, float] = {}

    def __call__(self, event: EventRecord) -> None:
        data = event.data
        with self._lock:
            if event.type == ev.RUN_FINISHED:
                self._pull_started.pop(event.run_id, None)
                seconds = float(data.get("duration_ms") or 0) / 1000
                self._runs.observe(str(data.get("status", "unknown")), seconds)
            elif event.type == ev.IMAGE_PULL and data.get("status") == "checking":
                self._pull_started[event.run_id] = time.monotonic()
            elif event.type == ev.IMAGE_PULL and data.get("status") == "ready":
                started = self._pull_started.pop(event.run_id, None)
                if started is not None:
                    label = "pulled" if data.get("pulled") else "present"
                    self._pulls.observe(label, time.monotonic() - started)
            elif event.type == ev.POLICY_DECISION and data.get("decision") == "deny":
                self._denials[str(data.get("code"))] += 1

    def count_denial(self, code: str) -> None:
        with self._lock:
            self._denials[code] += 1

    def observe_http(self, method: str, route: str, status: int) -> None:
        with self._lock:
            self._http[(method, route, status)] += 1

    def render(self, runs_by_state: Mapping[str, int]) -> str:
        lines = ["# HELP flwd_runs Runs in the store by state.", "# TYPE flwd_runs gauge"]
        lines += [f'flwd_runs{{state="{s}"}} {runs_by_state.get(s, 0)}' for s in _states()]
        with self._lock:
            lines += ["# HELP flwd_run_duration_seconds Duration of runs executed by this server.",
                      "# TYPE flwd_run_duration_seconds histogram",
                      *self._runs.lines("flwd_run_duration_seconds", "status"),
                      "# HELP flwd_image_pull_duration_seconds Time to make a run's image present.",
                      "# TYPE flwd_image_pull_duration_seconds histogram",
                      *self._pulls.lines("flwd_image_pull_duration_seconds", "result"),
                      "# HELP flwd_policy_denials_total Runs denied by policy, by deny code.",
                      "# TYPE flwd_policy_denials_total counter"]
            lines += [f'flwd_policy_denials_total{{code="{_esc(c)}"}} {n}'
                      for c, n in sorted(self._denials.items())]
            lines += ["# HELP flwd_http_requests_total HTTP requests by route and status.",
                      "# TYPE flwd_http_requests_total counter"]
            lines += [f'flwd_http_requests_total{{method="{_esc(m)}",route="{_esc(r)}",'
                      f'status="{s}"}} {n}' for (m, r, s), n in sorted(self._http.items())]
        return "\n".join(lines) + "\n"


def count_runs_by_state(store: RunStore) -> dict[str, int]:
    """Runs per state, as the store counts them."""
    return dict(store.count_by_status())


async def record_response(message: Any, scope: Any) -> None:
    """Litestar ``before_send`` hook: count every response, unmatched routes included."""
    if message.get("type") != "http.response.start":
        return
    metrics: Metrics | None = getattr(scope["app"].state, "metrics", None)
    if metrics is not None:
        route = scope.get("path_template") or "<unmatched>"
        metrics.observe_http(str(scope.get("method", "")), route, int(message["status"]))


def _states() -> tuple[str, ...]:
    return tuple(status.value for status in RunStatus)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
