"""The case dossier a complaints board reads: the claim, its steps, payments, objections, findings
and the costs that fell away — from the read models, as JSON or as one self-contained HTML page."""

from __future__ import annotations

import html
import json
from datetime import date
from decimal import Decimal
from typing import Any

from psycopg import Cursor

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
    "ClaimObjectionResolved": "Objection resolved",
    "ClaimDeferralGranted": "Deferral granted",
    "ClaimPaymentPlanAgreed": "Payment plan agreed",
    "ClaimPaymentPlanBreached": "Payment plan breached",
    "ClaimJudgmentRegistered": "Judgment",
    "ClaimReinstatementApplied": "Återvinning",
    "ClaimDebtorDeathNoted": "Debtor died",
    "ClaimEstateDeadlineNoted": "Proklama published",
    "ClaimReportedToEstate": "Reported to the estate",
    "ClaimCostsWaived": "Costs fell away",
    "ClaimWrittenOff": "Written off",
    "ClaimWrittenDown": "Written down",
    "ClaimComplaintFiled": "Complaint filed",
    "ClaimComplaintDecided": "Complaint decided",
}


def _plain(value: Any) -> Any:
    if isinstance(value, (date, Decimal)):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def build(cur: Cursor[Any], case_id: str, day: date, *, suffix: str = "") -> dict[str, Any] | None:
    """Everything the board needs about one case, as plain JSON values."""
    audit_schema = schema_name("audit", suffix=suffix)
    steps = audit_trail.trail(cur, audit_schema, case_id)
    if not steps:
        return None
    figures = ledger.claim_view(cur, schema_name("ledger", suffix=suffix), case_id, day)
    first = steps[0]
    invoiced = first["detail"]
    trail = []
    for s in steps:
        trail.append(
            {
                "step": STEP_TITLES.get(s["event_type"], s["event_type"]),
                "event_type": s["event_type"],
                "effective": s["effective_date"],
                "recorded": s["recorded_date"],
                "channel": s["channel"],
                "deadline": s["deadline"],
                "fee": s["fee"],
                "cost": s["cost"],
                "amount": s["amount"],
                "legal_basis": s["legal_basis"],
                "rule_version": s["rule_version"],
                "command_id": s["command_id"],
                "detail": s["detail"],
            }
        )
    found = audit_trail.findings(cur, audit_schema, case_id=case_id)
    by_command = {s["command_id"]: s for s in trail}
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
        "steps": trail,
        "payments": [t for t in trail if t["event_type"] == "ClaimPaymentRegistered"],
        "objections": [t for t in trail if t["event_type"].startswith("ClaimObjection")],
        "findings": [
            {
                **{k: f[k] for k in ("code", "severity", "message")},
                "step": by_command.get(f["command_id"], {}).get("step"),
                "step_date": by_command.get(f["command_id"], {}).get("effective"),
            }
            for f in found
        ],
        "costs_fallen_away": [
            item for t in trail if t["event_type"] == "ClaimCostsWaived" for item in t["detail"].get("items", [])
        ],
        "limitation": limitation.explain(cur, schema_name("limitation", suffix=suffix), case_id, day),
    }
    plain: dict[str, Any] = _plain(dossier)
    return plain


def render_json(dossier: dict[str, Any]) -> str:
    return json.dumps(dossier, indent=2, ensure_ascii=False)


def render_html(dossier: dict[str, Any]) -> str:
    e = html.escape
    claim, figures = dossier["claim"], dossier["figures"] or {}
    rows = "".join(
        f"<tr><td>{e(str(s['effective']))}</td><td>{e(str(s['recorded']))}</td><td>{e(s['step'])}"
        f"{' — ' + e(str(s['detail'].get('notice') or s['detail'].get('route') or '')) if s['detail'] else ''}</td>"
        f"<td>{e(str(s['channel'] or ''))}</td><td>{e(str(s['deadline'] or ''))}</td>"
        f"<td class=n>{e(str(s['fee'] or s['cost'] or s['amount'] or ''))}</td>"
        f"<td>{e(str(s['legal_basis'] or ''))}</td><td><code>{e(s['rule_version'])}</code></td></tr>"
        for s in dossier["steps"]
    )
    findings = (
        "".join(
            f"<li class={e(f['severity'])}><b>{e(f['code'])}</b> ({e(f['severity'])}) — {e(f['message'])}</li>"
            for f in dossier["findings"]
        )
        or "<li>No findings.</li>"
    )
    fallen = (
        "".join(
            f"<li>{e(str(i.get('kind')))} {e(str(i.get('amount')))} — {e(str(i.get('reason')))}</li>"
            for i in dossier["costs_fallen_away"]
        )
        or "<li>None.</li>"
    )
    limitation_lines = "".join(f"<li>{e(line)}</li>" for line in dossier["limitation"])
    letters = _letters_section(dossier.get("letters"), e)
    figure_cells = "".join(f"<tr><th>{e(k)}</th><td class=n>{e(str(v))}</td></tr>" for k, v in figures.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Case dossier {e(claim["invoice"])}</title>
<style>
body{{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;color:#1d2330}}
h1{{font-size:1.5rem;margin-bottom:.2rem}} h2{{font-size:1.1rem;margin-top:1.8rem;border-bottom:1px solid #ccd}}
table{{border-collapse:collapse;width:100%}} td,th{{padding:.3rem .5rem;border-bottom:1px solid #e5e7ef;
text-align:left;vertical-align:top}} .n{{text-align:right;font-variant-numeric:tabular-nums}}
.meta{{color:#556}} li.breach{{color:#a1121a}} li.warning{{color:#8a5a00}} code{{font-size:.8em}}
.figures{{width:auto}}
</style></head><body>
<h1>Case dossier — invoice {e(claim["invoice"])}</h1>
<p class=meta>Creditor {e(str(dossier["creditor"]))} · debtor (opaque id) {e(str(dossier["debtor"]))} ·
case {e(dossier["case_id"])} · as of {e(str(dossier["as_of"]))}</p>
<h2>The claim</h2>
<p>{e(str(claim["claim_type"]))}, {e(str(claim["amount"]))} {e(str(claim["currency"]))}, due {e(str(claim["due"]))},
KID {e(str(claim["kid"]))}, invoice sent by {e(str(claim["channel"]))}.</p>
<table class=figures>{figure_cells}</table>
<h2>Steps</h2>
<table><tr><th>effective</th><th>recorded</th><th>step</th><th>channel</th><th>deadline</th><th class=n>amount</th>
<th>legal basis</th><th>rule version</th></tr>{rows}</table>
<h2>Findings of the good-collection-practice audit</h2><ul>{findings}</ul>
<h2>Costs that fell away</h2><ul>{fallen}</ul>
<h2>Limitation</h2><ul>{limitation_lines}</ul>
{letters}
</body></html>
"""


def _letters_section(letters: list[dict[str, Any]] | None, e: Any) -> str:
    """The letters the trail's notices became (added by the composition root from letters/): the
    SHA-256 of each PDF as sent, and links when the caller has the files beside the dossier."""
    if letters is None:
        return ""
    rows = []
    for x in letters:
        held = " — " + e(str(x["held"])) if x.get("held") and not x.get("sha256") else ""
        link = f"<a href='{e(str(x['href']))}'>PDF</a>" if x.get("href") else ""
        rows.append(
            f"<tr><td>{e(str(x['sent_on']))}</td><td>{e(str(x['kind']))}</td>"
            f"<td>{e(str(x['delivered_by'] or x['channel']))}</td><td>{e(str(x['status']))}{held}</td>"
            f"<td><code>{e(str(x['sha256'] or ''))}</code></td><td>{link}</td></tr>"
        )
    return (
        "<h2>Letters</h2><table><tr><th>sent</th><th>letter</th><th>channel</th><th>status</th>"
        f"<th>SHA-256 of the PDF sent</th><th></th></tr>{''.join(rows) or '<tr><td colspan=6>None.</td></tr>'}</table>"
    )
