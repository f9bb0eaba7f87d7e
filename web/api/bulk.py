"""Bulk invoice intake for billing systems: ``POST /commands/issue_invoice/bulk``.

The body is a JSON array (``application/json``) or an NDJSON stream (``application/x-ndjson``, one
invoice per line) of up to 10 000 ``issue_invoice`` bodies. The answer is NDJSON, one result per
invoice in the order given, streamed as each batch is stored:

    {"line": 1, "invoice": "F-1", "accepted": true, "case_id": "…", "kid": "…", "channel": "…"}
    {"line": 2, "invoice": "F-2", "accepted": false, "problem": {"code": "invalid_input", "field": "amount", …}}

- Access is decided for the whole request first: every creditor named must be the caller's (a
  billing system's own municipality, a caseworker's office), else 403 and nothing is stored.
- Invoices are stored in batches of 500, each batch in ONE transaction (``unit_of_work``); a refused
  invoice changes nothing and the rest of its batch is stored. A batch that meets a concurrent write
  is run again (the invoice number is the natural key, so nothing is stored twice).
- ``Idempotency-Key`` is required: a repeat gets the first answer, byte for byte; line ``n``'s
  command id is ``<caller>/<key>/<n>``. A client that lost the connection sends the same request
  with the same key again: the batches already stored answer as accepted again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Annotated, Any

import structlog
from eventsourcing.persistence import RecordConflictError
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import TypeAdapter, ValidationError

from domain.claim import claim_id
from domain.errors import CommandRefused
from domain.scenario import run_command
from web.access import Access, Target
from web.api.commands import (
    BILLING,
    CONFLICT_RETRIES,
    KEY_HEADER,
    PROBLEM_RESPONSES,
    REFUSALS,
    IssueInvoice,
    check_key,
    refusal,
    replayed,
    reused,
)
from web.api.deps import access_of
from web.problems import Problem, from_refusal, invalid_field
from web.store import StoredResponse

log = structlog.get_logger("kravsak.web")

NDJSON = "application/x-ndjson"
ROUTE = "/commands/issue_invoice/bulk"
_ITEM = TypeAdapter(IssueInvoice)


def parse_items(raw: bytes, content_type: str, limit: int) -> list[Any]:
    """The invoices as plain JSON values, in order (validation comes per item)."""
    media = content_type.split(";", 1)[0].strip().lower()
    try:
        if media == "application/json":
            items = json.loads(raw)
            if not isinstance(items, list):
                raise invalid_field("body", "a JSON array of invoices")
        elif media in (NDJSON, "application/jsonl", "application/json-seq"):
            items = [json.loads(line) for line in raw.splitlines() if line.strip()]
        else:
            raise Problem(
                "unsupported_media_type",
                f"the body is {media or 'untyped'}",
                rule=f"send application/json (an array) or {NDJSON} (one invoice per line)",
            )
    except (ValueError, UnicodeDecodeError) as e:
        raise invalid_field("body", f"not valid JSON: {e}") from None
    if not items:
        raise invalid_field("body", "at least one invoice")
    if len(items) > limit:
        raise invalid_field("body", f"at most {limit} invoices per request, not {len(items)}")
    return items


def _problem_of(e: ValidationError) -> dict[str, Any]:
    first = e.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "body"
    rule = str(first["msg"]).removeprefix("Value error, ")
    return invalid_field(field, rule).body()


def bulk_intake(request: Request, raw: bytes, key: str, access: Access) -> Response:
    services, principal = access.services, access.principal
    config = services.config
    access.require(BILLING, "bulk invoice intake")
    key = check_key(key)
    items = parse_items(raw, request.headers.get("content-type", ""), config.max_bulk_items)
    digest = "bulk:" + hashlib.sha256(raw).hexdigest()
    parsed: list[IssueInvoice | dict[str, Any]] = []
    for item in items:
        try:
            parsed.append(_ITEM.validate_python(item))
        except ValidationError as e:
            parsed.append(_problem_of(e))
    with services.app() as app:
        for creditor in sorted({p.creditor for p in parsed if isinstance(p, IssueInvoice)}):
            try:
                access.check_command("issue_invoice", BILLING, Target(creditor=creditor), app)
            except CommandRefused as e:
                raise from_refusal(e) from None
        stored = services.idempotency.get(principal.id, key)
    if stored is not None:
        if stored.request_hash != digest:
            raise reused(key)
        return replayed(stored)
    structlog.contextvars.bind_contextvars(bulk_items=len(parsed), idempotency_key=key)
    on = config.today()
    prefix = f"{principal.id}/{key}"

    def lines() -> Iterator[bytes]:
        written: list[bytes] = []
        accepted = 0
        with services.app() as app:
            for start in range(0, len(parsed), config.bulk_batch):
                batch = parsed[start : start + config.bulk_batch]
                for attempt in range(CONFLICT_RETRIES):
                    try:
                        results = _store_batch(app, batch, start, on, prefix)
                        break
                    except RecordConflictError:
                        log.info("bulk.conflict_retry", first_line=start + 1, attempt=attempt + 1)
                else:
                    results = [
                        {"line": start + i + 1, "accepted": False, "problem": Problem("busy", "try again").body()}
                        for i in range(len(batch))
                    ]
                chunk = b"".join(
                    json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode() + b"\n" for r in results
                )
                accepted += sum(1 for r in results if r["accepted"])
                written.append(chunk)
                yield chunk
        body = b"".join(written)
        services.idempotency.put(principal.id, key, StoredResponse(ROUTE, digest, 200, NDJSON, body))
        log.info("bulk.done", invoices=len(parsed), accepted=accepted)

    return StreamingResponse(lines(), media_type=NDJSON)


def _store_batch(app: Any, batch: list[Any], start: int, on: Any, prefix: str) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    with app.unit_of_work():
        app.preload_invoices([(b.creditor, b.invoice, b.debtor) for b in batch if isinstance(b, IssueInvoice)])
        app.preload_commands(
            "creditor",
            [(b.creditor, f"{prefix}/{start + i + 1}") for i, b in enumerate(batch) if isinstance(b, IssueInvoice)],
        )
        for i, item in enumerate(batch):
            line = start + i + 1
            if not isinstance(item, IssueInvoice):
                results.append({"line": line, "accepted": False, "problem": item})
                continue
            step = {"on": on, **item.model_dump(exclude={"creditor"}), "amount": str(item.amount)}
            try:
                out = run_command(
                    app,
                    creditor=item.creditor,
                    do="issue_invoice",
                    step=step,
                    command_id=f"{prefix}/{line}",
                    debtors=(item.debtor,),
                )
            except REFUSALS as e:
                results.append({"line": line, "invoice": item.invoice, "accepted": False, "problem": refusal(e).body()})
                continue
            case = str(claim_id(app.namespace, item.creditor, item.invoice))
            results.append({"line": line, "invoice": item.invoice, "accepted": True, "case_id": case, **out})
    return results


def router() -> APIRouter:
    r = APIRouter()

    @r.post(
        ROUTE,
        tags=["commands"],
        summary="Bulk invoice intake: up to 10 000 invoices, one NDJSON result per invoice",
        response_class=StreamingResponse,
        responses={200: {"content": {NDJSON: {}}, "description": "one result per invoice"}, **PROBLEM_RESPONSES},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"type": "array", "items": {"$ref": "#/components/schemas/IssueInvoice"}}
                    },
                    NDJSON: {"schema": {"$ref": "#/components/schemas/IssueInvoice"}},
                },
            }
        },
    )
    async def issue_invoices(
        request: Request,
        key: Annotated[str, Header(alias=KEY_HEADER, description="the batch's command id")],
        access: Annotated[Access, Depends(access_of)],
    ) -> Response:
        from starlette.concurrency import run_in_threadpool

        raw = await request.body()
        return await run_in_threadpool(bulk_intake, request, raw, key, access)

    return r
