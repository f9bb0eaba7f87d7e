"""Dependencies every route shares: the services of the process and the caller's access."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from web.access import Access
from web.services import Services


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def access_of(
    request: Request,
    services: Annotated[Services, Depends(services_of)],
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Access:
    """The verified caller (401 problem otherwise); their principal id goes into every log line.

    Async, so the binding lands in the request's own context (the routes run in worker threads on a
    copy of it); the check itself runs in a thread, since a key set may have to be fetched, unless the
    token was verified before and has not expired (``TokenVerifier.remembered``)."""
    principal = services.verifier.remembered(authorization)  # a token seen before: no thread hop
    if principal is None:
        principal = await run_in_threadpool(services.verifier.principal, authorization)
    structlog.contextvars.bind_contextvars(principal=principal.id, roles=",".join(sorted(principal.roles)))
    request.state.principal = principal
    return Access(services, principal)
