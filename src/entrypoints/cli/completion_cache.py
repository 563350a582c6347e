"""What a Tab needs of the local catalogue, kept in a small file so that a Tab does not
parse and validate every spec again (the slow part of ``flwd :__complete``).

The file holds, for the valid jobs only, their ids, names, first description lines and
arguments' names, types, required marks, first description lines and enum values: never a
default, never a value. It is keyed by flwd's version, the file's format, the jobs roots
and every spec found under them (path, inode, size, mtime_ns, and its directory's
mtime_ns), plus the stat of each spec's ``script:`` file; any difference rebuilds it from
the specs. It is written whole (temporary file, then rename), mode 0600; one that cannot
be read or makes no sense is ignored. A spec changed less than ``_SETTLE_NS`` ago is not
trusted to a cache (a second edit of the same size within the file system's clock tick
would keep its mtime), so the answer is then rebuilt but not saved.
"""

from __future__ import annotations

import json
import os
import time
import zlib
from pathlib import Path
from typing import Any, Sequence

from flwd.adapters.spec_walk import find_specs
from flwd.domain.model import ArgSpec, ArgType, JobSpec

FORMAT = 1
_SETTLE_NS = 2_000_000_000


class CachedJobs:
    """A ``JobSource`` over the local catalogue under *roots*, cached in *cache_dir*."""

    def __init__(self, roots: Sequence[str], cache_dir: Path, version: str) -> None:
        self._roots = tuple(os.path.abspath(os.path.expanduser(root)) for root in roots)
        self._path = cache_dir / f"completion-{_digest(self._roots)}.json"
        self._version = version
        self._by_id: dict[str, JobSpec] | None = None
        self._specs: list[list[object]] | None = None

    def jobs(self) -> Sequence[JobSpec]:
        return list(self._jobs().values())

    def job(self, job_id: str) -> JobSpec | None:
        if self._by_id is None and _recent(self._fingerprint(), []):
            return _one_job(self._roots, job_id)  # nothing to save: validate only what may be it
        return self._jobs().get(job_id)

    def _fingerprint(self) -> list[list[object]]:
        if self._specs is None:
            self._specs = _fingerprint(self._roots)
        return self._specs

    def _jobs(self) -> dict[str, JobSpec]:
        if self._by_id is None:
            specs = self._fingerprint()
            key = {"format": FORMAT, "version": self._version, "roots": list(self._roots),
                   "specs": specs}
            self._by_id = _cached(_read(self._path), key)
            if self._by_id is None:
                records, deps = _build(self._roots)
                if not _recent(specs, deps):
                    _write(self._path, {**key, "deps": deps, "jobs": records})
                self._by_id = _by_id(records)
        return self._by_id


def _cached(data: dict[str, Any] | None, key: dict[str, Any]) -> dict[str, JobSpec] | None:
    """The jobs in *data* if it was made under *key* and still makes sense, else None."""
    if data is None or {k: data.get(k) for k in key} != key or not _deps_unchanged(data.get("deps")):
        return None
    try:
        return _by_id(data["jobs"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _by_id(records: list[dict[str, Any]]) -> dict[str, JobSpec]:
    return {job.id: job for job in map(_job_from_record, records)}


def _digest(roots: tuple[str, ...]) -> str:
    """Names the file per set of roots (a clash costs only a rebuild: the roots are in the key;
    zlib, not hashlib, whose import costs a Tab 2.6 ms)."""
    return "%08x" % zlib.crc32("\0".join(roots).encode("utf-8", "surrogateescape"))


def _stat(path: str | Path) -> list[int] | None:
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return [info.st_ino, info.st_size, info.st_mtime_ns]


def _fingerprint(roots: tuple[str, ...]) -> list[list[object]]:
    """Every spec found under *roots*, as what would change if it were added, removed or edited."""
    return [[str(found.shown), found.default_id, _stat(found.directory / found.spec),
             _stat(found.directory)] for found in find_specs(tuple(Path(r) for r in roots))]


def _deps_unchanged(deps: object) -> bool:
    if not isinstance(deps, list):
        return False
    return all(isinstance(dep, list) and len(dep) == 2 and isinstance(dep[0], str)
               and _stat(dep[0]) == dep[1] for dep in deps)


def _recent(specs: list[list[object]], deps: list[list[object]]) -> bool:
    stats = [s for spec in specs for s in spec[2:]] + [dep[1] for dep in deps]
    now = time.time_ns()
    return any(now - s[2] < _SETTLE_NS for s in stats if isinstance(s, list))


def _build(roots: tuple[str, ...]) -> tuple[list[dict[str, Any]], list[list[object]]]:
    """The records of the valid jobs, and the ``script:`` files their validity depends on."""
    from flwd.adapters.yaml_catalog import YamlJobCatalog
    from flwd.domain.spec.catalog import load_catalog

    docs = YamlJobCatalog(roots).documents()
    deps: list[list[object]] = []
    for doc in docs:
        script = doc.data.get("script") if doc.data is not None else None
        if isinstance(script, str) and "\0" not in script:
            path = os.path.join(doc.directory, script)
            deps.append([path, _stat(path)])
    return [_job_record(job) for job in load_catalog(docs).jobs], deps


def _one_job(roots: tuple[str, ...], job_id: str) -> JobSpec | None:
    """The job *job_id*, validating only the specs that may define that id (half the time of
    a 50-job catalogue)."""
    from flwd.adapters.yaml_catalog import YamlJobCatalog
    from flwd.domain.spec.catalog import load_catalog

    docs = [doc for doc in YamlJobCatalog(roots).documents() if job_id in (
        doc.default_id, doc.data.get("id") if doc.data is not None else None)]
    return next((job for job in load_catalog(docs).jobs if job.id == job_id), None)


def _first_line(text: str) -> str:
    return text.strip().split("\n")[0]


def _job_record(job: JobSpec) -> dict[str, Any]:
    return {"id": job.id, "name": job.name, "description": _first_line(job.description),
            "args": [_arg_record(arg) for arg in job.args]}


def _arg_record(arg: ArgSpec) -> dict[str, Any]:
    """Only what completion shows: no default (a secret has none; no value is ever kept)."""
    enum = None if arg.enum is None else [_shown(value) for value in arg.enum]
    return {"name": arg.name, "type": arg.type.value, "required": arg.required,
            "description": _first_line(arg.description), "enum": enum}


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _job_from_record(record: dict[str, Any]) -> JobSpec:
    """A job as completion sees it (no image, directory or command: it is never run)."""
    args = tuple(ArgSpec(name=str(arg["name"]), type=ArgType(arg["type"]),
                         required=bool(arg["required"]), description=str(arg["description"]),
                         enum=None if arg["enum"] is None else tuple(map(str, arg["enum"])))
                 for arg in record["args"])
    return JobSpec(id=str(record["id"]), directory="", spec_path="", image="",
                   name=str(record["name"]), description=str(record["description"]), args=args)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as handle:
            data = json.loads(handle.read())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write(path: Path, data: dict[str, Any]) -> None:
    """Atomically, 0600; quietly not at all when the directory cannot be written."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(json.dumps(data, separators=(",", ":")).encode())
        os.replace(tmp, path)
    except (OSError, ValueError, TypeError):
        try:
            os.unlink(tmp)
        except OSError:
            pass
