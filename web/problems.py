"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error the API gives has ``type``, ``title``, ``status`` and ``detail``, and the extension
members ``code`` (the scenario contract's stable error code, or one of the edge's own below),
``field`` (the input at fault, or null) and ``rule`` (the rule it breaks, in words). A domain refusal
keeps the contract's code; ``type`` is ``/problems/<code>`` on this API, which explains the code.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from domain.errors import CommandRefused, ErrorCode

PROBLEM_JSON = "application/problem+json"

# The edge's own codes, beside the contract's.
EDGE_CODES: dict[str, tuple[int, str]] = {
    "unauthorized": (401, "No valid token"),
    "forbidden": (403, "Not allowed"),
    "not_found": (404, "No such resource"),
    "idempotency_key_missing": (428, "Idempotency-Key required"),
    "idempotency_key_reused": (422, "Idempotency-Key used for another request"),
    "body_too_large": (413, "Request body too large"),
    "unsupported_media_type": (415, "Unsupported media type"),
    "login_unavailable": (503, "Login provider unreachable"),
    "busy": (503, "Try again"),
    "internal": (500, "Internal error"),
}

DOMAIN_STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID_INPUT: 422,
    ErrorCode.UNKNOWN_INVOICE: 404,
    ErrorCode.DEADLINE_TOO_SHORT: 422,
}
"""A refusal not listed is 409: the case's state (closed, disputed, not due, ...) forbids the step."""

TITLES: dict[str, str] = {
    ErrorCode.INVALID_INPUT: "Invalid input",
    ErrorCode.UNKNOWN_INVOICE: "Unknown invoice",
    ErrorCode.CLAIM_CLOSED: "Claim closed",
    ErrorCode.TIME_BARRED: "Claim time-barred",
    ErrorCode.DEBTOR_DECEASED: "Debtor deceased",
    ErrorCode.NOT_DUE: "Not due",
    ErrorCode.OBJECTION_PENDING: "Objection pending",
    ErrorCode.CLAIM_DISPUTED: "Claim disputed",
    ErrorCode.ROUTE_NOT_AVAILABLE: "Route not available",
    ErrorCode.MISSING_PREREQUISITE: "Missing prerequisite",
    ErrorCode.DEADLINE_TOO_SHORT: "Deadline too short",
    ErrorCode.DEADLINE_NOT_EXPIRED: "Deadline not expired",
    ErrorCode.CONCURRENT_CHANGE: "Changed concurrently",
}

_FIELD_RULE = re.compile(r"^([A-Za-z_][\w.\[\]]*): (.+)$", re.DOTALL)


class Problem(HTTPException):
    """An error to answer with; raise it anywhere below a route (an HTTPException, so FastAPI passes it
    on unchanged even from inside its own body parsing)."""

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        status: int | None = None,
        title: str | None = None,
        field: str | None = None,
        rule: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        known = EDGE_CODES.get(code)
        self.status = status or (known[0] if known else 400)
        super().__init__(self.status, detail, headers)
        self.code = code
        self.title = title or (known[1] if known else TITLES.get(code, code.replace("_", " ").capitalize()))
        self.detail = detail
        self.field = field
        self.rule = rule if rule is not None else detail
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        return {
            "type": f"/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            "field": self.field,
            "rule": self.rule,
            **self.extra,
        }

    def response(self, instance: str | None = None) -> JSONResponse:
        body = self.body()
        if instance:
            body["instance"] = instance
        return JSONResponse(body, status_code=self.status, media_type=PROBLEM_JSON, headers=self.headers)


def from_refusal(refused: CommandRefused) -> Problem:
    """A domain refusal as a problem: the contract's code, the field and rule named in its message."""
    field: str | None = None
    rule = refused.message
    match = _FIELD_RULE.match(refused.message)
    if match and refused.code is ErrorCode.INVALID_INPUT:
        field, rule = match.group(1), match.group(2)
    elif refused.code is ErrorCode.DEADLINE_TOO_SHORT:
        field = "deadline"
    elif refused.code is ErrorCode.UNKNOWN_INVOICE:
        field = "invoice"
    return Problem(
        refused.code.value,
        refused.message,
        status=DOMAIN_STATUS.get(refused.code, 409),
        field=field,
        rule=rule,
    )


def invalid_field(field: str, rule: str) -> Problem:
    return Problem(ErrorCode.INVALID_INPUT.value, f"{field}: {rule}", status=422, field=field, rule=rule)


def catalogue() -> list[dict[str, Any]]:
    """Every code the API answers with, for ``GET /problems``."""
    out = [
        {"code": c.value, "status": DOMAIN_STATUS.get(c, 409), "title": TITLES[c.value], "source": "contract"}
        for c in ErrorCode
    ]
    out += [{"code": c, "status": s, "title": t, "source": "edge"} for c, (s, t) in EDGE_CODES.items()]
    return out
