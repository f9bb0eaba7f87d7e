"""What every page shares: the session, the signed-in person, CSRF, the language, rendering.

- **Session.** Starlette's ``SessionMiddleware`` keeps a small signed cookie (itsdangerous; HttpOnly,
  SameSite=Lax, Secure when the pages are served over https): the language, the CSRF token, the
  login in progress and ``sid``, a random session token. What the session stands for — who logged in,
  with which roles, until when — is in ``kravsak_web.sessions`` under the token's SHA-256, so a
  logout ends it on the server and a stolen cookie dies with it. A resident's identity number is
  never kept: the session holds its keyed opaque id and the register's keyed look-up index, from which
  their debtor records are found.
- **CSRF.** Every form carries the session's token (``csrf_token``); every POST is refused (403)
  unless it matches, and unless its ``Origin`` (when the browser sends one) is the pages' own.
- **Language.** The session's choice, else the browser's ``Accept-Language``, else bokmål.
- **Rendering.** One Jinja2 environment per language with that language's catalogue installed; the
  templates extend the letters' ``base.html`` and share its stylesheet.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import structlog
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape
from psycopg import sql
from psycopg_pool import ConnectionPool
from starlette.concurrency import run_in_threadpool

from web import i18n
from web.access import PAGES, Access
from web.auth import Principal, Role
from web.problems import Problem
from web.services import Services

log = structlog.get_logger("kravsak.web.pages")

SESSION_COOKIE = "kravsak_session"


# --- the server side of sessions ----------------------------------------------------------------


def ensure_session_table(pool: ConnectionPool[Any], schema: str) -> None:
    with pool.connection() as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('kravsak-web-sessions-ddl'))")
        conn.execute(
            sql.SQL(
                "CREATE SCHEMA IF NOT EXISTS {s}; CREATE TABLE IF NOT EXISTS {s}.sessions ("
                "id_hash text PRIMARY KEY, data jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), "
                "expires_at timestamptz NOT NULL)"
            ).format(s=sql.Identifier(schema))
        )


class SessionStore:
    def __init__(self, pool: ConnectionPool[Any], schema: str) -> None:
        self.pool = pool
        self.table = sql.SQL("{}.sessions").format(sql.Identifier(schema))

    @staticmethod
    def _hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def create(self, data: dict[str, Any], expires_at: datetime) -> str:
        token = secrets.token_urlsafe(32)
        with self.pool.connection() as conn:
            conn.execute(sql.SQL("DELETE FROM {} WHERE expires_at < now()").format(self.table))
            conn.execute(
                sql.SQL("INSERT INTO {} (id_hash, data, expires_at) VALUES (%s, %s, %s)").format(self.table),
                (self._hash(token), json.dumps(data), expires_at),
            )
        return token

    def load(self, token: str) -> dict[str, Any] | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                sql.SQL("SELECT data FROM {} WHERE id_hash = %s AND expires_at > now()").format(self.table),
                (self._hash(token),),
            ).fetchone()
        return None if row is None else dict(row[0])

    def drop(self, token: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(sql.SQL("DELETE FROM {} WHERE id_hash = %s").format(self.table), (self._hash(token),))


# --- who is signed in ----------------------------------------------------------------------------


class LoginRequired(Exception):
    """No session: the page sends the browser to log in, and back here afterwards."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass
class User:
    principal: Principal
    access: Access
    lang: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def roles(self) -> frozenset[Role]:
        return self.principal.roles

    def may(self, area: str) -> bool:
        return bool(self.roles & PAGES[area])

    def require(self, area: str, what: str) -> None:
        self.access.require(PAGES[area], what)

    @property
    def name(self) -> str:
        return str(self.data.get("name") or self.principal.subject)

    @property
    def home(self) -> str:
        return home_of(self.roles)


def home_of(roles: frozenset[Role]) -> str:
    for area, path in (("my", "/my"), ("desk", "/desk"), ("board", "/board"), ("audit", "/audit")):
        if roles & PAGES[area]:
            return path
    return "/login"


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def sessions_of(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.sessions
    return store


def principal_data(
    principal: Principal, *, opaque: str | None, expires: datetime, lookup: str | None = None
) -> dict[str, Any]:
    return {
        "kind": principal.kind,
        "subject": principal.subject,
        "issuer": principal.issuer,
        "roles": sorted(principal.roles),
        "office": principal.office,
        "municipality": principal.municipality,
        "opaque": opaque,
        "lookup": lookup,
        "expires": expires.isoformat(),
    }


def _principal(data: dict[str, Any]) -> Principal:
    return Principal(
        kind=str(data["kind"]),
        subject=str(data["subject"]),
        issuer=str(data["issuer"]),
        roles=frozenset(Role(r) for r in data.get("roles", [])),
        office=data.get("office"),
        municipality=data.get("municipality"),
    )


def _user_now(request: Request) -> User | None:
    token = request.session.get("sid")
    if not isinstance(token, str):
        return None
    data = sessions_of(request).load(token)
    if data is None:
        request.session.pop("sid", None)
        return None
    services = services_of(request)
    principal = _principal(data)
    opaque = data.get("opaque")
    lookup = data.get("lookup")
    ids = services.debtor_ids_of(opaque, lookup) if principal.kind == "residents" else []
    access = Access(services, principal, ids if principal.kind == "residents" else None)
    return User(principal, access, language(request), data)


async def current_user(request: Request) -> User | None:
    """The signed-in person, or None (async: the log context binds in the request's own context)."""
    user = await run_in_threadpool(_user_now, request)
    if user is not None:
        structlog.contextvars.bind_contextvars(principal=user.principal.id, roles=",".join(sorted(user.roles)))
        request.state.principal = user.principal
    request.state.page = True
    request.state.page_user = user
    return user


async def signed_in(request: Request) -> User:
    """The signed-in person; without a session the page answers with the way to the login."""
    user = await current_user(request)
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target if request.method == "GET" else "/")
    return user


# --- language, CSRF, flash -----------------------------------------------------------------------


def language(request: Request) -> str:
    chosen = request.session.get("lang")
    if isinstance(chosen, str) and chosen in i18n.LANGUAGES:
        return chosen
    return i18n.negotiate(request.headers.get("accept-language"))


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, form: Any, public_url: str | None) -> None:
    """Refuse a POST whose form lacks the session's token, or that comes from another origin."""
    given = form.get("csrf_token") if form is not None else None
    token = request.session.get("csrf")
    if not isinstance(given, str) or not isinstance(token, str) or not secrets.compare_digest(given, token):
        raise Problem("forbidden", "the form is out of date or not from these pages", rule="csrf")
    origin = request.headers.get("origin")
    if origin and origin != "null":
        own = urlsplit(public_url or str(request.base_url))
        theirs = urlsplit(origin)
        if (theirs.scheme, theirs.netloc) != (own.scheme, own.netloc):
            raise Problem("forbidden", "the form was sent from another site", rule="origin")


def flash(request: Request, text: str, kind: str = "success") -> None:
    request.session.setdefault("flash", []).append([kind, text])


def safe_next(value: str | None, default: str = "/") -> str:
    """A path on this site only (never ``//host`` or a full URL): the target of a redirect after login."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


def redirect(url: str) -> RedirectResponse:
    """303 See Other: after a POST, the browser GETs the result (the back button does not resend the form)."""
    return RedirectResponse(url, status_code=303)


def login_url(next_path: str) -> str:
    return f"/login?next={quote(next_path, safe='/')}"


def session_expiry(token_exp: int | None, hours: int) -> datetime:
    latest = datetime.now(UTC) + timedelta(hours=hours)
    if token_exp is None:
        return latest
    return min(latest, datetime.fromtimestamp(token_exp, UTC))


# --- rendering -----------------------------------------------------------------------------------


def _environment(lang: str) -> Environment:
    env = Environment(
        loader=ChoiceLoader([PackageLoader("web", "templates"), PackageLoader("letters", "templates")]),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(i18n.translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters["money"] = lambda v, cur="NOK": i18n.money(v, cur, lang)
    env.filters["day"] = lambda v, fmt="medium": i18n.day(v, lang, fmt)
    env.filters["moment"] = lambda v: i18n.moment(v, lang)
    env.filters["number"] = lambda v: i18n.number(v, lang)
    env.globals["lang"] = lang
    env.globals["languages"] = i18n.LANGUAGES
    return env


ENVIRONMENTS = {lang: _environment(lang) for lang in i18n.LANGUAGES}


def gettext(lang: str) -> Callable[[str], str]:
    return i18n.translations(lang).gettext


def render(request: Request, template: str, user: User | None, *, status: int = 200, **context: Any) -> HTMLResponse:
    lang = user.lang if user else language(request)
    env = ENVIRONMENTS[lang]
    messages = request.session.pop("flash", []) if "flash" in request.session else []
    params = dict(request.query_params)
    html = env.get_template(f"pages/{template}").render(
        request=request,
        query=lambda **kw: urlencode({k: v for k, v in {**params, **kw}.items() if v not in (None, "")}),
        user=user,
        csrf=csrf_token(request),
        path=request.url.path,
        here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        flashes=messages,
        styles="",
        today=services_of(request).config.today(),
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""A page holds personal data: never cached; no other site's scripts, styles or frames; forms post
to these pages only (the login starts with a link, not a form)."""
