"""History for auditors, straight from the event store (not the read models):

- ``GET /cases/{creditor}/{invoice}/as-of/{day}``: the case as it was KNOWN on ``day`` — folded
  from its events recorded on or before that day (an objection registered later, though received
  earlier, is not in it), with its figures, findings and the steps as the office saw them then.
- ``GET /cases/{creditor}/{invoice}/events``: every event of the case with all its fields.
- ``GET /events?after=&limit=``: the export of the whole notification log, in order, in pages.
"""

from __future__ import annotations

import dataclasses
import itertools
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from domain.application import CollectionApp
from domain.claim import Claim, claim_id
from domain.errors import CommandRefused
from web.access import Access
from web.api.deps import access_of
from web.api.pages import Limit, plain_dict
from web.api.queries import CreditorPath, InvoicePath, log_reads
from web.api.types import Day
from web.auth import Role
from web.problems import Problem, from_refusal
from web.store import CaseRead

AccessDep = Annotated[Access, Depends(access_of)]
HIDDEN = frozenset({"originator_topic"})


def event_record(event: Any, position: int | None = None) -> dict[str, Any]:
    """One stored event as JSON: its type (``Claim.NoticeSent`` → ``ClaimNoticeSent``) and every field."""
    qualname = type(event).__qualname__
    fields = {f.name: getattr(event, f.name) for f in dataclasses.fields(event) if f.name not in HIDDEN}
    record = {
        "type": qualname.replace(".", ""),
        "aggregate_id": fields.pop("originator_id"),
        "version": fields.pop("originator_version"),
        "timestamp": fields.pop("timestamp"),
        "fields": fields,
    }
    if position is not None:
        record = {"position": position, **record}
    return plain_dict(record)


def known_on(app: CollectionApp, creditor: str, invoice: str, day: date) -> tuple[Claim | None, list[Any]]:
    """The claim folded from the events recorded on or before ``day`` (the longest such prefix), and those events."""
    events: list[Any] = list(app.events.get(claim_id(app.namespace, creditor, invoice)))
    known = list(itertools.takewhile(lambda e: getattr(e, "recorded", day) <= day, events))
    claim: Any = None
    for event in known:
        claim = event.mutate(claim)
    return claim, known


def router() -> APIRouter:
    r = APIRouter(tags=["history"])

    def audited_case(request: Request, access: Access, creditor: str, invoice: str) -> str:
        access.require({Role.AUDITOR}, "a case's history")
        with access.services.app() as app:
            try:
                case = access.case(app, creditor, invoice)
            except CommandRefused as e:
                raise from_refusal(e) from None
        request.state.case_id = case.case_id
        log_reads(request, access, [CaseRead(case.case_id, creditor, invoice)])
        return case.case_id

    @r.get("/cases/{creditor}/{invoice}/as-of/{day}", summary="The case as it was known on a past date")
    def as_of(
        request: Request,
        access: AccessDep,
        creditor: CreditorPath,
        invoice: InvoicePath,
        day: Annotated[Day, Path(description="ISO date")],
    ) -> dict[str, Any]:
        case_id = audited_case(request, access, creditor, invoice)
        with access.services.app() as app:
            claim, known = known_on(app, creditor, invoice, day)
            if claim is None:
                raise Problem("not_found", f"invoice {invoice} of creditor {creditor} was not yet known on {day}")
            figures = app.claim_report(claim, day)
        findings = [
            {"command_id": f.command_id, "code": f.code, "severity": f.severity.value, "message": f.message}
            for f in claim.audit().findings
        ]
        return plain_dict(
            {
                "creditor": creditor,
                "invoice": invoice,
                "case_id": case_id,
                "known_on": day,
                "events_known": len(known),
                "last_recorded": getattr(known[-1], "recorded", None),
                **figures,
                "steps": [
                    {
                        "type": type(e).__qualname__.replace(".", ""),
                        "version": e.originator_version,
                        "effective": getattr(e, "effective", None),
                        "recorded": getattr(e, "recorded", None),
                    }
                    for e in known
                ],  # fmt: skip
                "findings": findings,
            }
        )

    @r.get("/cases/{creditor}/{invoice}/events", summary="Every stored event of the case, all fields")
    def case_events(
        request: Request, access: AccessDep, creditor: CreditorPath, invoice: InvoicePath
    ) -> dict[str, Any]:
        audited_case(request, access, creditor, invoice)
        with access.services.app() as app:
            events = list(app.events.get(claim_id(app.namespace, creditor, invoice)))
        return {"creditor": creditor, "invoice": invoice, "events": [event_record(e) for e in events]}

    @r.get("/events", summary="Export of the event store's notification log, in order (auditors)")
    def export(
        access: AccessDep,
        after: Annotated[int, Query(ge=0, description="the last position already read")] = 0,
        limit: Limit = 100,
    ) -> dict[str, Any]:
        access.require({Role.AUDITOR}, "the event export")
        with access.services.app() as app:
            notifications = app.notification_log.select(start=after + 1, limit=limit)
            items = [event_record(app.mapper.to_domain_event(n), n.id) for n in notifications]
        return {"items": items, "next_after": items[-1]["position"] if len(items) == limit else None}

    return r
