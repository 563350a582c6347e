"""An add-on run uses the image its checks saw (SPEC section 10): a cluster worker refuses a
queued run whose source was re-pinned while it waited in the queue."""

from __future__ import annotations

from flwd.adapters.fake_runtime import FakeRuntime
from flwd.adapters.fakes import FakeAddonImages, FakeClock, FakeRunQueue, FakeSecretSealer
from flwd.domain.plan.use_cases import EngineSettings, ListJobs, PlanJob, RunRequest
from flwd.domain.run.start import StartRun
from flwd.domain.run.take import TakeQueuedRun
from flwd.domain.run.use_cases import SubmitRun
from flwd.domain.sources.jobs import SourceJobs
from flwd.domain.sources.rules import SourceRequest
from flwd.domain.sources.use_cases import AddSource, RefreshSource, SourceDeps
from flwd.domain.spec.addon import parse_addon_manifest
from flwd.ports.owner import QUEUED_OWNER
from tests.unit.fake_engine import FakeEngine
from tests.unit.test_queue_dispatch import KEY

REF = "localhost:5000/addons/greet:1"


def addon(version: str) -> dict[str, object]:
    return {"apiVersion": "flwd.addon/v1", "kind": "AddOn",
            "metadata": {"name": "greet", "version": version},
            "jobs": [{"id": "hello", "command": ["/bin/echo", "hello"]}]}


def test_worker_refuses_source_changed_when_the_addon_was_repinned_while_the_run_waited() -> None:
    """The worker planned again from the store and ran the new digest, never checked."""
    engine = FakeEngine(runtime=FakeRuntime())
    images = FakeAddonImages()
    images.publish(REF, addon("1.0.0"))
    deps = SourceDeps(store=engine.runs, images=images, parse=parse_addon_manifest,
                      clock=FakeClock(), bundle=engine.bundle)
    AddSource(deps=deps)(SourceRequest(name="greet", ref=REF, trusted=True))
    jobs = ListJobs(catalog=engine.catalog, sources=engine.runs,
                    addon_jobs=SourceJobs(parse_addon_manifest))
    plan = PlanJob(jobs=jobs, settings=EngineSettings(bundle=engine.bundle, cancel_grace=1.0))
    sealer, queue = FakeSecretSealer(KEY), FakeRunQueue()
    submit = SubmitRun(plan=plan, store=engine.runs, clock=engine.clock, ids=engine.ids,
                       owner=QUEUED_OWNER, pending=engine.pending)
    run_id = StartRun(submit=submit, dispatcher=engine.queue_dispatcher(queue, sealer),
                      store=engine.runs, clock=engine.clock, pending=engine.pending,
                      )(RunRequest(job="greet/hello", args={})).run_id
    images.publish(REF, addon("2.0.0"))
    RefreshSource(deps=deps)("greet")
    take = TakeQueuedRun(store=engine.runs, jobs=jobs, plan=plan, sealer=sealer,
                         supervisor=engine.supervisor(), clock=engine.clock,
                         pending=engine.pending, owner="worker:1")

    ended = take(run_id, None)

    assert ended is not None and ended.status == "error"
    finished = [e.data for e in engine.runs.events(run_id) if e.type == "run.finished"]
    assert finished and finished[-1].get("code") == "source.changed", finished
    assert engine.runtime.created == []
