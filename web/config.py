"""What the HTTP edge needs to know, handed in by the composition root (``kravsak serve``).

The edge reads no environment variables itself: ``kravsak.settings`` does, and builds a
``WebConfig``. Tests build one directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID


@dataclass(frozen=True)
class Issuer:
    """One OpenID issuer the API trusts, and what kind of person its tokens speak for."""

    url: str  # exactly the tokens' ``iss``
    kind: str  # "staff" (roles from the role claim) or "residents" (every token is a debtor)


@dataclass(frozen=True)
class ClaimNames:
    roles: str = "roles"
    office: str = "office"
    municipality: str = "municipality"
    pid: str = "pid"


@dataclass(frozen=True)
class WebConfig:
    pg_dsn: str
    eventsourcing_env: dict[str, str]
    issuers: tuple[Issuer, ...]
    audience: str
    role_map: tuple[tuple[str, str], ...]  # (claim value, role)
    claims: ClaimNames = field(default_factory=ClaimNames)
    namespace: UUID | None = None  # the domain's id namespace (None: the domain's default)
    today: Callable[[], date] = date.today  # the business clock commands are recorded on
    max_body: int = 1_048_576
    max_bulk_body: int = 16 * 1_048_576
    max_bulk_items: int = 10_000
    bulk_batch: int = 500  # invoices saved per unit of work
    cors_origins: tuple[str, ...] = ()
    apps: int = 4  # CollectionApp instances (each with its own connections) shared by request threads
    jwks_cache_seconds: int = 300
    service_name: str = "kravsak"
    web_schema: str = "kravsak_web"  # the edge's own tables (idempotency, access log)
    office_secret: bytes | None = None  # keys the opaque debtor ids (None: in-memory only; a store refuses)
    allow_synthetic_ids: bool = False  # test identity numbers (Tenor, Dolly, Skatteverket's): test systems only
    # --- the pages for people (web.pages) ---
    keys: Any = None  # personal.keys.KeyProvider: seals messages under the debtor's key (None: no messages)
    session_secret: bytes | None = None  # signs the session cookie (None: pages off)
    oidc_client_id: str = "kravsak-web"
    oidc_client_secret: str | None = None
    public_url: str | None = None  # as browsers see the pages (None: from each request)
    session_hours: int = 8  # a session ends after this at the latest (and with the login's access token)
    letterheads: Any = None  # letters.letterheads.Letterheads: the account to pay to (None: not shown)
    max_file_body: int = 64 * 1_048_576  # POST /payments/files: one bank file
    bank_accounts: Callable[[date], Any] | None = None  # the office's accounts on a day (intake OfficeAccounts)
