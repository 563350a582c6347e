"""Job catalog on the filesystem: finds job directories under jobs roots and safely loads their YAML."""

from __future__ import annotations

import os
import threading
import time
import stat
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Sequence

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from flwd.adapters.spec_walk import find_specs, sorted_entries
from flwd.ports.catalog import JobDocument

MAX_SPEC_BYTES = 1 << 20
MAX_YAML_DEPTH = 50
MAX_YAML_NODES = 100_000  # counted with every alias expanded, so alias bombs stop here
_SafeLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Rejected(Exception):
    """A spec file flwd refuses to load; ``field`` is ``file`` or ``yaml``."""

    def __init__(self, message: str, field: str = "yaml") -> None:
        super().__init__(message)
        self.message, self.field = message, field


class YamlJobCatalog:
    """Finds job directories under each root (in the order given) and loads their specs.

    A directory is a job directory when it holds ``job.yaml``, else ``config.yaml``, else
    ``config.d/config.yaml``; flwd does not look for further jobs inside it. Hidden
    directories are skipped. Files are parsed with PyYAML's safe loader only, after a
    size check and an event-level check of nesting depth and alias expansion.
    """

    def __init__(self, roots: Sequence[str | Path], rescan_seconds: float = 0.0) -> None:
        self._roots = tuple(Path(root) for root in roots)
        self._cache: dict[str, tuple[tuple[int, ...], JobDocument]] = {}
        self._rescan = rescan_seconds
        self._lock = threading.Lock()
        self._snapshot: tuple[float, list[JobDocument]] | None = None
        self._refreshing = False

    def documents(self) -> list[JobDocument]:
        """Every job's document; a spec whose file and directory are unchanged since the
        last call (same inode, size and mtimes) is not read or parsed again.

        With ``rescan_seconds`` (a long-lived server) only the first call walks the roots in
        the caller's thread; later calls answer from the last walk at once and, when it is
        older than ``rescan_seconds``, start a new walk in the background, so a request
        never waits on the disk and an edited job is seen a moment later.
        """
        if self._rescan <= 0:
            return self._walk()
        with self._lock:
            snapshot = self._snapshot
            stale = snapshot is not None and time.monotonic() - snapshot[0] >= self._rescan
            if stale and not self._refreshing:
                self._refreshing = True
                threading.Thread(target=self._refresh, name="flwd-catalog", daemon=True).start()
        if snapshot is None:
            return self._refresh()
        return list(snapshot[1])

    def _refresh(self) -> list[JobDocument]:
        try:
            docs = self._walk()
            with self._lock:
                self._snapshot = (time.monotonic(), docs)
            return list(docs)
        finally:
            with self._lock:
                self._refreshing = False

    def _walk(self) -> list[JobDocument]:
        return [_cached_load(self._cache, found.directory, found.spec, found.default_id, found.shown)
                for found in find_specs(self._roots)]


def _cached_load(cache: dict[str, tuple[tuple[int, ...], JobDocument]], directory: Path,
                 spec: str, default_id: str, shown: Path) -> JobDocument:
    try:
        spec_stat = os.stat(os.path.join(directory, spec))
        dir_stat = os.stat(directory)
    except OSError:
        return _load_document(directory, spec, default_id, shown)
    key = (spec_stat.st_ino, spec_stat.st_size, spec_stat.st_mtime_ns, dir_stat.st_mtime_ns)
    cached = cache.get(str(shown))
    if cached is not None and cached[0] == key and cached[1].default_id == default_id:
        return cached[1]
    doc = _load_document(directory, spec, default_id, shown)
    cache[str(shown)] = (key, doc)
    return doc


def _load_document(directory: Path, spec: str, default_id: str, shown: Path) -> JobDocument:
    absolute = os.path.abspath(directory)
    real_dir = os.path.realpath(absolute)
    scripts = tuple(
        e.name
        for e in sorted_entries(directory)
        if e.name.endswith(".sh")
        and not e.name.startswith(".")
        and (e.is_file(follow_symlinks=False) or _is_file_inside(real_dir, e.path))
    )
    doc = JobDocument(
        default_id=default_id,
        spec_path=str(shown),
        directory=absolute,
        data=None,
        shell_scripts=scripts,
        files=frozenset(scripts),
    )
    try:
        data = _read_mapping(os.path.join(absolute, spec))
    except _Rejected as exc:
        return replace(doc, error=exc.message, error_field=exc.field)
    return replace(doc, data=data, files=frozenset(scripts) | _script_file(absolute, data.get("script")))


def _script_file(directory: str, script: object) -> frozenset[str]:
    """``{script}`` when the spec's ``script:`` names a regular file inside *directory*."""
    if not isinstance(script, str) or not script.strip():
        return frozenset()
    rel = PurePosixPath(script)
    if rel.is_absolute() or ".." in rel.parts or "\x00" in script:
        return frozenset()
    candidate = os.path.join(directory, *rel.parts)
    return frozenset({str(rel)}) if _is_file_inside(os.path.realpath(directory), candidate) else frozenset()


def _is_file_inside(real_dir: str, candidate: str) -> bool:
    """A regular file that stays inside the job directory once symlinks are resolved.

    Only the job directory is mounted into the container, so a link leading out of it
    would dangle there.
    """
    return os.path.realpath(candidate).startswith(real_dir + os.sep) and os.path.isfile(candidate)


def _read_mapping(path: str) -> dict[str, object]:
    data = _load_yaml(_read_bounded(path))
    if data is None:
        raise _Rejected("the file is empty (expected a mapping such as executor: container)")
    if not isinstance(data, dict):
        raise _Rejected(f"the top level must be a mapping, not a {type(data).__name__}")
    return data


def _load_yaml(raw: bytes) -> object:
    """Compose the node tree (aliases stay shared), check it, then build Python objects."""
    try:
        node = yaml.compose(raw, Loader=_SafeLoader)
        if node is None:
            return None
        _check_tree(node)
        return SafeConstructor().construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise _Rejected(_describe(exc)) from None
    except RecursionError:
        raise _Rejected(f"invalid YAML: nested deeper than {MAX_YAML_DEPTH} levels") from None
    except (yaml.YAMLError, ValueError, TypeError) as exc:
        raise _Rejected(f"invalid YAML: {exc}") from None


def _read_bounded(path: str) -> bytes:
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise _Rejected("is not a regular file", field="file")
        if info.st_size > MAX_SPEC_BYTES:
            raise _Rejected(f"is {info.st_size} bytes, over the {MAX_SPEC_BYTES} byte limit", "file")
        with open(path, "rb") as handle:
            raw = handle.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise _Rejected(f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_SPEC_BYTES:  # grew after the stat
        raise _Rejected(f"is over the {MAX_SPEC_BYTES} byte limit", field="file")
    return raw


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return node.value  # type: ignore[no-any-return]
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_tree(root: Node) -> None:
    """Refuse deep nesting, alias bombs and self-referencing aliases, without recursion.

    An alias is the same node object as its anchor, so each node is measured once
    (memoised by identity) while sizes and depths count every alias fully expanded.
    """
    height: dict[int, int] = {}
    size: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Node, list[Node] | None]] = [(root, None)]
    while stack:
        node, kids = stack.pop()
        key = id(node)
        if kids is not None:  # all children measured: measure the node itself
            height[key] = 1 + max([height[id(k)] for k in kids], default=0)
            size[key] = 1 + sum([size[id(k)] for k in kids])
            open_nodes.discard(key)
            if height[key] > MAX_YAML_DEPTH:
                raise _Rejected(_at(node, f"nested deeper than {MAX_YAML_DEPTH} levels"))
            if size[key] > MAX_YAML_NODES:
                raise _Rejected(_at(node, f"expands to more than {MAX_YAML_NODES} nodes (aliases)"))
        elif isinstance(node, ScalarNode):
            height[key] = size[key] = 1
        elif key in open_nodes:
            raise _Rejected(_at(node, "an alias refers to a collection that contains it"))
        elif key not in height:
            if isinstance(node, MappingNode):
                _check_unique_keys(node)
            open_nodes.add(key)
            kids = _children(node)
            stack.append((node, kids))
            stack.extend((kid, None) for kid in kids)


def _check_unique_keys(node: MappingNode) -> None:
    """PyYAML keeps the last of two equal keys, silently dropping the first value; of two
    merge keys (``<<``) in one mapping the second wins the same way."""
    seen: set[tuple[str, str]] = set()
    for key, _ in node.value:
        if not isinstance(key, ScalarNode):
            continue
        if (key.tag, key.value) in seen:
            raise _Rejected(_at(key, f"duplicate key {key.value!r}"))
        seen.add((key.tag, key.value))


def load_yaml_bytes(raw: bytes) -> object:
    """Safely load one YAML document with the limits and checks specs get (depth, alias
    expansion, duplicate keys); raises ``ValueError`` with a readable message."""
    try:
        return _load_yaml(raw)
    except _Rejected as exc:
        raise ValueError(exc.message) from None


def _at(node: Node, message: str) -> str:
    mark = node.start_mark
    return f"line {mark.line + 1}, column {mark.column + 1}: {message}" if mark else message


def _describe(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = exc.problem or exc.context or "malformed"
    context = f" ({exc.context})" if exc.context and exc.problem else ""
    return f"invalid YAML{where}: {problem}{context}"
