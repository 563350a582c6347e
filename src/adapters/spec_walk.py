"""Where the job specs are: the walk of the jobs roots, without reading any spec.

Kept apart from ``yaml_catalog`` (which parses them) so that a caller that only needs to
know whether anything changed, such as the shell completion's cache, imports no YAML.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import NamedTuple

SPEC_NAMES = ("job.yaml", "config.yaml", os.path.join("config.d", "config.yaml"))
MAX_WALK_DEPTH = 16


class FoundSpec(NamedTuple):
    """A job directory, its spec file's name in it, its default id and the path shown."""

    directory: Path
    spec: str
    default_id: str
    shown: Path


def find_specs(roots: tuple[Path, ...]) -> list[FoundSpec]:
    """Every job directory under *roots*, in order; a repeated or nested root adds nothing."""
    seen: set[tuple[int, int]] = set()
    return [found for root in roots for found in _scan_root(root, seen)]


def _scan_root(root: Path, seen: set[tuple[int, int]]) -> list[FoundSpec]:
    if not root.is_dir():
        return []
    found: list[FoundSpec] = []
    # Depth-first, in sorted order, with an explicit stack (no recursion, no symlink loops).
    stack: list[tuple[Path, PurePosixPath, int]] = [(root, PurePosixPath("."), 0)]
    while stack:
        directory, rel, depth = stack.pop()
        try:
            info = directory.stat()
        except OSError:
            continue
        if (info.st_dev, info.st_ino) in seen:
            continue
        seen.add((info.st_dev, info.st_ino))
        spec = _spec_file(directory)
        if spec is not None:
            default_id = str(rel) if rel != PurePosixPath(".") else Path(os.path.abspath(root)).name
            found.append(FoundSpec(directory, spec, default_id, root / rel.as_posix() / spec))
            continue
        if depth >= MAX_WALK_DEPTH:
            continue
        children = [c for c in sorted_entries(directory) if not c.name.startswith(".") and c.is_dir()]
        stack.extend((Path(c.path), rel / c.name, depth + 1) for c in reversed(children))
    return found


def sorted_entries(directory: Path | str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as entries:
            return sorted(entries, key=lambda e: e.name)
    except OSError:
        return []


def _spec_file(directory: Path) -> str | None:
    for name in SPEC_NAMES:
        if os.path.lexists(os.path.join(directory, name)):
            return name
    return None
