"""The CLI spellings of a job's arguments: ``--secret-token``, ``--secret_token``, ``--no-loud``."""

from __future__ import annotations

from flwd.domain.model import ArgSpec, ArgType


def _spellings(name: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys((name.replace("_", "-"), name.replace("-", "_"), name)))


def text_option_names(spec: ArgSpec) -> tuple[str, ...]:
    """CLI spellings of *spec*: dashed first, then underscored, then as declared (deduplicated).

    ``secret_token`` -> ``("--secret-token", "--secret_token")``. ``check_args``
    treats ``-`` and ``_`` in keys as the same, so any of these reaches the argument.
    """
    return tuple(f"--{spelling}" for spelling in _spellings(spec.name))


def negative_option_names(spec: ArgSpec) -> tuple[str, ...]:
    """The ``--no-`` spellings of a boolean argument (``()`` for any other type).

    ``dry_run`` -> ``("--no-dry-run", "--no_dry_run", "--no-dry_run")``. With
    ``from_text=True``, ``check_args`` also understands a ``no-<name>`` key whose
    value is the flag's ``True``, so the CLI may pass it through unchanged.
    """
    if spec.type is not ArgType.BOOLEAN:
        return ()
    dashed = spec.name.replace("_", "-")
    under = spec.name.replace("-", "_")
    names = (f"--no-{dashed}", f"--no_{under}", f"--no-{spec.name}")
    return tuple(dict.fromkeys(names))
