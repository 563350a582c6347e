"""Typed handler dependencies; provided once per app, never validated (they are not user input)."""

from __future__ import annotations

from typing import Annotated

from litestar.params import Dependency

from flwd.entrypoints.container import Container
from flwd.entrypoints.http.metrics import Metrics
from flwd.entrypoints.http.settings import ServerSettings
from flwd.entrypoints.http.sse import EventHub

# dependency-injector instantiates a DynamicContainer, which is no instance of Container.
ContainerDep = Annotated[Container, Dependency(skip_validation=True)]
HubDep = Annotated[EventHub, Dependency(skip_validation=True)]
MetricsDep = Annotated[Metrics, Dependency(skip_validation=True)]
SettingsDep = Annotated[ServerSettings, Dependency(skip_validation=True)]
