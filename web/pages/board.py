"""The complaints board (``/board``): the complaints awaiting a decision, each case's dossier (dates,
steps, deadlines, fees, legal basis, findings, letters, objection outcomes, refunds) and the decision.
A breach makes the collection costs fall away: the audit records it on the case (``complaint_breach``
and ``costs_not_recoverable`` on each step whose fee or cost is lost), and the page shows it at once
from the event store, before the read models have it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from projections import casework
from web.api.queries import log_reads
from web.pages import data
from web.pages.core import User, check_csrf, flash, gettext, redirect, render, signed_in
from web.pages.debtor import table
from web.pages.desk import _sorter, case_context
from web.pages.forms import new_key, run
from web.problems import Problem
from web.store import CaseRead

UserDep = Annotated[User, Depends(signed_in)]
COLUMNS = [("complaint_received", "Complaint received", False), ("invoice", "Invoice", False),
           ("creditor_id", "Municipality", False)]  # fmt: skip


def _board(user: User) -> None:
    user.require("board", "the complaints board's pages")


def router() -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/board")
    def complaints(request: Request, user: UserDep, sort: str = "complaint_received", dir: str = "asc",
                   page: int = 1, creditor: str = "") -> Response:  # fmt: skip
        _board(user)
        with user.access.services.cursor() as cur:
            try:
                found = casework.complaints(cur, None, data.ROW_CAP, None).rows
            except Exception:  # the audit trail does not exist yet
                cur.connection.rollback()
                found = []
        creditor = creditor.strip()
        if creditor:  # one municipality's complaints
            found = [x for x in found if str(x["creditor_id"]) == creditor]
        t = table(found, sort, dir, page, {k: _sorter(k) for k, _l, _n in COLUMNS}, default="complaint_received")
        log_reads(request, user.access, [CaseRead(x["case_id"], x["creditor_id"], x["invoice"]) for x in t["rows"]])
        return render(request, "board/complaints.html", user, table=t, creditor=creditor)

    @r.get("/board/cases/{creditor}/{invoice}")
    def case(request: Request, user: UserDep, creditor: str, invoice: str) -> Response:
        _board(user)
        return _case(request, user, creditor, invoice, {}, None)

    def _case(request: Request, user: User, creditor: str, invoice: str, errors: dict[str, str], value: str | None,
              status: int = 200) -> Response:  # fmt: skip
        ctx = case_context(request, user, creditor, invoice)
        with user.access.services.app() as app:
            claim = app.claim(creditor, invoice)
            pending = any(c.outcome is None for c in claim.facts.complaints)
            decided = [c for c in claim.facts.complaints if c.outcome is not None]
            findings = [f for f in claim.audit().findings if f.code in ("complaint_breach", "costs_not_recoverable")]
        return render(request, "board/case.html", user, status=status, pending=pending, decided=decided,
                      consequences=findings, errors=errors, value=value or "", key=new_key(), **ctx)  # fmt: skip

    @r.post("/board/cases/{creditor}/{invoice}")
    async def decide(request: Request, user: UserDep, creditor: str, invoice: str) -> Response:
        form = await request.form()
        check_csrf(request, form, user.access.services.config.public_url)
        return await run_in_threadpool(_decide, request, user, creditor, invoice, dict(form))

    def _decide(request: Request, user: User, creditor: str, invoice: str, form: dict[str, Any]) -> Response:
        _board(user)
        outcome_value = str(form.get("outcome", ""))
        t = gettext(user.lang)
        if outcome_value not in ("breach", "no_breach"):
            return _case(request, user, creditor, invoice, {"outcome": t("Choose one of the options.")}, None, 422)
        outcome = run(
            request,
            user,
            "decide_complaint",
            {"creditor": creditor, "invoice": invoice, "outcome": outcome_value},
            str(form.get("key") or new_key()),
        )
        if not outcome.ok:
            return _case(request, user, creditor, invoice, outcome.errors, outcome_value, 422)
        flash(
            request,
            t("The decision is recorded.")
            + " "
            + (t("The collection costs fall away.") if outcome_value == "breach" else t("The case goes on as before.")),
        )
        return redirect(f"/board/cases/{creditor}/{invoice}#decision")

    return r


__all__ = ["Problem", "router"]
