"""`kravsak serve`: the HTTP API (web/) on uvicorn, configured from kravsak's settings.

The API trusts two issuers (KRAVSAK_OIDC_STAFF_ISSUER, KRAVSAK_OIDC_RESIDENT_ISSUER; by default the
local provider `kravsak up` starts) and records commands on the business clock (the calendar, or a
simulated clock shared with `kravsak automate --clock simulated`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import UUID

from kravsak.settings import Settings, key_provider, office_secret, session_secret
from letters.letterheads import Letterheads
from web.config import ClaimNames, Issuer, WebConfig


def web_config(
    settings: Settings,
    *,
    namespace: UUID | None = None,
    today: Callable[[], date] = date.today,
    allow_synthetic_ids: bool = False,
) -> WebConfig:
    return WebConfig(
        pg_dsn=settings.pg_dsn,
        eventsourcing_env=settings.eventsourcing_env(),
        issuers=(Issuer(settings.staff_issuer, "staff"), Issuer(settings.resident_issuer, "residents")),
        audience=settings.oidc_audience,
        role_map=settings.oidc_roles,
        claims=ClaimNames(
            roles=settings.oidc_role_claim,
            office=settings.oidc_office_claim,
            municipality=settings.oidc_municipality_claim,
            pid=settings.oidc_pid_claim,
        ),
        namespace=namespace,
        today=today,
        max_body=settings.http_max_body,
        max_bulk_body=16 * settings.http_max_body,
        cors_origins=settings.cors_origins,
        office_secret=office_secret(settings),
        allow_synthetic_ids=allow_synthetic_ids,
        keys=key_provider(settings),
        session_secret=session_secret(settings),
        oidc_client_id=settings.oidc_client_id,
        oidc_client_secret=settings.oidc_client_secret,
        public_url=settings.public_url,
        letterheads=Letterheads.load(),
        max_file_body=64 * settings.http_max_body,
        bank_accounts=_office_accounts,
    )


def _office_accounts(day: date) -> Any:
    from kravsak.payments_cli import office_accounts

    return office_accounts(day)


def run(config: WebConfig, host: str, port: int) -> None:
    """Serve until SIGTERM/SIGINT (uvicorn finishes the requests in flight)."""
    import uvicorn

    from web.app import create_app

    uvicorn.run(
        create_app(config),
        host=host,
        port=port,
        log_config=None,  # kravsak.logs renders uvicorn's lines like every other
        access_log=False,  # one http.request line per request comes from the API itself
        server_header=False,
        timeout_graceful_shutdown=20,
    )
