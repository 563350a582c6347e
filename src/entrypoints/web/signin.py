"""Sign-in and sign-out pages."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from flwd.domain.errors import AuthUnauthenticatedError
from flwd.entrypoints.web.session import end_session, session_principal, start_session

HOME = "/ui/jobs"


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

    @get("/signin", sync_to_thread=False)
    def signin_form(self, request: Request[Any, Any, Any],
                    next: FromQuery[str | None] = None) -> Template:
        return Template(template_name="signin.html", context={
            "next": safe_next(next), "me": session_principal(request), "error": ""})

    @post("/signin", status_code=200)
    async def signin(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        """The token travels only in this request's body; the session keeps its digest."""
        form = await request.form()
        target = safe_next(form.get("next"))
        try:
            start_session(request, str(form.get("token") or "").strip())
        except AuthUnauthenticatedError:
            return Template(template_name="signin.html", status_code=401, context={
                "next": target, "me": None,
                "error": "That token is not a configured API token."})
        return Redirect(target, status_code=303)

    @post("/signout", status_code=200, sync_to_thread=False)
    def signout(self, request: Request[Any, Any, Any]) -> Redirect:
        end_session(request)
        return Redirect("/ui/signin", status_code=303)
