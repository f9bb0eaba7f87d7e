"""A debtor's applications for a payment plan or a deferral, decided at once by the creditor's policy.

``apply_payment_plan`` and ``apply_deferral`` are commands like the others (``web.api.commands``
lists them; the debtor's page and the API run the same code). The decision is the domain's
(``domain.policy.decide_plan`` / ``decide_deferral``, within ``CollectionPolicy.limits``):

- inside the limits: approved — the plan is agreed (``agree_payment_plan``) or the deferral granted
  (``grant_deferral``, at the debtor's request) under the application's own command id, so the
  answer shows the plan and the case's trail has it;
- outside: referred to a caseworker with the reason (a stable code) and the limit it went beyond.

Either way the application is kept in ``kravsak_web.applications`` (``record_application``), the
worklist of referred applications and the debtor's list of their own.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import Field

from domain.application import CollectionApp
from domain.policy import CENT, CollectionPolicy, Decision, decide_deferral, decide_plan, monthly_plan, open_total
from domain.rules import rules_for
from web.api.types import Body as _Body
from web.api.types import Day, InvoiceNo, Municipality
from web.inbox import NewApplication


class ApplyPaymentPlan(_Body):
    creditor: Municipality
    invoice: InvoiceNo
    instalments: int = Field(ge=1, le=120, description="how many monthly instalments")
    first_due: Day = Field(description="the day the first instalment falls due")


class ApplyDeferral(_Body):
    creditor: Municipality
    invoice: InvoiceNo
    until: Day = Field(description="the last day of the deferral")


def _money(d: Decimal) -> str:
    return f"{d:.2f}"


def _answer(kind: str, case_id: str, decision: Decision, request: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "case_id": case_id,
        "application": kind,
        "decision": "approved" if decision.approved else "referred",
        "reason": decision.reason,
        "limit": decision.limit,
        "request": request,
    }
    if decision.installments:
        out["installments"] = [{"due": i.due.isoformat(), "amount": _money(i.amount)} for i in decision.installments]
    if decision.until is not None:
        out["until"] = decision.until.isoformat()
    return out


def apply_payment_plan(app: CollectionApp, body: ApplyPaymentPlan, ctx: Any) -> dict[str, Any]:
    claim = app.claim(body.creditor, body.invoice)
    policy = CollectionPolicy.from_dict(app.creditor(body.creditor).policy)
    day: date = ctx.on
    if ctx.command_id in claim.commands and claim.facts.plans:
        plan = claim.facts.plans[-1]  # this application was approved before: the same answer again
        total = sum((i.amount for i in plan.installments), Decimal(0))
        decision = Decision(True, installments=tuple(plan.installments))
    else:
        total = open_total(claim, day, rules_for(claim.jurisdiction.value)).quantize(CENT)
        decision = decide_plan(claim, policy, day=day, total=total, count=body.instalments, first_due=body.first_due)
    request = {"instalments": body.instalments, "first_due": body.first_due.isoformat(), "total": _money(total)}
    if not decision.approved and total > 0 and body.first_due >= day:
        request["installments"] = [
            {"due": i.due.isoformat(), "amount": _money(i.amount)}
            for i in monthly_plan(total, body.instalments, body.first_due)
        ]
    if decision.approved and ctx.command_id not in claim.commands:
        app.agree_payment_plan(
            creditor=body.creditor,
            invoice=body.invoice,
            installments=decision.installments,
            on=day,
            command_id=ctx.command_id,
        )
    return _answer("payment_plan", str(claim.id), decision, request)


def apply_deferral(app: CollectionApp, body: ApplyDeferral, ctx: Any) -> dict[str, Any]:
    claim = app.claim(body.creditor, body.invoice)
    policy = CollectionPolicy.from_dict(app.creditor(body.creditor).policy)
    day: date = ctx.on
    if ctx.command_id in claim.commands:
        decision = Decision(True, until=body.until)
    else:
        decision = decide_deferral(claim, policy, day=day, until=body.until)
        if decision.approved:
            app.grant_deferral(
                creditor=body.creditor,
                invoice=body.invoice,
                until=body.until,
                on=day,
                command_id=ctx.command_id,
                requested_by_debtor=True,
            )
    return _answer("deferral", str(claim.id), decision, {"until": body.until.isoformat()})


def record_application(access: Any, app: CollectionApp, body: Any, out: dict[str, Any], ctx: Any) -> None:
    """Keep the application and its decision (after the command answered; once per command id)."""
    claim = app.claim(body.creditor, body.invoice)
    services = access.services
    services.applications.record(
        NewApplication(
            command_id=ctx.command_id,
            kind=out["application"],
            case_id=out["case_id"],
            creditor_id=body.creditor,
            invoice=body.invoice,
            debtor_id=claim.debtor_id,
            office=services.office_of(body.creditor),
            applied_on=ctx.on,
            principal=access.principal.id,
            decision=out["decision"],
            reason=out.get("reason"),
            limit=out.get("limit"),
            request={**out["request"], **({"installments": out["installments"]} if "installments" in out else {})},
        )
    )
