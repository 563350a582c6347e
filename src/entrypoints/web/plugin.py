"""The web console as a Litestar plugin on the API's app: its router (session, CSRF, HTML
errors, security headers), templates and vendored static files, and ``/`` -> ``/ui/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Router, get
from litestar.config.app import AppConfig
from litestar.datastructures import MutableScopeHeaders, ResponseHeader
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.plugins import InitPluginProtocol
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from flwd.entrypoints.web.cookies import console_keys, csrf_config, session_config
from flwd.entrypoints.web.errors import HANDLERS, console_or_api, keep_html
from flwd.entrypoints.web.forgery import ForgeryMiddleware
from flwd.entrypoints.web.jobs import JobPages
from flwd.entrypoints.web.runs import RunPages
from flwd.entrypoints.web.signin import SignInPages
from flwd.entrypoints.web.sources import SourcePages
from flwd.entrypoints.web.workers import WorkerPages
from flwd.domain.sessions import ConsoleSessions
from flwd.ports.sealing import SecretKey

HERE = Path(__file__).parent
# Only this server's own files; no inline script or style, no frames, forms post only here.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = [
    ResponseHeader(name="Content-Security-Policy", value=CSP),
    ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
    ResponseHeader(name="Referrer-Policy", value="no-referrer"),
    ResponseHeader(name="X-Frame-Options", value="DENY"),
    ResponseHeader(name="Cache-Control", value="no-store"),
]


@get("/", include_in_schema=False, sync_to_thread=False)
def root() -> Redirect:
    return Redirect("/ui/", status_code=303)


class ConsolePlugin(InitPluginProtocol):
    """Adds the console to an app built by ``create_app``; the pages call the same use cases
    (the app's ``Provide`` dependencies) under the same scopes as the API. With *secret_key*
    (cluster mode's), its sessions and CSRF tokens hold on every replica sharing that key;
    *sessions* (the container's ``console_sessions``) records sign-outs in the run store."""

    def __init__(self, sessions: ConsoleSessions, secret_key: SecretKey | None = None) -> None:
        self._keys = console_keys(secret_key)  # see cookies: derived from the key, or random
        self._sessions = sessions

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        pages = Router(
            path="/ui", route_handlers=[SignInPages, JobPages, RunPages, SourcePages, WorkerPages],
            middleware=[session_config(self._keys).middleware, ForgeryMiddleware,
                        DefineMiddleware(CSRFMiddleware, config=csrf_config(self._keys))],
            exception_handlers=HANDLERS, after_request=keep_html,
            response_headers=SECURITY_HEADERS, include_in_schema=False)
        static = Router(path="/ui/static", response_headers=SECURITY_HEADERS[:2],
                        include_in_schema=False, after_request=keep_html, route_handlers=[create_static_files_router(
                            path="/", directories=[HERE / "static"], include_in_schema=False)])
        app_config.route_handlers.extend([pages, static, root])
        app_config.state["console_sessions"] = self._sessions
        app_config.state["console_csrf_secret"] = self._keys.csrf  # a session's own CSRF cookie
        app_config.template_config = TemplateConfig(directory=HERE / "templates",
                                                    engine=JinjaTemplateEngine)
        app_config.before_send.append(secure_cookies_over_tls)
        api_errors = app_config.exception_handlers.get(HTTPException)
        if api_errors is not None:  # a console path no route takes: a page, not a problem
            app_config.exception_handlers[HTTPException] = console_or_api(
                api_errors, {header.name: str(header.value) for header in SECURITY_HEADERS})
        return app_config


async def secure_cookies_over_tls(message: Any, scope: Any) -> None:
    """``before_send``: over TLS (``https``, as uvicorn reports it behind a trusted proxy too)
    the console's cookies are ``Secure``."""
    if message.get("type") != "http.response.start" or scope.get("scheme") != "https":
        return
    headers = MutableScopeHeaders.from_message(message)
    cookies = headers.getall("set-cookie", [])
    if not cookies:
        return
    del headers["set-cookie"]
    for cookie in cookies:
        headers.add("set-cookie", cookie if "secure" in cookie.lower() else cookie + "; Secure")
