"""Typed handler dependencies; provided once per app, never validated (they are not user input)."""

from __future__ import annotations

from litestar.di import NamedDependency
from litestar.params import SkipValidation

from flwd.entrypoints.container import Container
from flwd.entrypoints.http.metrics import Metrics
from flwd.entrypoints.http.settings import ServerSettings
from flwd.entrypoints.http.sse import EventHub
from flwd.entrypoints.http.system_probe import RuntimeProbe

# dependency-injector instantiates a DynamicContainer, which is no instance of Container.
ContainerDep = SkipValidation[NamedDependency[Container]]
HubDep = SkipValidation[NamedDependency[EventHub]]
MetricsDep = SkipValidation[NamedDependency[Metrics]]
SettingsDep = SkipValidation[NamedDependency[ServerSettings]]
ProbeDep = SkipValidation[NamedDependency[RuntimeProbe]]
