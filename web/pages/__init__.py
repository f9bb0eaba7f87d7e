"""The pages for people, served by the same application as the API (``kravsak serve``): the debtor's
own page (``/my``), the caseworker's desk (``/desk``), the complaints board (``/board``), the auditor
(``/audit``) and the dashboard (``/dashboard``). Server-rendered Jinja2, plain HTML forms (no
JavaScript), in bokmål, Swedish and English; login by OpenID Connect (``login``).

Every page is locked: a page opens only with a session (else the browser goes to the login) and only
for the roles ``web.access.PAGES`` names (else 403, the page says so); a case on a page is checked
exactly as the API checks it and its read goes to the access log.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from web import i18n
from web.config import WebConfig
from web.pages import auditor, board, dashboard, debtor, desk, login
from web.pages.core import (
    SESSION_COOKIE,
    LoginRequired,
    SessionStore,
    check_csrf,
    current_user,
    ensure_session_table,
    gettext,
    language,
    login_url,
    redirect,
    render,
    safe_next,
)
from web.problems import Problem
from web.services import Services

STATIC = Path(__file__).resolve().parent.parent / "static"
PAGE_PREFIXES = (
    "/my",
    "/desk",
    "/board",
    "/audit",
    "/dashboard",
    "/login",
    "/logout",
    "/language",
    "/accessibility",
    "/letters",
)


class LazySessions(SessionStore):
    """The session table is made on first use (the application's start belongs to ``Services``)."""

    def __init__(self, services: Services, schema: str) -> None:
        super().__init__(services.pool, schema)
        self._schema, self._ready = schema, False

    def _ensure(self) -> None:
        if not self._ready:
            ensure_session_table(self.pool, self._schema)
            self._ready = True

    def create(self, data: dict[str, Any], expires_at: Any) -> str:
        self._ensure()
        return super().create(data, expires_at)

    def load(self, token: str) -> dict[str, Any] | None:
        self._ensure()
        return super().load(token)


def is_page(request: Request) -> bool:
    path = request.url.path
    return (
        path == "/"
        or any(path == p or path.startswith(p + "/") for p in PAGE_PREFIXES)
        or bool(getattr(request.state, "page", False))
    )


def error_page(request: Request, problem: Problem) -> Response:
    t = gettext(language(request))
    titles = {
        403: (t("You do not have access to this page"), t("Your role does not give access to this page or case.")),
        404: (t("We cannot find the page"), t("Check the address, or start again from the start page.")),
        401: (t("Please log in again"), t("Your login has run out.")),
        503: (t("The service is not available just now"), t("Please try again in a few minutes.")),
    }
    title, text = titles.get(problem.status, (t("Something went wrong"), t("Please try again.")))
    if problem.rule == "csrf":
        text = t("The form was out of date. Go back, reload the page and send it again.")
    user = getattr(request.state, "page_user", None)
    return render(request, "error.html", user, status=problem.status, title=title, text=text)


def install(app: FastAPI, config: WebConfig, services: Services) -> None:
    """Add the pages, their session cookie and their error pages to the API's application."""
    assert config.session_secret is not None
    app.state.sessions = LazySessions(services, config.web_schema)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    r = APIRouter(include_in_schema=False)

    @r.get("/static/kravsak.css")
    def shared_css() -> Response:
        css = resources.files("letters").joinpath("templates/kravsak.css").read_text(encoding="utf-8")
        return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    @r.get("/")
    async def start(request: Request) -> Response:
        user = await current_user(request)
        return redirect(user.home if user else "/login")

    @r.post("/language")
    async def choose_language(request: Request) -> Response:
        form = await request.form()
        check_csrf(request, form, config.public_url)
        lang = str(form.get("lang", ""))
        if lang in i18n.LANGUAGES:
            request.session["lang"] = lang
        return redirect(safe_next(str(form.get("next", "")), "/"))

    @r.get("/accessibility", response_class=HTMLResponse)
    async def accessibility(request: Request) -> Response:
        return render(request, "accessibility.html", await current_user(request))

    # the shared stylesheet is served before the static folder's mount takes /static
    app.router.routes.insert(0, r.routes[0])
    app.include_router(APIRouter(routes=r.routes[1:]))
    app.include_router(login.router(config))
    app.include_router(debtor.router())
    app.include_router(desk.router())
    app.include_router(board.router())
    app.include_router(auditor.router())
    app.include_router(dashboard.router())

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired) -> Response:
        return redirect(login_url(exc.next_path))

    app.add_middleware(
        SessionMiddleware,
        secret_key=config.session_secret.hex(),
        session_cookie=SESSION_COOKIE,
        max_age=config.session_hours * 3600,
        same_site="lax",
        https_only=bool(config.public_url and config.public_url.startswith("https://")),
    )
