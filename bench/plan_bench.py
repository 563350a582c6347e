"""In-process plan assembly rate for a job with 10 arguments (target: over 20,000 plans/s).

Prints figures only; run with `.venv/bin/python bench/plan_bench.py`.
"""

from __future__ import annotations

import statistics
import time

from flwd.domain.args.contract import check_args
from flwd.domain.model import ArgSpec, ArgType, JobSpec, PolicyBundle
from flwd.domain.plan.assembly import prepare_run
from flwd.domain.policy.profiles import resolve_profile


def main() -> None:
    specs = tuple(ArgSpec(name=f"a{i}", type=ArgType.STRING, secret=(i == 0)) for i in range(10))
    job = JobSpec(id="bench", directory="/tmp", spec_path="/tmp/job.yaml", image="alpine:3.20",
                  command=("/bin/true",), args=specs)
    raw = {f"a{i}": f"value-{i}" for i in range(10)}
    bundle = PolicyBundle()
    rates, full_rates = [], []
    for _ in range(5):
        count = 20_000
        profile, decision = resolve_profile(requested=None, env=None, configured=None,
                                            job=None, bundle=bundle)
        values = check_args(specs, raw, from_text=False)
        start = time.perf_counter()
        for _ in range(count):
            prepare_run(job, values, profile=profile, profile_decision=decision, bundle=bundle)
        rates.append(count / (time.perf_counter() - start))
        start = time.perf_counter()
        for _ in range(count):
            values = check_args(specs, raw, from_text=False)
            profile, decision = resolve_profile(requested=None, env=None, configured=None,
                                                job=None, bundle=bundle)
            prepare_run(job, values, profile=profile, profile_decision=decision, bundle=bundle)
        full_rates.append(count / (time.perf_counter() - start))
    print(f"prepare_run, 10 args:                   median {statistics.median(rates):,.0f} plans/s "
          f"(best {max(rates):,.0f})")
    print(f"check_args + profile + prepare_run:     median {statistics.median(full_rates):,.0f} "
          f"plans/s (best {max(full_rates):,.0f})")
    print("target: over 20,000 plans/s")
    _pattern_bench()


def _pattern_bench() -> None:
    """Argument checking when every argument has a ``pattern`` (each value is matched)."""
    specs = tuple(ArgSpec(name=f"p{i}", type=ArgType.STRING, pattern=r"^[a-z][a-z0-9-]{0,30}$")
                  for i in range(10))
    raw = {f"p{i}": f"value-{i}" for i in range(10)}
    rates = []
    for _ in range(5):
        count = 20_000
        start = time.perf_counter()
        for _ in range(count):
            check_args(specs, raw, from_text=False)
        rates.append(count / (time.perf_counter() - start))
    print(f"check_args, 10 args with a pattern:     median {statistics.median(rates):,.0f} "
          f"checks/s (best {max(rates):,.0f})")


if __name__ == "__main__":
    main()
