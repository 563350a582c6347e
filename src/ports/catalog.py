"""The job catalog port: where job spec documents come from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Protocol, Sequence


@dataclass(frozen=True, slots=True, kw_only=True)
class JobDocument:
    """A job spec file as found, before the domain validates it.

    ``data`` is the parsed mapping, or ``None`` when the file could not be read or parsed;
    then ``error`` says why (and ``error_field`` which part, e.g. ``yaml``).
    """

    default_id: str
    spec_path: str
    directory: str
    data: Mapping[str, object] | None
    error: str | None = None
    error_field: str = ""
    shell_scripts: tuple[str, ...] = ()
    # Relative paths of regular files inside the directory that the catalog checked exist
    # (at least the spec's ``script:``); ``None``: not checked, the domain trusts the spec.
    files: frozenset[str] | None = None


class JobCatalog(Protocol):
    """Finds job spec documents under one or more jobs roots."""

    def documents(self) -> Sequence[JobDocument]:
        """Every job directory's spec document, broken ones included, in a stable order.

        Never raises for a single bad file: that file comes back with ``error`` set.
        """
        ...
