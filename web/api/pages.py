"""Lists come in pages: ``?limit=`` (1–500, default 100) and ``?cursor=`` (opaque: ``next_cursor`` of the
previous page). The answer is ``{"items": [...], "next_cursor": "…" | null}``."""

from __future__ import annotations

import base64
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import Query

from web.problems import invalid_field

Limit = Annotated[int, Query(ge=1, le=500, description="rows per page")]
Cursor = Annotated[str | None, Query(description="next_cursor of the previous page", max_length=2000)]


def encode_cursor(key: list[Any] | None) -> str | None:
    if key is None:
        return None
    raw = json.dumps([plain(v) for v in key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list[Any] | None:
    if cursor is None:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        raise invalid_field("cursor", "not a cursor this API gave (pass next_cursor unchanged)") from None
    if not isinstance(values, list):
        raise invalid_field("cursor", "not a cursor this API gave (pass next_cursor unchanged)")
    return values


def plain(value: Any) -> Any:
    """A read-model value as JSON: money and dates as strings."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (Decimal, UUID)):
        return str(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def plain_dict(value: dict[str, Any]) -> dict[str, Any]:
    return {k: plain(v) for k, v in value.items()}


def page_body(rows: list[dict[str, Any]], next_key: list[Any] | None) -> dict[str, Any]:
    return {"items": [plain(r) for r in rows], "next_cursor": encode_cursor(next_key)}
