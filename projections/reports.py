"""Management views over the read models, limited to one set of invoices (a *scope*).

Several runs share one database (demos in fresh id namespaces, tests), so every query here takes an
invoice-number prefix and counts only the claims whose invoice numbers start with it. The figures
come from the ledger, the limitation watch and the audit trail as the projectors built them; this
module only reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from psycopg import Cursor

from domain.money import ZERO
from projections.base import schema_name
from projections.ledger import AGE_BUCKETS

STAGES = ("invoiced", "reminded", "warned", "demanded", "enforcement", "judgment")


@dataclass(frozen=True, slots=True)
class Scope:
    """The claims whose invoice numbers start with ``prefix``, in the live (or suffixed) read models."""

    prefix: str
    suffix: str = ""

    @property
    def like(self) -> str:
        return self.prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"

    def schema(self, projection: str) -> str:
        return schema_name(projection, suffix=self.suffix)


def _rows(cur: Cursor[Any]) -> list[dict[str, Any]]:
    names = [d.name for d in cur.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def stage_counts(cur: Cursor[Any], scope: Scope, day: date) -> dict[str, int]:
    """Claims per stage (open ones; those not yet due on ``day`` as ``not_due``) plus ``paid`` and
    ``written_off`` (closed ones)."""
    cur.execute(
        f"""SELECT CASE WHEN write_off_reason IS NOT NULL THEN 'written_off' WHEN settled THEN 'paid'
                        WHEN stage = 'invoiced' AND effective_due >= %s THEN 'not_due' ELSE stage END, count(*)
            FROM "{scope.schema("ledger")}".claims WHERE invoice LIKE %s GROUP BY 1""",
        (day, scope.like),
    )
    counts = dict.fromkeys(("not_due", *STAGES, "paid", "written_off"), 0)
    counts.update({str(k): int(v) for k, v in cur.fetchall()})
    return counts


def stages_by_creditor(cur: Cursor[Any], scope: Scope, day: date) -> list[dict[str, Any]]:
    """``stage_counts`` per creditor, with the disputed ones among the open claims."""
    cur.execute(
        f"""SELECT creditor_id, CASE WHEN write_off_reason IS NOT NULL THEN 'written_off' WHEN settled THEN 'paid'
                   WHEN stage = 'invoiced' AND effective_due >= %s THEN 'not_due' ELSE stage END AS stage,
                   count(*) AS claims,
                   count(*) FILTER (WHERE disputed AND NOT settled AND write_off_reason IS NULL) AS disputed
            FROM "{scope.schema("ledger")}".claims WHERE invoice LIKE %s GROUP BY 1, 2 ORDER BY 1, 2""",
        (day, scope.like),
    )
    return _rows(cur)


def money_by_creditor(cur: Cursor[Any], scope: Scope, start: date, end: date) -> list[dict[str, Any]]:
    """Per creditor and currency: what was invoiced, charged, collected (by part, booked between
    ``start`` and ``end``), credited, waived, written off and is still open."""
    cur.execute(
        f"""SELECT creditor_id, currency,
              count(DISTINCT case_id) AS claims,
              sum(debit) FILTER (WHERE account = 'receivable.principal' AND kind = 'charge.principal') AS invoiced,
              sum(debit) FILTER (WHERE account = 'credit_notes') AS credited,
              sum(debit) FILTER (WHERE account = 'receivable.interest' AND kind = 'charge.interest')
                  AS interest_charged,
              sum(debit) FILTER (WHERE account = 'receivable.fees' AND kind = 'charge.fees') AS fees_charged,
              sum(debit) FILTER (WHERE account = 'receivable.costs' AND kind = 'charge.costs') AS costs_charged,
              sum(debit) FILTER (WHERE account IN ('waived.fees', 'waived.costs')) AS waived,
              sum(credit - debit) FILTER (WHERE account = 'receivable.principal'
                  AND kind IN ('payment', 'reallocation') AND booked BETWEEN %(start)s AND %(end)s)
                  AS collected_principal,
              sum(credit - debit) FILTER (WHERE account = 'receivable.interest'
                  AND kind IN ('payment', 'reallocation') AND booked BETWEEN %(start)s AND %(end)s)
                  AS collected_interest,
              sum(credit - debit) FILTER (WHERE account = 'receivable.fees'
                  AND kind IN ('payment', 'reallocation') AND booked BETWEEN %(start)s AND %(end)s)
                  AS collected_fees,
              sum(credit - debit) FILTER (WHERE account = 'receivable.costs'
                  AND kind IN ('payment', 'reallocation') AND booked BETWEEN %(start)s AND %(end)s)
                  AS collected_costs,
              sum(debit) FILTER (WHERE account = 'written_off') AS written_off,
              sum(debit - credit) FILTER (WHERE account LIKE 'receivable.%%') AS open_balance,
              sum(credit - debit) FILTER (WHERE account = 'refund.surplus') AS surplus
            FROM "{scope.schema("ledger")}".postings WHERE invoice LIKE %(like)s
            GROUP BY 1, 2 ORDER BY 1, 2""",
        {"like": scope.like, "start": start, "end": end},
    )
    out = []
    for row in _rows(cur):
        clean = {
            k: (v if v is not None else ZERO) if k not in ("creditor_id", "currency", "claims") else v
            for k, v in row.items()
        }
        clean["collected"] = sum((clean[f"collected_{p}"] for p in ("principal", "interest", "fees", "costs")), ZERO)
        net = clean["invoiced"] - clean["credited"]
        clean["collection_rate"] = (clean["collected_principal"] / net) if net > 0 else Decimal(0)
        out.append(clean)
    return out


def ageing(cur: Cursor[Any], scope: Scope, day: date) -> list[dict[str, Any]]:
    """Open receivables per creditor in buckets of days past the effective due date, on ``day``
    (each claim with a balance counted once, in its own bucket)."""
    buckets = " ".join(
        f"WHEN %(day)s - effective_due >= {start} THEN '{label}'" for start, label in reversed(AGE_BUCKETS[1:])
    )
    ledger = scope.schema("ledger")
    cur.execute(
        f"""WITH open AS (
                SELECT c.case_id, c.creditor_id, c.currency, c.effective_due, sum(p.debit - p.credit) AS balance
                FROM "{ledger}".claims c JOIN "{ledger}".postings p USING (case_id)
                WHERE c.invoice LIKE %(like)s AND p.account LIKE 'receivable.%%' AND c.write_off_reason IS NULL
                GROUP BY 1, 2, 3, 4 HAVING sum(p.debit - p.credit) <> 0)
            SELECT creditor_id, currency, CASE {buckets} ELSE 'not due' END AS bucket,
                   count(*) AS claims, sum(balance) AS amount
            FROM open GROUP BY 1, 2, 3 ORDER BY 1, 3""",
        {"like": scope.like, "day": day},
    )
    return _rows(cur)


def bucket_labels() -> list[str]:
    return [label for _, label in AGE_BUCKETS]


def limitation_worklist(
    cur: Cursor[Any], scope: Scope, today: date, within_days: int, limit: int = 20
) -> list[dict[str, Any]]:
    """Open claims whose limitation date falls within ``within_days`` of ``today`` and no payment plan
    is being kept, soonest first, with why collection is paused and what is owed."""
    lim, ledger = scope.schema("limitation"), scope.schema("ledger")
    cur.execute(
        f"""SELECT l.case_id, l.creditor_id, l.invoice, l.claim_type, l.due, l.limitation_date,
                   l.limitation_date - %(today)s AS days_left, l.disputed, l.died, l.lien_expiry,
                   c.stage, c.principal_outstanding, c.currency
            FROM "{lim}".claims l JOIN "{ledger}".claims c USING (case_id)
            WHERE l.invoice LIKE %(like)s AND NOT l.closed AND NOT l.plan_active
              AND l.limitation_date BETWEEN %(today)s AND %(until)s
            ORDER BY l.limitation_date, l.creditor_id, l.invoice LIMIT %(limit)s""",
        {"like": scope.like, "today": today, "until": today + timedelta(days=within_days), "limit": limit},
    )
    return _rows(cur)


def time_barred(cur: Cursor[Any], scope: Scope, today: date) -> int:
    cur.execute(
        f"""SELECT count(*) FROM "{scope.schema("limitation")}".claims
                    WHERE invoice LIKE %s AND limitation_date < %s""",
        (scope.like, today),
    )
    row = cur.fetchone()
    return int(row[0]) if row else 0


def findings_by_code(cur: Cursor[Any], scope: Scope) -> list[dict[str, Any]]:
    cur.execute(
        f"""SELECT code, severity, count(*) AS findings, count(DISTINCT case_id) AS cases
            FROM "{scope.schema("audit")}".findings WHERE invoice LIKE %s
            GROUP BY 1, 2 ORDER BY array_position(ARRAY['breach', 'warning', 'info'], severity), 3 DESC, 1""",
        (scope.like,),
    )
    return _rows(cur)


def step_counts(cur: Cursor[Any], scope: Scope) -> dict[str, int]:
    """How many events of each type the scope's claims have."""
    cur.execute(
        f"""SELECT event_type, count(*) FROM "{scope.schema("audit")}".steps
                    WHERE invoice LIKE %s GROUP BY 1""",
        (scope.like,),
    )
    return {str(k): int(v) for k, v in cur.fetchall()}


def example_cases(cur: Cursor[Any], scope: Scope) -> dict[str, dict[str, Any]]:
    """One telling case per kind, for the dossiers: a breach found by the audit, a maintained
    objection, an enforcement request, a death with proklama, a broken payment plan, a write-off."""
    audit = scope.schema("audit")
    picks: dict[str, dict[str, Any]] = {}
    cur.execute(
        f"""SELECT f.case_id, f.invoice, f.creditor_id, f.code FROM "{audit}".findings f
            WHERE f.invoice LIKE %s AND f.severity = 'breach'
            ORDER BY (f.code = 'escalated_after_timely_payment') DESC, (f.code = 'contact_after_death') DESC,
                     f.creditor_id, f.invoice LIMIT 1""",
        (scope.like,),
    )
    for row in _rows(cur):
        picks["findings"] = {**row, "why": f"the audit found {row['code'].replace('_', ' ')}"}
    wanted = {
        "objection": (
            "ClaimObjectionResolved",
            "detail->>'outcome' = 'maintained'",
            "an objection that was maintained",
        ),
        "enforcement": ("ClaimEnforcementRequested", "true", "escalated to enforcement"),
        "estate": ("ClaimEstateDeadlineNoted", "true", "the debtor died; proklama published"),
        "plan": ("ClaimPaymentPlanBreached", "true", "a payment plan that was broken"),
        "written_off": ("ClaimWrittenOff", "detail->>'reason' = 'time_barred'", "time-barred and written off"),
    }
    for key, (event_type, condition, why) in wanted.items():
        cur.execute(
            f"""SELECT s.case_id, s.invoice, s.creditor_id, count(*) OVER (PARTITION BY s.case_id) AS n
                FROM "{audit}".steps s WHERE s.invoice LIKE %s AND s.case_id IN (
                    SELECT case_id FROM "{audit}".steps WHERE invoice LIKE %s AND event_type = %s AND {condition})
                ORDER BY n DESC, s.creditor_id, s.invoice LIMIT 1""",
            (scope.like, scope.like, event_type),
        )
        for row in _rows(cur):
            if all(row["case_id"] != p["case_id"] for p in picks.values()):
                picks[key] = {**row, "why": why}
    return picks


__all__ = [
    "STAGES",
    "Scope",
    "ageing",
    "bucket_labels",
    "example_cases",
    "findings_by_code",
    "limitation_worklist",
    "money_by_creditor",
    "stage_counts",
    "stages_by_creditor",
    "step_counts",
    "time_barred",
]
