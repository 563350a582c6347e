"""``flwd :sources [add|refresh|remove]``: the same views as ``/sources``, locally or remotely."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence
from urllib.parse import quote

from flwd.domain.errors import UsageError
from flwd.entrypoints.cli.command_parser import parse_command
from flwd.entrypoints.cli.exit_codes import EXIT_OK
from flwd.entrypoints.cli.grammar import COMMANDS_BY_NAME, SOURCE_ACTIONS
from flwd.entrypoints.cli.render import Io, dumps
from flwd.entrypoints.cli.signals import stop_signals_interrupt
from flwd.entrypoints.config import FlwdConfig

if TYPE_CHECKING:
    from flwd.entrypoints.container import Container


def sources_command(config: FlwdConfig, tokens: Sequence[str], io: Io,
                    given: Container | None) -> int:
    action = tokens[0] if tokens and tokens[0] in SOURCE_ACTIONS else ""
    if tokens and not action and not tokens[0].startswith("-"):
        raise UsageError(f"unknown :sources action {tokens[0]!r} (actions: "
                         f"{', '.join(SOURCE_ACTIONS)}; none lists the sources)")
    command = SOURCE_ACTIONS[action] if action else COMMANDS_BY_NAME[":sources"]
    parsed = parse_command(command, tokens[1:] if action else tokens)
    if parsed.help:
        from flwd.entrypoints.cli.usage import command_help

        io.out.write(command_help(command))
        return EXIT_OK
    values = parsed.values
    if config.server_url and given is None:
        result = _remote(config, io, action, values)
    else:
        # SIGTERM/SIGHUP unwind as Ctrl-C does (exit 130): an add or a refresh then removes the
        # manifest reader container it created instead of leaving it for good
        with stop_signals_interrupt():
            result = _local(config, io, given, action, values)
    _print(io, action, result, values.get("json", False))
    return EXIT_OK


def _request(action: str, values: dict[str, Any]) -> Any:
    from flwd.domain.sources.rules import SourceRequest

    return SourceRequest(name=values["name"], ref=values["ref"], trusted=values["trusted"],
                         pull_policy=values["pull_policy"] or "on-add")


def _local(config: FlwdConfig, io: Io, given: Container | None, action: str,
           values: dict[str, Any]) -> Any:
    from flwd.entrypoints.container import build_container
    from flwd.entrypoints.declared_sources import add_declared_sources
    from flwd.entrypoints.source_views import change_view, source_view

    container = given or build_container(config)
    try:
        if action != "remove":  # a removed declared source comes back at the next command
            add_declared_sources(container, config, io.err)
        if action in ("add", "refresh"):
            with _pull_progress(io, values["json"]) as progress:
                if action == "add":
                    return change_view(container.add_source()(_request(action, values), progress))
                return change_view(container.refresh_source()(values["name"], progress))
        query = container.query_sources()
        if action == "remove":
            removed = container.remove_source()(values["name"])
            return source_view(removed, query.jobs(removed))
        return {"sources": [source_view(s, query.jobs(s)) for s in query.list()]}
    finally:
        if given is None:
            container.shutdown_resources()


@contextmanager
def _pull_progress(io: Io, as_json: bool) -> Iterator[Callable[[Any], None] | None]:
    """The run's pull progress line on a terminal's stderr (SPEC 10: as for runs)."""
    if as_json or not io.err.isatty():
        yield None
        return
    from flwd.entrypoints.cli.progress import PullProgressLine

    line = PullProgressLine(io.err)
    try:
        yield lambda p: line.show({"image": p.image, "status": p.status, "current": p.current,
                                   "total": p.total})
    finally:
        line.end()


def _remote(config: FlwdConfig, io: Io, action: str, values: dict[str, Any]) -> Any:
    from flwd.entrypoints.cli.remote import RemoteBackend

    remote = RemoteBackend(config.server_url or "", config.token, io)
    try:
        if action == "add":
            body = {"type": "oci", "name": values["name"], "ref": values["ref"],
                    "trusted": values["trusted"], "pull_policy": values["pull_policy"] or "on-add"}
            return remote.request_json("POST", "/sources", body)
        name = quote(values.get("name") or "", safe="")
        if action == "refresh":
            return remote.request_json("POST", f"/sources/{name}:refresh")
        if action == "remove":
            return remote.request_json("DELETE", f"/sources/{name}")
        return remote.request_json("GET", "/sources")
    finally:
        remote.close()


def _print(io: Io, action: str, result: Any, as_json: bool) -> None:
    for decision in result.get("decisions", []) if isinstance(result, dict) else []:
        if decision["decision"] == "warn":
            io.err.write(f"warning[{decision['code']}]: {decision['reason']}\n")
    if as_json:
        io.out.write(dumps(result) + "\n")
    elif action in ("add", "refresh"):
        io.out.write(_change_text(action, result))
    elif action == "remove":
        io.out.write(f"removed source {result['name']} (runs of its jobs stay readable)\n")
    else:
        io.out.write(_table(result["sources"]))


def _change_text(action: str, change: dict[str, Any]) -> str:
    source = change["source"]
    jobs = ", ".join(source["jobs"]) or "none"
    lines = [f"{'added' if action == 'add' else 'refreshed'} source {source['name']}: "
             f"{source['ref']} pinned to {source['digest']} (add-on "
             f"{source['addon']['name']} {source['addon']['version']}); jobs: {jobs}"]
    if action == "refresh":
        lines.append(f"digest {change['previous_digest']} -> {source['digest']}" if change["repinned"]
                     else "digest unchanged")
        for key in ("jobs_added", "jobs_removed", "jobs_changed"):
            if change[key]:
                lines.append(f"{key.replace('_', ' ')}: {', '.join(change[key])}")
    lines += [f"invalid job {bad['id']}: {bad['reason']}" for bad in source["invalid"]]
    return "".join(line + "\n" for line in lines)


def _table(sources: list[dict[str, Any]]) -> str:
    if not sources:
        return "no sources (add one: flwd :sources add NAME REF --trusted)\n"
    rows = [("NAME", "REF", "DIGEST", "VERSION", "PULL", "JOBS")]
    rows += [(s["name"], s["ref"], s["digest"][:19], s["addon"]["version"], s["pull_policy"],
              str(len(s["jobs"])) + (f" (+{len(s['invalid'])} invalid)" if s["invalid"] else ""))
             for s in sources]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() + "\n"
                   for row in rows)
