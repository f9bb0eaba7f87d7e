"""Queries: the read models (ledger, limitation watch, audit trail, parties) as the office, the board,
auditors and debtors ask for them. A case is named by its creditor and invoice number.

Every read of a case by a person — one case, or each case on a page of a list — is written to the
access log (who, when, which case, which route) before the answer leaves.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, Path, Query, Request

from domain.errors import CommandRefused
from domain.parties import debtor_id_for
from projections import audit_trail, casework, ledger, limitation
from projections.audit_trail import AuditTrail
from projections.base import schema_name
from projections.ledger import Ledger
from projections.limitation import LimitationWatch
from projections.parties import Parties
from web.access import CASE_READERS, CASEWORK, OFFICE_READERS, Access, Case
from web.api.deps import access_of
from web.api.pages import Cursor, Limit, decode_cursor, page_body, plain_dict
from web.api.types import Day
from web.auth import Role
from web.problems import Problem, from_refusal, invalid_field
from web.store import CaseRead

AccessDep = Annotated[Access, Depends(access_of)]
CreditorPath = Annotated[str, Path(pattern=r"^\d{4}$", description="municipality number")]
InvoicePath = Annotated[str, Path(min_length=1, max_length=64)]
PROJECTIONS = (Ledger.name, LimitationWatch.name, AuditTrail.name, Parties.name)
OfficeQuery = Annotated[str | None, Query(max_length=64, description="auditors: one office (default all)")]


def log_reads(request: Request, access: Access, cases: list[CaseRead]) -> None:
    if access.principal.is_person:
        access.services.access_log.record(
            access.principal.id,
            ",".join(sorted(access.principal.roles)),
            request.scope.get("route").path if request.scope.get("route") else request.url.path,  # type: ignore[union-attr]
            getattr(request.state, "request_id", "-"),
            cases,
        )


def readable_case(request: Request, access: Access, creditor: str, invoice: str) -> Case:
    access.require(CASE_READERS, "reading a case")
    with access.services.app() as app:
        try:
            case = access.case(app, creditor, invoice)
        except CommandRefused as e:
            raise from_refusal(e) from None
    access.check_read(case)
    request.state.case_id = case.case_id
    log_reads(request, access, [CaseRead(case.case_id, creditor, invoice)])
    return case


def listing(run: Callable[[], casework.Page]) -> casework.Page:
    try:
        return run()
    except (ValueError, psycopg.errors.DataError):
        raise invalid_field("cursor", "not a cursor of this list (pass next_cursor unchanged)") from None
    except psycopg.errors.UndefinedTable:
        return casework.Page([], None)  # the projection does not exist yet


def logged_page(request: Request, access: Access, page: casework.Page) -> dict[str, Any]:
    log_reads(
        request,
        access,
        [CaseRead(r["case_id"], r.get("creditor_id"), r.get("invoice")) for r in page.rows if "case_id" in r],
    )
    return page_body(page.rows, page.next)


def router() -> APIRouter:
    r = APIRouter(tags=["queries"])

    @r.get("/cases/{creditor}/{invoice}", summary="A case: figures as of a date, limitation, estate")
    def case_view(
        request: Request,
        access: AccessDep,
        creditor: CreditorPath,
        invoice: InvoicePath,
        on: Annotated[Day | None, Query(description="figures as of this date (default: today)")] = None,
    ) -> dict[str, Any]:
        case = readable_case(request, access, creditor, invoice)
        day = on or access.services.config.today()
        with access.services.cursor() as cur:
            try:
                figures = ledger.claim_view(cur, schema_name("ledger"), case.case_id, day, full=True)
                estate = limitation.estate_view(cur, schema_name("limitation"), case.case_id, day)
                why = limitation.explain(cur, schema_name("limitation"), case.case_id, day)
            except psycopg.errors.UndefinedTable:
                figures = None
        if figures is None:
            raise Problem(
                "not_found",
                f"invoice {invoice} is stored but not yet in the read models",
                rule="the projections follow the event store within seconds; ask again",
                headers={"Retry-After": "2"},
            )
        return plain_dict(
            {
                "creditor": creditor,
                "invoice": invoice,
                "case_id": case.case_id,
                "on": day,
                **figures,
                **estate,
                "limitation": why,
            }
        )

    @r.get("/cases/{creditor}/{invoice}/ledger", summary="A case's ledger postings")
    def case_ledger(
        request: Request, access: AccessDep, creditor: CreditorPath, invoice: InvoicePath, limit: Limit = 100,
        cursor: Cursor = None,
    ) -> dict[str, Any]:  # fmt: skip
        case = readable_case(request, access, creditor, invoice)
        with access.services.cursor() as cur:
            page = listing(lambda: casework.postings(cur, case.case_id, limit, decode_cursor(cursor)))
        return page_body(page.rows, page.next)

    @r.get("/cases/{creditor}/{invoice}/trail", summary="The audit trail: every step, then the findings (JSON)")
    def case_trail(request: Request, access: AccessDep, creditor: CreditorPath, invoice: InvoicePath) -> dict[str, Any]:
        case = readable_case(request, access, creditor, invoice)
        with access.services.cursor() as cur:
            try:
                steps = audit_trail.trail(cur, schema_name("audit"), case.case_id)
                found = audit_trail.findings(cur, schema_name("audit"), case_id=case.case_id)
            except psycopg.errors.UndefinedTable:
                steps, found = [], []
        return plain_dict({"creditor": creditor, "invoice": invoice, "case_id": case.case_id, "steps": steps,
                      "findings": found})  # fmt: skip

    @r.get("/cases/{creditor}/{invoice}/findings", summary="What the good-collection-practice audit found")
    def case_findings(
        request: Request, access: AccessDep, creditor: CreditorPath, invoice: InvoicePath, limit: Limit = 100,
        cursor: Cursor = None,
    ) -> dict[str, Any]:  # fmt: skip
        case = readable_case(request, access, creditor, invoice)
        with access.services.cursor() as cur:
            page = listing(lambda: casework.findings(cur, None, limit, decode_cursor(cursor), case_id=case.case_id))
        return page_body(page.rows, page.next)

    @r.get("/offices/{office}/debtors/{debtor}", summary="A debtor's claims across the office's municipalities")
    def debtor_overview(
        request: Request,
        access: AccessDep,
        office: Annotated[str, Path(max_length=64)],
        debtor: Annotated[str, Path(max_length=64)],
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> dict[str, Any]:
        access.require(OFFICE_READERS, "a debtor's overview")
        creditors = access.office_creditors(office)
        with access.services.app() as app:
            ident = str(debtor_id_for(app.namespace, office, debtor, app.salt))
        with access.services.cursor() as cur:
            page = listing(lambda: casework.claims_of_debtors(cur, [ident], creditors, limit, decode_cursor(cursor)))
        return {"office": office, "debtor": debtor, **logged_page(request, access, page)}

    @r.get("/me/cases", summary="A resident's own claims, across every office that collects from them")
    def my_cases(request: Request, access: AccessDep, limit: Limit = 100, cursor: Cursor = None) -> dict[str, Any]:
        access.require({Role.DEBTOR}, "a resident's own cases")
        ids = access.debtor_ids()
        if not ids:
            return page_body([], None)
        with access.services.cursor() as cur:
            page = listing(lambda: casework.claims_of_debtors(cur, ids, None, limit, decode_cursor(cursor)))
        return logged_page(request, access, page)

    def worklist(name: str, roles: frozenset[Role], query: Callable[..., casework.Page], summary: str) -> None:
        @r.get(f"/worklists/{name}", summary=summary, name=f"worklist_{name}")
        def endpoint(
            request: Request, access: AccessDep, office: OfficeQuery = None, limit: Limit = 100,
            cursor: Cursor = None,
        ) -> dict[str, Any]:  # fmt: skip
            access.require(roles, f"the {name} worklist")
            creditors = board_or_office(access, office)
            with access.services.cursor() as cur:
                page = listing(lambda: query(cur, creditors, limit, decode_cursor(cursor)))
            return logged_page(request, access, page)

    worklist("objections", OFFICE_READERS, casework.objections, "Open claims under objection")
    worklist("applications", OFFICE_READERS, casework.applications, "Court and enforcement applications pending")
    worklist(
        "complaints", OFFICE_READERS | {Role.COMPLAINTS_BOARD}, casework.complaints, "Complaints awaiting a decision"
    )

    @r.get("/worklists/limitation", summary="Claims whose limitation date is near, soonest first")
    def limitation_worklist(
        request: Request,
        access: AccessDep,
        office: OfficeQuery = None,
        within_days: Annotated[int, Query(ge=0, le=3650)] = 90,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> dict[str, Any]:
        access.require(OFFICE_READERS, "the limitation worklist")
        creditors = access.office_creditors(office)
        today = access.services.config.today()
        with access.services.cursor() as cur:
            page = listing(
                lambda: casework.limitation(cur, creditors, today, within_days, limit, decode_cursor(cursor))
            )
        return {"today": today.isoformat(), **logged_page(request, access, page)}

    @r.get("/worklists/parked", summary="Events the projections parked after an error")
    def parked(access: AccessDep, limit: Limit = 100, cursor: Cursor = None) -> dict[str, Any]:
        access.require({Role.OFFICE_LEAD, Role.AUDITOR}, "the parked events")
        with access.services.cursor() as cur:
            page = listing(lambda: casework.parked(cur, PROJECTIONS, limit, decode_cursor(cursor)))
        return page_body(page.rows, page.next)

    @r.get("/findings", summary="The audit's findings across the office's cases")
    def findings(
        request: Request,
        access: AccessDep,
        office: OfficeQuery = None,
        code: Annotated[str | None, Query(max_length=64)] = None,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> dict[str, Any]:
        access.require(OFFICE_READERS, "the findings")
        creditors = access.office_creditors(office)
        with access.services.cursor() as cur:
            page = listing(lambda: casework.findings(cur, creditors, limit, decode_cursor(cursor), code=code))
        return logged_page(request, access, page)

    @r.get("/settlement", summary="Money collected per municipality between two dates, by part")
    def settlement(
        access: AccessDep,
        start: Annotated[Day, Query(alias="from")],
        end: Annotated[Day, Query(alias="to")],
        office: OfficeQuery = None,
    ) -> dict[str, Any]:
        access.require(OFFICE_READERS, "the settlement")
        if end < start:
            raise invalid_field("to", f"{end} lies before from {start}")
        creditors = access.office_creditors(office)
        with access.services.cursor() as cur:
            try:
                rows = casework.settlement(cur, creditors, start, end)
            except psycopg.errors.UndefinedTable:
                rows = []
        return plain_dict({"from": start, "to": end, "creditors": rows})

    @r.get("/access-log", summary="Who read which case, when, through which route (auditors)")
    def access_log(
        access: AccessDep,
        case_id: Annotated[str | None, Query(max_length=64)] = None,
        principal: Annotated[str | None, Query(max_length=300)] = None,
        since: Annotated[datetime | None, Query()] = None,
        until: Annotated[datetime | None, Query()] = None,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> dict[str, Any]:
        access.require({Role.AUDITOR}, "the access log")
        after = decode_cursor(cursor)
        if after is not None and (len(after) != 1 or not isinstance(after[0], int)):
            raise invalid_field("cursor", "not a cursor of this list (pass next_cursor unchanged)")
        rows, last = access.services.access_log.query(
            case_id=case_id, principal=principal, since=since, until=until, limit=limit,
            after=after[0] if after else None,
        )  # fmt: skip
        return page_body(rows, [last] if last is not None else None)

    return r


def board_or_office(access: Access, office: str | None) -> list[str] | None:
    """The complaints board sees complaints in every office; everyone else their office's (auditors: any)."""
    if Role.COMPLAINTS_BOARD in access.principal.roles and not access.principal.roles & (CASEWORK | {Role.AUDITOR}):
        return None
    return access.office_creditors(office)
