"""The HTTP API: ``create_app(config)`` assembles FastAPI with its routes, limits and error handling.

- ``/health`` (the process answers) and ``/ready`` (PostgreSQL answers, the domain is loaded) need
  no token: a gateway's probes use them. Everything else needs a bearer token (``web.auth``).
- Every request gets a request id (the caller's ``X-Request-ID`` when it is sane, else a new one),
  echoed in the response and bound into every log line of the request together with the route, the
  principal and the case; one ``http.request`` line per request closes it (status, milliseconds).
- Bodies are limited (``WebConfig.max_body``; bulk intake ``max_bulk_body``): a larger one is
  refused with 413 before it is read whole.
- Errors are problem details (``web.problems``), never a traceback; CORS is off unless origins are
  configured.
- OpenAPI at ``/openapi.json``, the docs page at ``/docs``.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import fastapi_offline
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web import pages
from web.api import bulk, commands, history, payments, queries
from web.config import WebConfig
from web.problems import EDGE_CODES, Problem, catalogue, invalid_field
from web.services import Services

log = structlog.get_logger("kravsak.web")

DOCS_STATIC = Path(fastapi_offline.__file__).parent / "static"  # Swagger UI 5, shipped in the package
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class BodyTooLarge(Problem):
    def __init__(self, limit: int) -> None:
        super().__init__("body_too_large", f"the request body exceeds {limit} bytes", rule=f"at most {limit} bytes")


class RequestContext:
    """Pure ASGI middleware (so context variables set by the routes' async dependencies reach it)."""

    def __init__(self, app: ASGIApp, config: WebConfig) -> None:
        self.app, self.config = app, config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        given = headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        path = scope["path"]
        limit = self.config.max_bulk_body if path.endswith("/bulk") else self.config.max_body
        if path == "/payments/files":
            limit = self.config.max_file_body
        started = time.perf_counter()
        status = 500
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id, method=scope["method"], route=path)

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            declared = headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                await _send_problem(BodyTooLarge(limit), send_with_id)
                return
            seen = 0

            async def limited() -> Message:
                nonlocal seen
                message = await receive()
                if message["type"] == "http.request":
                    seen += len(message.get("body", b""))
                    if seen > limit:
                        raise BodyTooLarge(limit)
                return message

            await self.app(scope, limited, send_with_id)
        finally:
            state = scope.get("state", {})
            principal = state.get("principal")
            log.info(
                "http.request",
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 1),
                principal=getattr(principal, "id", None),
                case_id=state.get("case_id"),
            )
            structlog.contextvars.clear_contextvars()


async def _send_problem(problem: Problem, send: Send) -> None:
    response = problem.response()
    await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


def create_app(config: WebConfig, services: Services | None = None) -> FastAPI:
    services = services or Services(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(services.start)
        log.info("web.started", issuers=[i.url for i in config.issuers], audience=config.audience)
        try:
            yield
        finally:
            await run_in_threadpool(services.close)

    app = FastAPI(
        title="kravsak",
        version="1",
        summary="Municipal debt collection: commands, queries and history of the collection cases",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    # The docs page's scripts are served from the package, not a CDN: behind a municipal gateway
    # the API may reach nothing outside.
    app.mount("/docs/static", StaticFiles(directory=DOCS_STATIC), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="kravsak API",
            swagger_js_url="/docs/static/swagger-ui-bundle.js",
            swagger_css_url="/docs/static/swagger-ui.css",
            swagger_favicon_url="/docs/static/favicon.png",
        )

    pages_on = config.session_secret is not None

    @app.exception_handler(Problem)
    async def on_problem(request: Request, problem: Problem) -> Response:
        if problem.status >= 500:
            log.warning("http.problem", code=problem.code, detail=problem.detail)
        if pages_on and pages.is_page(request):
            return pages.error_page(request, problem)
        return problem.response(request.url.path)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        for e in errors:
            if tuple(e.get("loc", ())) == ("header", commands.KEY_HEADER) and e.get("type") == "missing":
                return Problem(
                    "idempotency_key_missing",
                    "a command needs an Idempotency-Key header",
                    field=commands.KEY_HEADER,
                    rule="send Idempotency-Key: <your command id> (a UUID will do); a repeat sends the same key",
                ).response(request.url.path)
        first = errors[0] if errors else {"loc": ("body",), "msg": "invalid"}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
        field = ".".join(loc) or str(first.get("loc", ("body",))[0])
        rule = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        problem = invalid_field(field, rule)
        problem.extra = {
            "errors": [
                {
                    "field": ".".join(str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path", "header")),
                    "rule": str(e.get("msg", "")).removeprefix("Value error, "),
                }
                for e in errors
            ]
        }
        return problem.response(request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "not_found"}.get(exc.status_code, "invalid_input")
        problem = Problem(code, str(exc.detail), status=exc.status_code)
        if pages_on and pages.is_page(request):
            return pages.error_page(request, problem)
        return problem.response(request.url.path)

    @app.exception_handler(Exception)
    async def on_bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("http.unhandled", error=type(exc).__name__)
        return Problem("internal", "an internal error; the request id names it in the logs").response(request.url.path)

    @app.get("/health", tags=["operations"], summary="Liveness: the process answers")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", tags=["operations"], summary="Readiness: PostgreSQL answers and the domain is loaded")
    def ready() -> JSONResponse:
        try:
            with services.pool.connection(timeout=3) as conn:
                conn.execute("SELECT 1")
        except Exception as e:  # any failure means: not ready
            return Problem("busy", f"PostgreSQL does not answer: {type(e).__name__}", status=503).response("/ready")
        if not services.started:
            return Problem("busy", "starting", status=503).response("/ready")
        return JSONResponse({"status": "ready"})

    @app.get("/problems", tags=["operations"], summary="Every error code the API answers with")
    def problems() -> list[dict[str, Any]]:
        return catalogue()

    @app.get("/problems/{code}", tags=["operations"], summary="One error code")
    def problem(code: str) -> dict[str, Any]:
        for entry in catalogue():
            if entry["code"] == code:
                return entry
        raise Problem("not_found", f"no error code {code!r}", field="code")

    app.include_router(bulk.router())  # before the per-command routes: /commands/issue_invoice/bulk
    app.include_router(commands.router())
    app.include_router(queries.router())
    app.include_router(history.router())
    app.include_router(payments.router())
    if pages_on:
        pages.install(app, config, services)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
            schemes = {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                **{
                    f"oidc_{i.kind}": {
                        "type": "openIdConnect",
                        "openIdConnectUrl": f"{i.url.rstrip('/')}/.well-known/openid-configuration",
                    }
                    for i in config.issuers
                },
            }
            schema.setdefault("components", {})["securitySchemes"] = schemes
            open_paths = {"/health", "/ready", "/problems", "/problems/{code}"}
            for path, operations in schema.get("paths", {}).items():
                for operation in operations.values():
                    operation["security"] = [] if path in open_paths else [{"bearer": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    wrapped: ASGIApp = app
    if config.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", commands.KEY_HEADER, "X-Request-ID"],
            expose_headers=["X-Request-ID", "Idempotent-Replayed"],
        )
    app.add_middleware(RequestContext, config=config)
    del wrapped
    return app


__all__ = ["EDGE_CODES", "create_app"]
