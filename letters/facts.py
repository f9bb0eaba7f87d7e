"""What a letter states, taken from the case's events — never from today's rules.

``letter_facts`` reads the case folded with the domain's own event code up to and including the
notice (or the payment plan): the fee, deadline, channel and legal basis the event recorded, the
claim's account as the events left it, and the interest from the last recorded settlement up to the
sending day at the dated rates in force on those days (``domain.claim.accrued_interest``, the same
function the aggregate uses). The result is plain JSON values (money and dates as strings), frozen
into the ``letters`` projection when the event is applied; the rendered PDF's SHA-256 then fixes
what was sent.

No personal data: the debtor appears only as the opaque debtor id; name and address are looked up in
the register when the letter is rendered.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from domain.account import COMPONENTS
from domain.claim import Claim, accrued_interest
from domain.money import ZERO, fmt
from domain.rules import rules_for

PAYMENT_PLAN = "payment_plan"
NOTICE_EVENT = "ClaimNoticeSent"
PLAN_EVENT = "ClaimPaymentPlanAgreed"
LETTER_EVENTS = frozenset({NOTICE_EVENT, PLAN_EVENT})
PLAIN_CHANNELS = ("digital_mailbox", "paper", "email", "efaktura", "vipps")


def letter_kind(event_type: str, values: dict[str, Any]) -> str | None:
    if event_type == NOTICE_EVENT:
        return str(values["notice"])
    if event_type == PLAN_EVENT:
        return PAYMENT_PLAN
    return None


def letter_facts(
    *, event_id: str, event_type: str, case_id: str, values: dict[str, Any], sent_on: date, claim: Claim
) -> dict[str, Any]:
    """The facts of the letter an event calls for (``claim`` is the case after the event)."""
    kind = letter_kind(event_type, values)
    if kind is None:
        raise ValueError(f"{event_type} calls for no letter")
    rules = rules_for(claim.jurisdiction.value)
    acc = claim.account
    assert acc.interest_through is not None
    exact, warnings = accrued_interest(
        rules, acc.principal_outstanding, acc.interest_exact, acc.interest_through, claim.closed_on, sent_on
    )
    outstanding = {c: acc.outstanding(c, exact) for c in COMPONENTS}
    interest_from = claim.effective_due + timedelta(days=1)
    segments = rules.interest_rate_segments(interest_from, max(sent_on, interest_from))
    rates: list[dict[str, str]] = []
    for s in segments:
        if rates and rates[-1]["rate"] == str(s.value):
            rates[-1]["to"] = s.end.isoformat()
        else:
            rates.append({"from": s.start.isoformat(), "to": s.end.isoformat(), "rate": str(s.value)})
    earlier = [n for n in claim.facts.notices if n.command_id != values.get("command_id")]
    facts: dict[str, Any] = {
        "letter_id": event_id,
        "kind": kind,
        "case_id": case_id,
        "jurisdiction": claim.jurisdiction.value,
        "currency": claim.currency,
        "creditor_id": claim.creditor_id,
        "debtor_id": claim.debtor_id,
        "invoice": claim.invoice,
        "claim_type": claim.claim_type,
        "kid": claim.kid,
        "issued_on": claim.issued_on.isoformat(),
        "due": claim.due.isoformat(),
        "effective_due": claim.effective_due.isoformat(),
        "sent_on": sent_on.isoformat(),
        "principal_invoiced": fmt(claim.facts.principal),
        "paid": fmt(acc.total_paid),
        "amounts": {c: fmt(outstanding[c]) for c in COMPONENTS},
        "total": fmt(sum(outstanding.values(), ZERO)),
        "interest_from": interest_from.isoformat(),
        "interest_rates": rates,
        "rate_now": str(rules.interest_rate_segments(sent_on, sent_on)[0].value),
        "lien_secured": claim.lien_secured,
        "previous_notices": [
            {"notice": n.notice, "sent_on": n.sent_on.isoformat(), "deadline": n.deadline.isoformat()}
            for n in earlier
            if n.sent_on <= sent_on
        ],
        "rule_version": str(values.get("rule_version", "")),
        "warnings": sorted({*warnings}),
    }
    if event_type == NOTICE_EVENT:
        facts.update(
            deadline=values["deadline"].isoformat(),
            fee=fmt(values["fee"]),
            fee_reason=str(values["fee_reason"]),
            channel=str(values["channel"]),
            legal_basis=str(values["legal_basis"]),
        )
    else:
        installments = [{"due": str(i["due"]), "amount": fmt(_decimal(i["amount"]))} for i in values["installments"]]
        facts.update(
            deadline=installments[0]["due"],
            fee="0.00",
            fee_reason="",
            channel=plan_channel(claim),
            legal_basis="",
            installments=installments,
            plan_total=fmt(sum((_decimal(i["amount"]) for i in installments), ZERO)),
        )
    return facts


def plan_channel(claim: Claim) -> str:
    """A payment plan's letter goes the way the claim's last notice went, else the invoice's way; a
    channel that may not carry it (AvtaleGiro) gives paper. The plan event records no channel."""
    for n in reversed(claim.facts.notices):
        if n.channel in PLAIN_CHANNELS:
            return n.channel
    return claim.invoice_channel if claim.invoice_channel in PLAIN_CHANNELS else "paper"


def _decimal(raw: Any) -> Decimal:
    return Decimal(str(raw))
