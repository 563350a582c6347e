"""Sign-in and sign-out pages."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from flwd.domain.errors import AuthUnauthenticatedError, RunStoreError
from flwd.entrypoints.http.problems import status_for
from flwd.entrypoints.web.errors import error_page, shown_principal
from flwd.entrypoints.web.forgery import fresh_csrf_cookie
from flwd.entrypoints.web.session import end_session, start_session

HOME = "/ui/jobs"
NOT_ENDED = ("the session was NOT ended and you are still signed in: the run store cannot "
             "record the sign-out right now. Try again; until then a copy of this browser's "
             "session cookie would still be accepted")
_log = logging.getLogger("flwd.http")


def safe_next(target: object) -> str:
    """Where to go after signing in: only a console path of this server (no open redirect)."""
    text = str(target or "")
    if (not text.startswith("/ui/") or "\\" in text or len(text) > 2048
            or not text.isprintable()):  # no header splitting through a line break
        return HOME
    return text


class SignInPages(Controller):
    path = "/"

    @get("/", sync_to_thread=False)
    def index(self) -> Redirect:
        return Redirect(HOME, status_code=303)

    @get("/signin", sync_to_thread=True)  # a signed-in visitor's session: a store lookup
    def signin_form(self, request: Request[Any, Any, Any],
                    next: FromQuery[str | None] = None) -> Template:
        return Template(template_name="signin.html", context={
            "next": safe_next(next), "me": shown_principal(request), "error": ""})

    @post("/signin", status_code=200)
    async def signin(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        """The token travels only in this request's body; the session keeps its digest. The
        session comes with a CSRF cookie of its own (whatever cookie the browser came with)."""
        form = await request.form()
        target = safe_next(form.get("next"))
        csrf_cookie, binding = fresh_csrf_cookie(request.app.state.console_csrf_secret)
        try:
            start_session(request, str(form.get("token") or "").strip(), binding)
        except AuthUnauthenticatedError:
            return Template(template_name="signin.html", status_code=401, context={
                "next": target, "me": None,
                "error": "That token is not a configured API token."})
        return Redirect(target, status_code=303, cookies=[csrf_cookie])

    @post("/signout", status_code=200, sync_to_thread=True)
    def signout(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """Ends the session on every replica (the store records it), or says it did not."""
        try:
            end_session(request)
        except RunStoreError as exc:
            _log.error("sign-out not recorded: [%s] %s", exc.code, exc.detail)
            return error_page(request, status_for(exc.code), exc.code, NOT_ENDED)
        return Redirect("/ui/signin", status_code=303)
