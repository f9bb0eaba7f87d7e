"""Logging people in: OpenID Connect's authorization code flow with PKCE, against the same two issuers
the API trusts (residents: ID-porten or BankID; staff: the municipality's provider).

1. ``GET /login/{residents|staff}`` makes ``state``, ``nonce`` and a PKCE ``code_verifier`` (S256
   challenge), keeps them in the signed session cookie and sends the browser to the issuer's
   ``authorization_endpoint`` (from its discovery document).
2. ``GET /login/callback`` checks ``state``, exchanges the code at the ``token_endpoint`` with the
   verifier, checks the ID token (signature, issuer, audience = our client id, expiry, ``nonce``) and
   the access token exactly as the API checks a bearer token (``web.auth``) — its roles, office and
   ``pid`` make the principal. A staff login without a kravsak role is refused. A new session is made
   (new token, new CSRF token: no fixation) and the browser goes where it was headed.
3. ``POST /logout`` ends the session on the server and in the cookie.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any

import httpx
import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from web.config import WebConfig
from web.pages.core import (
    check_csrf,
    current_user,
    flash,
    gettext,
    home_of,
    language,
    principal_data,
    redirect,
    render,
    safe_next,
    services_of,
    session_expiry,
    sessions_of,
)
from web.problems import Problem

log = structlog.get_logger("kravsak.web.login")

LOGIN_TTL_S = 600  # a login must come back within ten minutes


class Discovery:
    """The issuers' discovery documents (authorization and token endpoints), cached for an hour."""

    def __init__(self) -> None:
        self._docs: dict[str, tuple[float, dict[str, Any]]] = {}

    def document(self, issuer: str) -> dict[str, Any]:
        cached = self._docs.get(issuer)
        if cached and time.monotonic() - cached[0] < 3600:
            return cached[1]
        try:
            answer = httpx.get(f"{issuer.rstrip('/')}/.well-known/openid-configuration", timeout=10)
            answer.raise_for_status()
            doc: dict[str, Any] = answer.json()
        except (httpx.HTTPError, ValueError) as e:
            raise Problem("login_unavailable", f"the login provider {issuer} does not answer: {e}") from None
        if doc.get("issuer") != issuer:
            raise Problem("login_unavailable", f"the discovery document of {issuer} names another issuer")
        self._docs[issuer] = (time.monotonic(), doc)
        return doc


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _redirect_uri(request: Request, config: WebConfig) -> str:
    base = config.public_url or str(request.base_url).rstrip("/")
    return f"{base}/login/callback"


def router(config: WebConfig) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    discovery = Discovery()
    issuers = {i.kind: i.url for i in config.issuers}

    @r.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request, next: str | None = None) -> Response:
        user = await current_user(request)
        if user is not None:
            return redirect(safe_next(next, user.home))
        return render(request, "login.html", None, next=safe_next(next, ""))

    @r.get("/login/callback")
    async def callback(request: Request) -> Response:
        pending = request.session.pop("oidc", None)
        q = request.query_params
        if not isinstance(pending, dict) or time.time() - int(pending.get("at", 0)) > LOGIN_TTL_S:
            return _failed(request, "expired")
        if not secrets.compare_digest(str(q.get("state", "")), str(pending["state"])):
            return _failed(request, "state")
        if q.get("error") or not q.get("code"):
            log.info("login.refused_by_provider", error=q.get("error"))
            return _failed(request, "provider")
        try:
            user_data = await run_in_threadpool(_finish, request, config, discovery, pending, str(q["code"]))
        except Problem as p:
            log.info("login.failed", code=p.code, detail=p.detail)
            return _failed(request, "no_role" if p.code == "forbidden" else "token")
        token = sessions_of(request).create(
            user_data, session_expiry(user_data.pop("_exp", None), config.session_hours)
        )
        lang = request.session.get("lang")
        request.session.clear()
        request.session["sid"] = token
        request.session["csrf"] = secrets.token_urlsafe(32)
        if lang:
            request.session["lang"] = lang
        log.info("login.done", principal=f"{user_data['kind']}:{user_data['subject']}", roles=user_data["roles"])
        from web.auth import Role

        roles = frozenset(Role(x) for x in user_data["roles"])
        return redirect(safe_next(pending.get("next"), home_of(roles)))

    @r.get("/login/{kind}")
    def start(request: Request, kind: str, next: str | None = None) -> Response:
        if kind not in issuers:
            raise Problem("not_found", f"no login {kind!r}")
        issuer = issuers[kind]
        doc = discovery.document(issuer)
        state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        request.session["oidc"] = {
            "kind": kind,
            "state": state,
            "nonce": nonce,
            "verifier": verifier,
            "next": safe_next(next, ""),
            "at": int(time.time()),
        }
        params = httpx.QueryParams(
            response_type="code",
            client_id=config.oidc_client_id,
            redirect_uri=_redirect_uri(request, config),
            scope="openid",
            state=state,
            nonce=nonce,
            code_challenge=_challenge(verifier),
            code_challenge_method="S256",
            ui_locales=language(request),
        )
        return RedirectResponse(f"{doc['authorization_endpoint']}?{params}", status_code=303)

    @r.post("/logout")
    async def logout(request: Request) -> Response:
        form = await request.form()
        check_csrf(request, form, config.public_url)
        token = request.session.get("sid")
        if isinstance(token, str):
            await run_in_threadpool(sessions_of(request).drop, token)
        lang = request.session.get("lang")
        request.session.clear()
        if lang:
            request.session["lang"] = lang
        flash(request, gettext(language(request))("You are logged out."))
        return redirect("/login")

    return r


def _failed(request: Request, why: str) -> HTMLResponse:
    return render(request, "login.html", None, status=401, failed=why, next="")


def _finish(
    request: Request, config: WebConfig, discovery: Discovery, pending: dict[str, Any], code: str
) -> dict[str, Any]:
    services = services_of(request)
    issuer = {i.kind: i.url for i in config.issuers}[pending["kind"]]
    doc = discovery.document(issuer)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": _redirect_uri(request, config),
        "client_id": config.oidc_client_id,
        "code_verifier": pending["verifier"],
    }
    if config.oidc_client_secret:
        form["client_secret"] = config.oidc_client_secret
    try:
        answer = httpx.post(doc["token_endpoint"], data=form, timeout=15)
    except httpx.HTTPError as e:
        raise Problem("login_unavailable", f"the token endpoint does not answer: {e}") from None
    if answer.status_code != 200:
        raise Problem("unauthorized", f"the token endpoint refused the code ({answer.status_code})")
    tokens = answer.json()
    verifier = services.verifier
    verifier.verify_id_token(str(tokens.get("id_token", "")), issuer, config.oidc_client_id, pending["nonce"])
    principal, claims = verifier.person(str(tokens.get("access_token", "")))
    if principal.kind != pending["kind"]:
        raise Problem("unauthorized", "the token comes from the other issuer")
    if not principal.is_person:
        raise Problem("forbidden", "this login has no role in kravsak's pages")
    opaque = services.opaque_of_person(principal.pid) if principal.pid else None
    if principal.kind == "residents" and opaque is None:
        raise Problem("forbidden", "the identity number in the login is not one kravsak can read")
    lookup = services.register_lookup_of_person(principal.pid) if principal.pid else None
    expires = session_expiry(claims.get("exp"), config.session_hours)
    data = principal_data(principal, opaque=opaque, expires=expires, lookup=lookup)
    data["_exp"] = claims.get("exp")
    return data
