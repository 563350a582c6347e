"""The sources ``flwd.yaml`` declares, added when missing by ``flwd :sources`` and ``:serve``."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from flwd.entrypoints.config import FlwdConfig

if TYPE_CHECKING:
    from flwd.entrypoints.container import Container


def add_declared_sources(container: Container, config: FlwdConfig, err: TextIO) -> None:
    """Add each declared source the store lacks; a failure is a warning naming its code
    (the others still get added, and the next command tries it again)."""
    if not config.sources:
        return
    from flwd.domain.sources.configured import add_configured_sources
    from flwd.domain.sources.rules import SourceRequest

    declared = [SourceRequest(name=name, ref=ref, trusted=trusted, pull_policy=policy, type=kind)
                for name, ref, trusted, policy, kind in config.sources]
    for outcome in add_configured_sources(declared, container.store(), container.add_source()):
        if outcome.error is not None:
            err.write(f"warning[{outcome.error.code}]: source {outcome.name} declared in "
                      f"{config.config_file or 'the configuration'} was not added: "
                      f"{outcome.error.detail}\n")
        elif outcome.change is not None:
            err.write(f"flwd: added source {outcome.name} declared in the configuration "
                      f"({outcome.change.source.ref} pinned to {outcome.change.source.digest})\n")
