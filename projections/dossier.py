"""The case dossier a complaints board reads, as data: the claim, one row per step, the audit's
findings each pointing at the step that caused it, objections with their outcomes, payment plans
with every instalment, write-off, surplus to refund, and why the claim is (or is not) time-barred —
from the read models. Rendering is elsewhere (``web.dossier`` for HTML; ``render_json`` here).

One step is one command: its events share a command id. A notice that interrupts limitation, an
objection whose registration makes earlier fees fall away, an upheld objection that credits the
principal — each is one row, its main event first, what else it did (``limitation``,
``costs_fell_away``, ``credited``) on the same row. Findings are keyed by that command id, so a
finding lands on the step it is about.

Words that depend on time are written for ``as_of``: a deadline "passed" or "runs to", an
instalment "paid", "missed" or "falls due", a step recorded after ``as_of`` marked as later.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from psycopg import Cursor

from domain.inputs import NOTE
from projections import audit_trail, ledger, limitation
from projections.base import schema_name

STEP_TITLES = {
    "ClaimInvoiced": "Invoice issued",
    "ClaimNoticeSent": "Notice sent",
    "ClaimPaymentRegistered": "Payment",
    "ClaimCreditNoteIssued": "Credit note",
    "ClaimEnforcementRequested": "Enforcement / court step",
    "ClaimLimitationInterrupted": "Limitation interrupted",
    "ClaimObjectionRegistered": "Objection received",
    "ClaimObjectionResolved": "Objection decided",
    "ClaimDeferralGranted": "Deferral granted",
    "ClaimPaymentPlanAgreed": "Payment plan agreed",
    "ClaimPaymentPlanBreached": "Payment plan broken",
    "ClaimJudgmentRegistered": "Judgment",
    "ClaimReinstatementApplied": "Återvinning",
    "ClaimDebtorDeathNoted": "Debtor died",
    "ClaimEstateDeadlineNoted": "Proklama published",
    "ClaimReportedToEstate": "Reported to the estate",
    "ClaimCostsWaived": "Costs fell away",
    "ClaimWrittenOff": "Written off",
    "ClaimWrittenDown": "Principal given up (ettergivelse)",
    "ClaimWrittenDownInAccounts": "Written down in the accounts (long-term monitoring)",
    "ClaimDuePostponed": "Due date postponed (uppskov)",
    "ClaimServiceSuspended": "Service stopped",
    "ClaimComplaintFiled": "Complaint filed",
    "ClaimComplaintDecided": "Complaint decided",
}
EFFECTS = frozenset({"ClaimLimitationInterrupted", "ClaimCostsWaived", "ClaimCreditNoteIssued"})
"""Events that are what a step also did: shown on its row, never a row of their own beside it."""

OBJECTION_OUTCOMES = {
    "upheld": "upheld — the debtor is right: the amount is credited and the collection costs fall away",
    "maintained": "maintained — the claim stays disputed: only the court route remains",
    "unfounded": "unfounded — no reasonable grounds: collection may resume",
}
WRITE_OFF_REASONS = {
    "time_barred": "time-barred: the limitation date passed without an interruption",
    "deceased": "the debtor died and the estate does not pay the claim",
    "bankruptcy": "the debtor's bankruptcy",
    "uneconomic": "uneconomic: the remnant is not worth a further step",
    "other": "other reason (see the case file)",
}
SEVERITY_ORDER = ("breach", "warning", "info")
COMPONENTS = ("costs", "fees", "interest", "principal")


def _plain(value: Any) -> Any:
    if isinstance(value, (date, Decimal)):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _money(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


def deadline_words(deadline: date, as_of: date) -> str:
    """``deadline 2025-03-30 (passed)`` or ``deadline 2025-03-30 (runs to that day)``, for ``as_of``."""
    return f"deadline {deadline} ({'passed' if deadline < as_of else 'runs to that day'})"


@dataclass
class Step:
    """One command's events, the main one first."""

    rows: list[dict[str, Any]]
    findings: list[str] = field(default_factory=list)

    @property
    def main(self) -> dict[str, Any]:
        return next((r for r in self.rows if r["event_type"] not in EFFECTS), self.rows[0])

    def effects(self, event_type: str) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["event_type"] == event_type and r is not self.main]


def group_steps(rows: list[dict[str, Any]]) -> list[Step]:
    """The trail's events grouped by command id, in the order each command first appears."""
    steps: dict[str, Step] = {}
    for row in rows:
        key = row["command_id"] or f"event-{row['version']}"
        steps.setdefault(key, Step([])).rows.append(row)
    return list(steps.values())


def describe(step: Step, as_of: date) -> str:
    """What the step did, in one sentence for the board (tense from ``as_of``)."""
    m = step.main
    d, kind = m["detail"], m["event_type"]
    if kind == "ClaimInvoiced":
        text = (
            f"{d.get('claim_type')} {d.get('amount')} {d.get('currency')}, due {d.get('due')}, KID {d.get('kid')}, "
            f"sent by {d.get('channel')}"
        )
    elif kind == "ClaimNoticeSent":
        fee = _money(d.get("fee"))
        deadline = _day(d.get("deadline"))
        text = f"{d.get('notice')} by {d.get('channel')}"
        text += f", {deadline_words(deadline, as_of)}; " if deadline else "; "
        text += f"fee {fee:.2f} ({d.get('fee_reason')})" if fee else f"no fee ({d.get('fee_reason')})"
        text += _together("one letter", d.get("letter_invoices"))
    elif kind == "ClaimPaymentRegistered":
        allocation = d.get("allocation") or {}
        parts = [f"{k} {allocation[k]}" for k in COMPONENTS if _money(allocation.get(k))]
        text = f"{d.get('amount')} ordered {d.get('ordered')}, received {m['recorded_date']}"
        if d.get("designation"):
            text += f", designated to the {d['designation']}"
        if parts:
            text += ": to " + ", ".join(parts)
        if _money(allocation.get("surplus")):
            text += f"; {allocation['surplus']} beyond the balance is owed back to the debtor"
    elif kind == "ClaimCreditNoteIssued":
        text = f"{d.get('amount')} credited ({d.get('reason')})"
    elif kind == "ClaimEnforcementRequested":
        text = f"{d.get('route')}, cost {d.get('cost')} ({d.get('cost_basis')})"
        text += _together("one request", d.get("request_invoices"))
    elif kind == "ClaimObjectionRegistered":
        text = f"the debtor's objection, received {m['effective_date']}, registered {m['recorded_date']}"
    elif kind == "ClaimObjectionResolved":
        text = OBJECTION_OUTCOMES.get(str(d.get("outcome")), str(d.get("outcome")))
    elif kind == "ClaimDeferralGranted":
        until = _day(d.get("until"))
        text = f"escalation {'paused until' if until and until >= as_of else 'was paused until'} {until}"
        text += " at the debtor's request" if d.get("requested_by_debtor") else ""
    elif kind == "ClaimPaymentPlanAgreed":
        items = d.get("installments") or []
        text = f"{len(items)} instalments, {items[0]['due']} to {items[-1]['due']}" if items else "a payment plan"
    elif kind == "ClaimPaymentPlanBreached":
        text = f"the instalment due {d.get('missed_due')} was missed, {d.get('shortfall')} short"
    elif kind == "ClaimJudgmentRegistered":
        text = f"judgment or utslag decided {m['effective_date']}"
    elif kind == "ClaimReinstatementApplied":
        text = "the utslag is set aside; the case goes to the district court"
    elif kind == "ClaimDebtorDeathNoted":
        text = f"the debtor died {d.get('died')}"
    elif kind == "ClaimEstateDeadlineNoted":
        deadline = _day(d.get("report_deadline"))
        verb = "was to be reported" if deadline and deadline < as_of else "is to be reported"
        text = f"proklama published {d.get('published')}: the claim {verb} to the estate by {deadline}"
    elif kind == "ClaimReportedToEstate":
        text = "the claim was reported to the estate"
    elif kind == "ClaimWrittenOff":
        text = f"{d.get('amount')} written off: {WRITE_OFF_REASONS.get(str(d.get('reason')), d.get('reason'))}"
    elif kind == "ClaimWrittenDown":
        text = f"{d.get('amount')} of the principal given up ({d.get('reason')})"
    elif kind == "ClaimWrittenDownInAccounts":
        text = (
            f"{d.get('amount')} written down in the accounts ({d.get('reason')}); "
            "the claim stays open under long-term monitoring"
        )
    elif kind == "ClaimDuePostponed":
        text = (
            f"the due date moved from {d.get('previous_due')} to {d.get('due')}; interest and deadlines count from it"
        )
    elif kind == "ClaimServiceSuspended":
        text = f"{d.get('service')} stopped"
    elif kind == "ClaimComplaintDecided":
        text = "the board found a breach" if d.get("outcome") == "breach" else "the board found no breach"
    elif kind == "ClaimLimitationInterrupted":
        text = f"{limitation.ground_words(d.get('ground'))} interrupted limitation"
    elif kind == "ClaimCostsWaived":
        text = "collection costs fell away"
    else:
        text = STEP_TITLES.get(kind, kind)
    return text


def _together(what: str, invoices: Any) -> str:
    """``; one letter for invoices A, B (samlesak)`` when a step covered several claims, else nothing."""
    if not isinstance(invoices, list) or len(invoices) < 2:
        return ""
    return f"; {what} for invoices {', '.join(str(i) for i in invoices)} (samlesak)"


def _step_record(n: int, step: Step, as_of: date) -> dict[str, Any]:
    m = step.main
    interruption = next(iter(step.effects("ClaimLimitationInterrupted")), None)
    if m["event_type"] == "ClaimLimitationInterrupted":
        interruption = m
    credited = step.effects("ClaimCreditNoteIssued")
    fallen = [item for r in step.effects("ClaimCostsWaived") for item in r["detail"].get("items", [])]
    if m["event_type"] == "ClaimCostsWaived":
        fallen = list(m["detail"].get("items", []))
    detail = m["detail"]
    return {
        "n": n,
        "step": STEP_TITLES.get(m["event_type"], m["event_type"]),
        "what": describe(step, as_of),
        "event_type": m["event_type"],
        "event_types": [r["event_type"] for r in step.rows],
        "effective": m["effective_date"],
        "recorded": m["recorded_date"],
        "after_as_of": m["recorded_date"] > as_of,
        "channel": m["channel"],
        "deadline": m["deadline"],
        "fee": m["fee"],
        "cost": m["cost"],
        "amount": m["amount"],
        "legal_basis": m["legal_basis"],
        "rule_version": m["rule_version"],
        "command_id": m["command_id"],
        "limitation": None
        if interruption is None
        else {
            "ground": limitation.ground_words(interruption["detail"].get("ground")),
            "legal_basis": interruption["detail"].get("legal_basis"),
            "years": interruption["detail"].get("years"),
            "until": interruption["detail"].get("limitation_date"),
        },
        "credited": credited[0]["detail"].get("amount") if credited else None,
        "costs_fell_away": [
            {k: item.get(k) for k in ("kind", "amount", "reason")} | {"step": item.get("command_id")} for item in fallen
        ],
        "findings": [],
        "detail": {k: v for k, v in detail.items() if k != "text"},  # an objection's own words stay on file
    }


def _objections(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for s in steps:
        if s["event_type"] == "ClaimObjectionRegistered":
            out.append({"step": s["n"], "received": s["effective"], "registered": s["recorded"], "outcome": None})
        elif s["event_type"] == "ClaimObjectionResolved" and out and out[-1]["outcome"] is None:
            outcome = str(s["detail"].get("outcome"))
            out[-1].update(
                outcome=outcome,
                meaning=OBJECTION_OUTCOMES.get(outcome, outcome),
                decided=s["effective"],
                decided_step=s["n"],
                credited=s["credited"],
            )
    for o in out:
        if o["outcome"] is None:
            o["meaning"] = "pending: out-of-court collection pauses until it is decided"
    return out


def _plans(steps: list[dict[str, Any]], as_of: date) -> list[dict[str, Any]]:
    """Every payment plan with its instalments: paid (covered by the money received since the plan was
    agreed), missed (due before ``as_of`` and not covered) or falling due."""
    paid_total = sum(
        (_money(s["detail"].get("amount")) for s in steps if s["event_type"] == "ClaimPaymentRegistered"), Decimal(0)
    )
    plans: list[dict[str, Any]] = []
    for s in steps:
        if s["event_type"] == "ClaimPaymentPlanAgreed":
            paid_since = paid_total - _money(s["detail"].get("paid_before"))
            cumulative, rows = Decimal(0), []
            for item in s["detail"].get("installments") or []:
                due, amount = _day(item["due"]), _money(item["amount"])
                assert due is not None
                cumulative += amount
                if paid_since >= cumulative:
                    status = "paid"
                elif due < as_of:
                    status = "missed"
                else:
                    status = "falls due"
                rows.append({"due": due, "amount": f"{amount:.2f}", "status": status})
            plans.append({"step": s["n"], "agreed": s["effective"], "installments": rows, "broken": None})
        elif s["event_type"] == "ClaimPaymentPlanBreached" and plans:
            plans[-1]["broken"] = {
                "step": s["n"],
                "on": s["effective"],
                "missed_due": s["detail"].get("missed_due"),
                "shortfall": s["detail"].get("shortfall"),
            }
    return plans


def build(
    cur: Cursor[Any], case_id: str, day: date, *, suffix: str = "", notes: Mapping[str, str] | None = None
) -> dict[str, Any] | None:
    """Everything the board needs about one case on ``day``, as plain JSON values. ``notes``: the reasons people
    wrote, by command id (``CollectionApp.reason_notes``), which the stream carries only as ``note``; given by
    an edge whose reader may see them, they replace the code (ADR 0023)."""
    audit_schema = schema_name("audit", suffix=suffix)
    rows = audit_trail.trail(cur, audit_schema, case_id)
    if not rows:
        return None
    for row in rows:
        if notes and row["detail"].get("reason") == NOTE and row["command_id"] in notes:
            row["detail"] = {**row["detail"], "reason": notes[row["command_id"]]}
    figures = ledger.claim_view(cur, schema_name("ledger", suffix=suffix), case_id, day, full=True) or {}
    first = rows[0]
    invoiced = first["detail"]
    grouped = group_steps(rows)
    steps = [_step_record(n, step, day) for n, step in enumerate(grouped, 1)]
    by_command = {s["command_id"]: s for s in steps}
    for s in steps:
        for item in s["costs_fell_away"]:
            item["step"] = by_command[item["step"]]["n"] if item["step"] in by_command else None
    findings = []
    for f in audit_trail.findings(cur, audit_schema, case_id=case_id, day=day):
        step = by_command.get(f["command_id"])
        if step is not None:
            step["findings"].append({"code": f["code"], "severity": f["severity"]})
        findings.append(
            {
                **{k: f[k] for k in ("code", "severity", "message")},
                "step": step["n"] if step else None,
                "step_title": step["step"] if step else None,
                "step_date": step["effective"] if step else None,
            }
        )
    findings.sort(key=lambda f: (SEVERITY_ORDER.index(f["severity"]), f["step"] or 0))
    written_off = next((s for s in steps if s["event_type"] == "ClaimWrittenOff"), None)
    surplus = _money(figures.get("surplus"))
    dossier = {
        "case_id": case_id,
        "as_of": day,
        "creditor": first["creditor_id"],
        "debtor": first["debtor_id"],
        "claim": {
            "invoice": first["invoice"],
            "claim_type": invoiced.get("claim_type"),
            "amount": invoiced.get("amount"),
            "due": invoiced.get("due"),
            "kid": invoiced.get("kid"),
            "currency": invoiced.get("currency"),
            "channel": first["channel"],
        },
        "figures": figures,
        "headline": {s: sum(1 for f in findings if f["severity"] == s) for s in SEVERITY_ORDER},
        "steps": steps,
        "payments": [s for s in steps if s["event_type"] == "ClaimPaymentRegistered"],
        "objections": _objections(steps),
        "plans": _plans(steps, day),
        "write_off": None
        if written_off is None
        else {
            "step": written_off["n"],
            "on": written_off["effective"],
            "amount": written_off["detail"].get("amount"),
            "reason": written_off["detail"].get("reason"),
            "meaning": WRITE_OFF_REASONS.get(str(written_off["detail"].get("reason")), ""),
        },
        "surplus": {"amount": f"{surplus:.2f}", "currency": invoiced.get("currency")} if surplus else None,
        "findings": findings,
        "costs_fallen_away": [item for s in steps for item in s["costs_fell_away"]],
        "limitation": limitation.explain(cur, schema_name("limitation", suffix=suffix), case_id, day),
    }
    plain: dict[str, Any] = _plain(dossier)
    return plain


def render_json(dossier: dict[str, Any]) -> str:
    return json.dumps(dossier, indent=2, ensure_ascii=False)
