"""The Litestar application: controllers, guards, problem details and OpenAPI, over one DI container."""

from __future__ import annotations

from typing import Any, Callable

import anyio.to_thread

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from flwd.entrypoints.container import Container
from flwd.entrypoints.http.allow import allow_public_methods
from flwd.entrypoints.http.auth import Authenticator, require
from flwd.entrypoints.http.deps import use_case_dependencies
from flwd.entrypoints.http.jobs import JobsController
from flwd.entrypoints.http.metrics import Metrics, record_response
from flwd.entrypoints.http.openapi import SCHEME, FlwdOpenApiJson
from flwd.entrypoints.http.plans import PlansController
from flwd.entrypoints.http.problems import EXCEPTION_HANDLERS, replace_html_not_found
from flwd.entrypoints.http.runs import RunsController
from flwd.entrypoints.http.settings import ServerSettings
from flwd.entrypoints.http.sources import SourcesController
from flwd.entrypoints.http.sse import EventHub
from flwd.entrypoints.http.system import SystemController
from flwd.entrypoints.http.system_probe import RuntimeProbe
from flwd.entrypoints.http.workers import WorkersController
from flwd.ports.store import RunEventFeed

API_VERSION = "0.1.0"
OPENAPI_PATH = "/schema/openapi.json"


def create_app(container: Container, *, server_settings: ServerSettings) -> Litestar:
    """The API over *container*; nothing starts here (the runtime is resolved by ``serve``)."""
    hub, metrics = EventHub(), Metrics()
    feed = _HubFeed(container, hub)
    probe = RuntimeProbe(container.runtime, server_settings.runtime_enabled)
    values: dict[str, object] = {
        "hub": hub, "metrics": metrics, "settings": server_settings, "probe": probe,
    }
    return Litestar(
        on_startup=[feed.start], on_shutdown=[feed.stop],
        route_handlers=[SystemController, JobsController, PlansController, RunsController,
                        SourcesController, WorkersController],
        dependencies={**use_case_dependencies(container),
                      **{name: _constant(value) for name, value in values.items()}},
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        request_max_body_size=server_settings.max_body_bytes,
        before_send=[record_response, allow_public_methods],
        after_request=replace_html_not_found,
        state=State({"authenticator": Authenticator(server_settings.grants),
                     "settings": server_settings, "metrics": metrics, "hub": hub}),
        openapi_config=OpenAPIConfig(
            title="flwd", version=API_VERSION,
            # SPEC 8: every endpoint but /healthz needs a token, the schema included.
            openapi_router=Router(path="/schema", route_handlers=[], guards=[require("jobs:read")],
                                  include_in_schema=False),
            description="Run typed-argument jobs in hardened, rootless containers.",
            render_plugins=[FlwdOpenApiJson()],
            security=[{SCHEME: []}],
            components=Components(security_schemes={SCHEME: SecurityScheme(
                type="http", scheme="bearer",
                description="A configured API token (auth.tokens / FLWD_TOKENS; --dev: dev-token). "
                            "Each operation's security names the scope its token needs.")}),
        ),
        debug=False,
    )


class _HubFeed:
    """Streams of runs executed by other processes (replicas, workers) wake on the store's
    notifications when it sends them (PostgreSQL); otherwise they poll (``StreamTiming``)."""

    def __init__(self, container: Container, hub: EventHub) -> None:
        self._container, self._hub = container, hub
        self._stop: Callable[[], None] | None = None

    async def start(self) -> None:
        store = self._container.store()
        if isinstance(store, RunEventFeed):
            self._stop = await anyio.to_thread.run_sync(self._hub.feed_from, store)

    async def stop(self) -> None:
        stop, self._stop = self._stop, None
        if stop is not None:
            stop()


def _constant(value: object) -> Provide:
    def provide() -> Any:
        return value

    return Provide(provide, use_cache=True, sync_to_thread=False)
