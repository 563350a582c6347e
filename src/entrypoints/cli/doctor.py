"""``flwd :doctor``: which runtime flwd would use, its version, socket, rootlessness, problems."""

from __future__ import annotations

import json
import os
from typing import Any, Mapping

from flwd.domain.errors import FlwdError
from flwd.entrypoints.cli.exit_codes import EXIT_FLWD, EXIT_OK
from flwd.entrypoints.cli.render import Io
from flwd.entrypoints.config import FlwdConfig
from flwd.ports.runtime import RuntimeInfo


def doctor(config: FlwdConfig, as_json: bool, io: Io, env: Mapping[str, str]) -> int:
    """Exit 0 when a runtime is usable, 125 (with the reasons) when none is."""
    from flwd.adapters.runtime_detect import describe_candidates
    from flwd.entrypoints.container import build_container

    report: dict[str, Any] = {
        "runtime_setting": config.runtime,
        "candidates": [c.describe() for c in describe_candidates(env, config.runtime)],
        "problems": [],
        "secret_key": secret_key_line(config),
    }
    container = build_container(config, env=env)  # the runtime a run would get, found alike
    report["checks"] = _cluster_checks(config, container)
    try:
        info = container.runtime().probe()
        report.update({
            "runtime": info.name, "version": info.version, "socket": info.socket,
            "rootless": info.rootless, "enforces_limits": info.enforces_limits,
            "container_root_maps_to": f"{info.root_uid}:{info.root_gid}",
        })
        report["problems"] += list(info.problems) or _derived_problems(info)
        report["source_problems"] = _source_problems(container)
        report["problems"] += [f"source {p['source']}: {p['code']}: {p['detail']}"
                               for p in report["source_problems"]]
    except FlwdError as exc:
        report["problems"].append(f"{exc.code}: {exc.detail}")
        return _print(io, report, as_json, EXIT_FLWD)
    finally:
        container.shutdown_resources()
    report["data_dir"] = str(config.data_path)
    report["jobs_dirs"] = [os.path.expanduser(d) for d in config.jobs_dirs]
    failed = any(not check["ok"] for check in report["checks"])
    return _print(io, report, as_json, EXIT_FLWD if failed else EXIT_OK)


def _cluster_checks(config: FlwdConfig, container: Any) -> list[dict[str, Any]]:
    """The store, the queue and the workers (cluster mode; the store alone otherwise)."""
    from flwd.entrypoints.cli.doctor_cluster import cluster_checks

    return cluster_checks(config, container)


def _source_problems(container: Any) -> list[dict[str, str]]:
    """Sources whose pinned image, manifest or signature no longer checks out (SPEC 10)."""
    try:
        problems = container.check_sources()()
    except FlwdError as exc:  # the store cannot be read: say so, the runtime report stands
        return [{"source": "*", "code": exc.code, "detail": exc.detail}]
    return [{"source": p.source, "code": p.code, "detail": p.detail} for p in problems]


def secret_key_line(config: FlwdConfig) -> str:
    """Whether cluster mode's secret key is configured, and where from; never the key."""
    key = config.secret_key
    if key is None:
        return "not set (needed only in cluster mode, for runs with secrets)"
    return f"set (from {key.source})"


def remote_doctor(server_url: str, as_json: bool, io: Io) -> int:
    """With ``--server``: the server's own runtime, from its ``/healthz``."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(server_url if "://" in server_url else f"http://{server_url}")
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    report: dict[str, Any] = {"server": server_url, "problems": [], "candidates": []}
    try:
        conn = kind(parts.hostname or "", parts.port, timeout=10)
        try:
            conn.request("GET", parts.path.rstrip("/") + "/healthz")
            health = json.loads(conn.getresponse().read())
        finally:
            conn.close()
    except (OSError, ValueError) as exc:
        report["problems"].append(f"server.unreachable: cannot reach {server_url}: {exc}")
        return _print(io, report, as_json, EXIT_FLWD)
    runtime = health.get("runtime") if isinstance(health, dict) else None
    if isinstance(runtime, dict):
        report.update({key: runtime[key] for key in ("name", "version", "rootless") if key in runtime})
        report["runtime"] = report.pop("name", "?")
    else:
        report["problems"].append("the server has no container runtime (plan-only or unavailable)")
    if isinstance(health, dict) and health.get("status") != "ok":
        report["problems"].append(f"server status: {health.get('status')}")
    return _print(io, report, as_json, EXIT_OK if not report["problems"] else EXIT_FLWD)


def _derived_problems(info: RuntimeInfo) -> list[str]:
    """What a runtime that reports no problems of its own still implies for runs."""
    problems = []
    if not info.rootless:
        problems.append("runtime is rootful: runs record a runtime.rootful warning "
                        "(denied where the policy has require_rootless)")
    if not info.enforces_limits:
        problems.append("resource limits are not enforced: runs record "
                        "runtime.limits.unenforced (denied where the policy has require_limits)")
    return problems


def _print(io: Io, report: dict[str, Any], as_json: bool, code: int) -> int:
    if as_json:
        io.out.write(json.dumps(report) + "\n")
        return code
    for key in ("server", "runtime", "version", "socket", "rootless", "enforces_limits",
                "container_root_maps_to", "data_dir", "jobs_dirs", "secret_key"):
        if key in report:
            io.out.write(f"{key + ':':<24}{report[key]}\n")
    for check in report.get("checks", ()):
        state = "ok" if check["ok"] else "FAILED"
        io.out.write(f"{check['check'] + ':':<24}{state}: {check['detail']}\n")
    if report["candidates"]:
        io.out.write("checked:\n")
    for line in report["candidates"]:
        io.out.write(f"  {line}\n")
    io.out.write("problems:\n" if report["problems"] else "problems: none\n")
    for problem in report["problems"]:
        io.out.write(f"  - {problem}\n")
    return code
