"""Settlement per municipality (NO oppgjør, SE avräkning) for one period, read from the ledger, with the
reconciliation an office checks before it pays a municipality what was collected for it (ADR 0019).

Collected in the period (postings booked in it): principal, interest, fees and costs (payments net of
reallocations), surplus received (owed back), refunds paid out (surplus and suspense), money into and out of
suspense, write-downs in the accounts, write-offs, principal forgiven.

Reconciliation, cumulative to the period's end:

- *money in = allocated + surplus held + suspense held + refunds out*: money in is what reached the bank
  account (every debit of ``bank`` less the internal moves: money placed from suspense on a claim and
  reallocations between parts); allocated is what paid the claims' parts; surplus and suspense held are
  the balances of ``refund.surplus`` and ``suspense``; refunds out what went back to payers;
- *debits = credits* over every posting of the creditor;
- each claim's ledger balance equals the domain's (the caller passes the domain's balances).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from psycopg import Cursor

from domain.money import ZERO, fmt

PARTS = ("principal", "interest", "fees", "costs")


@dataclass
class Settlement:
    creditor: str
    currency: str
    start: date
    end: date
    figures: dict[str, Decimal]
    reconciliation: dict[str, Decimal]
    claim_differences: list[dict[str, str]] = field(default_factory=list)
    claims_checked: int = 0

    @property
    def money_holds(self) -> bool:
        r = self.reconciliation
        return r["money_in"] == r["allocated"] + r["surplus_held"] + r["suspense_held"] + r["refunds_out"]

    @property
    def balanced(self) -> bool:
        return self.reconciliation["debits"] == self.reconciliation["credits"]

    @property
    def holds(self) -> bool:
        return self.money_holds and self.balanced and not self.claim_differences

    def as_json(self) -> dict[str, Any]:
        return {
            "creditor": self.creditor,
            "currency": self.currency,
            "period": {"from": self.start.isoformat(), "to": self.end.isoformat()},
            "collected": {k: fmt(v) for k, v in self.figures.items()},
            "reconciliation": {
                **{k: fmt(v) for k, v in self.reconciliation.items()},
                "money_in_equals_allocated_surplus_suspense_refunds": self.money_holds,
                "debits_equal_credits": self.balanced,
                "claims_checked": self.claims_checked,
                "claim_balances_equal_domain": not self.claim_differences,
                "claim_differences": self.claim_differences,
                "holds": self.holds,
            },
        }


_FIGURES = """
    SELECT
      {parts},
      coalesce(sum(credit - debit) FILTER (WHERE account = 'refund.surplus' AND kind = 'overpayment'), 0)
          AS surplus_received,
      coalesce(sum(credit) FILTER (WHERE account = 'bank' AND kind IN ('refund', 'suspense_refund')), 0)
          AS refunds_out,
      coalesce(sum(credit) FILTER (WHERE account = 'suspense' AND kind = 'suspense_in'), 0) AS suspense_in,
      coalesce(sum(debit) FILTER (WHERE account = 'suspense' AND kind = 'suspense_out'), 0) AS suspense_placed,
      coalesce(sum(debit) FILTER (WHERE account = 'written_down'), 0) AS written_down,
      coalesce(sum(debit) FILTER (WHERE account = 'written_off'), 0) AS written_off,
      coalesce(sum(debit) FILTER (WHERE account = 'forgiven'), 0) AS forgiven
    FROM "{schema}".postings WHERE creditor_id = %(creditor)s AND currency = %(currency)s
      AND booked BETWEEN %(start)s AND %(end)s{only}"""

_RECONCILIATION = """
    SELECT
      coalesce(sum(debit) FILTER (WHERE account = 'bank'), 0)
        - coalesce(sum(credit) FILTER (WHERE account = 'bank' AND kind IN ('suspense_out', 'reallocation')), 0)
          AS money_in,
      coalesce(sum(credit - debit) FILTER (WHERE account LIKE 'receivable.%%'
          AND kind IN ('payment', 'reallocation')), 0) AS allocated,
      coalesce(sum(credit - debit) FILTER (WHERE account = 'refund.surplus'), 0) AS surplus_held,
      coalesce(sum(credit - debit) FILTER (WHERE account = 'suspense'), 0) AS suspense_held,
      coalesce(sum(credit) FILTER (WHERE account = 'bank' AND kind IN ('refund', 'suspense_refund')), 0)
          AS refunds_out,
      coalesce(sum(debit), 0) AS debits,
      coalesce(sum(credit), 0) AS credits
    FROM "{schema}".postings WHERE creditor_id = %(creditor)s AND currency = %(currency)s AND booked <= %(end)s{only}"""


def currencies(cur: Cursor[Any], schema: str, creditor: str) -> list[str]:
    cur.execute(f'SELECT DISTINCT currency FROM "{schema}".postings WHERE creditor_id = %s ORDER BY 1', (creditor,))
    return [str(c) for (c,) in cur.fetchall()]


def settle(
    cur: Cursor[Any],
    schema: str,
    creditor: str,
    currency: str,
    start: date,
    end: date,
    cases: list[str] | None = None,
) -> Settlement:
    """The creditor's settlement; ``cases``: only these cases' postings (claims, suspense account) — one office
    among several sharing a ledger's creditor numbers, such as the demo's runs."""
    params = {"creditor": creditor, "currency": currency, "start": start, "end": end, "cases": cases}
    only = " AND case_id = ANY(%(cases)s)" if cases is not None else ""
    parts = ",\n      ".join(
        f"coalesce(sum(credit - debit) FILTER (WHERE account = 'receivable.{p}' "
        f"AND kind IN ('payment', 'reallocation')), 0) AS {p}"
        for p in PARTS
    )
    cur.execute(_FIGURES.format(parts=parts, schema=schema, only=only), params)
    names = [d.name for d in cur.description or ()]
    row = cur.fetchone() or ()
    figures = {n: Decimal(v) for n, v in zip(names, row, strict=True)}
    figures["collected"] = sum((figures[p] for p in PARTS), ZERO)
    cur.execute(_RECONCILIATION.format(schema=schema, only=only), params)
    names = [d.name for d in cur.description or ()]
    row = cur.fetchone() or ()
    reconciliation = {n: Decimal(v) for n, v in zip(names, row, strict=True)}
    return Settlement(creditor, currency, start, end, figures, reconciliation)


def claim_balances(cur: Cursor[Any], schema: str, creditor: str, end: date) -> dict[str, tuple[str, Decimal]]:
    """Each claim's posted balance (receivables + written off) to ``end``: case id → (invoice, balance)."""
    cur.execute(
        f"""SELECT case_id, invoice, coalesce(sum(debit - credit), 0) FROM "{schema}".postings
            WHERE creditor_id = %s AND booked <= %s AND invoice <> ''
              AND (account LIKE 'receivable.%%' OR account = 'written_off') GROUP BY 1, 2""",
        (creditor, end),
    )
    return {str(c): (str(i), Decimal(b)) for c, i, b in cur.fetchall()}


def csv_rows(s: Settlement) -> list[list[str]]:
    data = s.as_json()
    rows = [["section", "figure", "amount"]]
    rows += [["collected", k, v] for k, v in data["collected"].items()]
    rows += [["reconciliation", k, str(v)] for k, v in data["reconciliation"].items() if k != "claim_differences"]
    return rows
