"""Serving the API (``flwd :serve``, whose arguments the CLI reads): check tokens and runtime,
reconcile, then serve with uvicorn until a signal."""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from dataclasses import dataclass
from types import FrameType
from typing import Any, Callable, ContextManager, Iterator, Mapping, Sequence, TextIO

from flwd.adapters.loopback import is_loopback
from flwd.domain.errors import ConfigInvalidError
from flwd.entrypoints.config import FlwdConfig

# (container, the resident socket's path, the API's event listeners, count a denial) ->
# the hand-off socket open while the server runs (``cli.handoff_server.handoff_listener``)
HandOff = Callable[[Any, str, Sequence[Any], Callable[[str], None]], ContextManager[object]]
_SHUTDOWN_EXTRA_SECONDS = 5.0
# A job added or edited on disk is seen by the server within this many seconds.
CATALOG_RESCAN_SECONDS = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ServeOptions:
    """How to serve: the address to listen on and the options of ``flwd :serve``."""

    host: str
    port: int
    dev: bool = False
    profile: str | None = None
    no_runtime: bool = False
    local: bool = False  # only the resident unix socket, no TCP (and so no token needed)


def serve(config: FlwdConfig, options: ServeOptions, err: TextIO, env: Mapping[str, str],
          handoff: HandOff | None = None) -> None:
    """Serve the API until SIGTERM/SIGINT, announcing the address on *err*. Refuses to start
    (raises a coded error) without a token, with --dev beyond loopback, or without a runtime.
    *handoff* (the CLI's, ``cli.handoff_server``) takes whole ``flwd JOB`` command lines beside
    the resident socket."""
    from flwd.entrypoints.http.auth import dev_grant

    grants = config.tokens + ((dev_grant(),) if options.dev else ())
    if options.local:
        _serve(config, options, grants, err, env, handoff)
        return
    if options.dev and not is_loopback(options.host):
        raise ConfigInvalidError(
            f"--dev serves the well-known token dev-token, so it only binds to loopback "
            f"(127.0.0.1, ::1, localhost), not {options.host}", field="server.bind")
    if not grants:
        raise ConfigInvalidError(
            "no API token is configured: set auth.tokens in flwd.yaml or FLWD_TOKENS, "
            "or pass --dev for a local development server", field="auth.tokens")
    _serve(config, options, grants, err, env, handoff)


def _serve(config: FlwdConfig, options: ServeOptions, grants: tuple[Any, ...], err: TextIO,
           env: Mapping[str, str], handoff: HandOff | None) -> None:
    from dependency_injector import providers

    from flwd.entrypoints.container import build_container
    from flwd.entrypoints.http.app import create_app
    from flwd.entrypoints.http.settings import ServerSettings
    from flwd.entrypoints.orphans import OrphanWatch
    from flwd.entrypoints.web.plugin import ConsolePlugin  # SPEC 12: the console at /ui/

    from flwd.ports.kinds import DispatchKind

    # cluster mode: a replica plans, records and enqueues; it runs no container (SPEC 11)
    dispatch = (DispatchKind.NONE if options.no_runtime else
                DispatchKind.QUEUE if config.cluster else DispatchKind.LOCAL)
    local_runs = dispatch is DispatchKind.LOCAL
    container = build_container(config, profile_override=options.profile,
                                catalog_rescan_seconds=CATALOG_RESCAN_SECONDS, dispatch=dispatch)
    container.env.override(providers.Object(env))
    container.store().active()  # an unusable data_dir refuses to start, not fails each request
    supervisor = container.supervisor()
    orphans = OrphanWatch(container.adopt_orphans)
    # cluster mode: every replica that enqueues also sweeps runs whose worker stopped
    # heartbeating (it can queue a lost run again; a --no-runtime one could not)
    sweeper = container.lost_run_sweeper() if dispatch is DispatchKind.QUEUE else None
    try:
        if sweeper is not None:
            sweeper.start()
        if local_runs:
            container.runtime()  # RuntimeUnavailableError: refuse to start (exit 125)
            reconcile = container.providers.get("reconcile_runs")
            if reconcile is not None:
                reconcile()()
                orphans.start()
            from flwd.entrypoints.declared_sources import add_declared_sources

            add_declared_sources(container, config, err)
        with _resident_socket(config, options, env, local_runs) as (resident, note):
            settings = ServerSettings(
                grants=grants, loopback=options.local or is_loopback(options.host),
                runtime_enabled=local_runs,
                # uvicorn names the listener by its bound name (see auth)
                resident_path=resident.getsockname() if resident else None)
            # the console's sessions hold on every replica sharing the secret key (SPEC 11);
            # its sign-outs on every replica sharing the store
            console = ConsolePlugin(container.console_sessions(), secret_key=config.secret_key)
            app = create_app(container, server_settings=settings, plugins=[console])
            metrics = app.state["metrics"]
            with (handoff(container, resident.path, [app.state["hub"], metrics],
                          metrics.count_denial)
                  if handoff is not None and resident is not None
                  else contextlib.nullcontext()):
                _run_uvicorn(app, options, err, config.cancel_grace,
                             on_signal=lambda killing: _stop_runs(supervisor, killing),
                             resident=resident, note=note)
    finally:
        if sweeper is not None:
            sweeper.stop()
        orphans.stop()
        supervisor.shutdown(cancel=True)
        container.shutdown_resources()


@contextlib.contextmanager
def _resident_socket(config: FlwdConfig, options: ServeOptions, env: Mapping[str, str],
                     local_runs: bool) -> Iterator[tuple[Any, str]]:
    """The resident unix socket local ``flwd JOB`` runs are handed to (always, with a runtime
    of its own) and the line announcing it. With TCP too, a socket that cannot be had (another
    server holds it, the path is too long) is only a warning; ``--local`` needs it."""
    from flwd.entrypoints.resident import listen_resident, remove_resident, socket_path

    if not local_runs:
        yield None, ""
        return
    path = socket_path(config, env, options.profile)
    try:
        sock = listen_resident(path)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if options.local:
            raise ConfigInvalidError(f"cannot serve on unix:{path}: {reason}",
                                     field="data_dir") from None
        yield None, f"flwd: warning: no local socket for `flwd JOB` runs: {reason}\n"
        return
    try:
        yield sock, f"flwd: serving local runs on unix:{sock.path}\n"
    finally:
        remove_resident(path, sock)
        sock.close()


def _stop_runs(supervisor: Any, killing: bool) -> None:
    for run_id in supervisor.active_ids():
        (supervisor.kill if killing else supervisor.cancel)(run_id)


def _run_uvicorn(app: Any, options: ServeOptions, err: TextIO, grace: float,
                 on_signal: Callable[[bool], None], resident: Any = None, note: str = "") -> None:
    import uvicorn

    class Server(uvicorn.Server):
        """Announces the bound address and cancels active runs on the first signal."""

        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                if not options.local:
                    host, port = _bound_address(self, options)
                    err.write(f"flwd: serving on http://{host}:{port}\n")
                err.write(note)  # after the address: tools read the first line for it
                err.flush()

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            killing = self.should_exit  # a second signal: kill instead of a graceful stop
            threading.Thread(target=on_signal, args=(killing,), daemon=True).start()
            super().handle_exit(sig, frame)

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # uvicorn re-raises the signal afterwards; flwd cleans up and exits 0 instead.
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            handled = (signal.SIGINT, signal.SIGTERM)
            originals = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
            try:
                yield
            finally:
                for sig, handler in originals.items():
                    signal.signal(sig, handler)

    config = uvicorn.Config(app, host=options.host, port=options.port, workers=1,
                            log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=int(grace + _SHUTDOWN_EXTRA_SECONDS))
    listeners = [] if options.local else [_listen(options.host, options.port)]
    try:
        Server(config).run(sockets=listeners + ([resident] if resident is not None else []))
    except SystemExit as exc:  # uvicorn exits when it cannot bind or start
        if exc.code not in (0, None):
            raise ConfigInvalidError(
                f"cannot serve on {options.host}:{options.port} (see the message above)",
                field="server.bind") from None


def _listen(host: str, port: int) -> socket.socket:
    """Bind here rather than in uvicorn, so a busy or foreign address is one coded error line,
    not uvicorn's log line followed by an exit."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise ConfigInvalidError(f"cannot serve on {host}:{port}: {reason[:1].lower()}{reason[1:]}",
                                 field="server.bind") from None
    return sock


def _bound_address(server: Any, options: ServeOptions) -> tuple[str, int]:
    """The real port (``--bind HOST:0`` picks a free one)."""
    for listener in getattr(server, "servers", ()):
        for sock in getattr(listener, "sockets", ()):
            if sock.family == socket.AF_UNIX:
                continue
            port = sock.getsockname()[1]
            host = options.host
            return (f"[{host}]" if ":" in host else host), int(port)
    return options.host, options.port
