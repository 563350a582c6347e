"""Modules the composition root names but imports only when a provider is first called."""

from __future__ import annotations

import importlib
from typing import Any, Callable


class Lazy:
    """A module imported when one of its callables is first called."""

    def __init__(self, module: str) -> None:
        self._module = module

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            return getattr(importlib.import_module(self._module), name)(*args, **kwargs)

        return call
