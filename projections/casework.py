"""Read-model queries for casework through the API: worklists, a debtor's claims, a case's postings and
findings, settlement — each limited to a set of creditors (a collection office's municipalities), or
to nothing when ``creditors`` is None (an auditor sees every office).

Lists are pages in a stable order: ``after`` is the sort key of the last row of the previous page
(as ``Page.next`` gave it), so a page never repeats or skips a row when rows are added meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from psycopg import Cursor

from domain.money import ZERO
from projections.base import schema_name
from projections.ledger import PARTS

Order = tuple[tuple[str, str], ...]
"""(column, PostgreSQL type) of the sort key, ascending; its last column makes it unique."""


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next: list[Any] | None  # the sort key to pass as ``after`` for the next page; None on the last


def _rows(cur: Cursor[Any]) -> list[dict[str, Any]]:
    names = [d.name for d in cur.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def page(
    cur: Cursor[Any], inner: str, params: dict[str, Any], order: Order, limit: int, after: Sequence[Any] | None
) -> Page:
    """Run ``inner`` (a SELECT with named parameters) as one page in ``order`` after ``after``."""
    columns = ", ".join(f'q."{c}"' for c, _ in order)
    where = ""
    if after is not None:
        if len(after) != len(order):
            raise ValueError("the cursor does not fit this list")
        keys = ", ".join(f"%(after_{i})s::{t}" for i, (_, t) in enumerate(order))
        where = f"WHERE ({columns}) > ({keys})"
        params = {**params, **{f"after_{i}": v for i, v in enumerate(after)}}
    cur.execute(f"SELECT * FROM ({inner}) q {where} ORDER BY {columns} LIMIT %(limit)s", {**params, "limit": limit + 1})
    rows = _rows(cur)
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, [rows[-1][c] for c, _ in order] if more and rows else None)


def _creditor_filter(creditors: Sequence[str] | None, column: str = "creditor_id") -> str:
    return "" if creditors is None else f" AND {column} = ANY(%(creditors)s)"


BY_CASE: Order = (("creditor_id", "text"), ("invoice", "text"), ("case_id", "text"))


def objections(
    cur: Cursor[Any], creditors: Sequence[str] | None, limit: int, after: Sequence[Any] | None, suffix: str = ""
) -> Page:
    """Open claims under objection (disputed), with the day the last objection was received."""
    ledger, audit = schema_name("ledger", suffix=suffix), schema_name("audit", suffix=suffix)
    inner = f"""
        SELECT c.case_id, c.creditor_id, c.invoice, c.debtor_id, c.stage, c.currency, c.principal_outstanding,
               (SELECT max(s.effective_date) FROM "{audit}".steps s
                 WHERE s.case_id = c.case_id AND s.event_type = 'ClaimObjectionRegistered') AS objection_received
        FROM "{ledger}".claims c
        WHERE c.disputed AND NOT c.settled AND c.write_off_reason IS NULL
              {_creditor_filter(creditors, "c.creditor_id")}"""
    return page(cur, inner, {"creditors": list(creditors or [])}, BY_CASE, limit, after)


def applications(
    cur: Cursor[Any], creditors: Sequence[str] | None, limit: int, after: Sequence[Any] | None, suffix: str = ""
) -> Page:
    """Open claims whose court or enforcement application (forliksklage, utleggsbegjæring,
    betalingsföreläggande, ...) awaits its outcome: stage enforcement, not closed."""
    ledger, audit = schema_name("ledger", suffix=suffix), schema_name("audit", suffix=suffix)
    inner = f"""
        SELECT c.case_id, c.creditor_id, c.invoice, c.debtor_id, c.currency, c.principal_outstanding,
               e.detail->>'route' AS route, e.recorded_date AS requested, e.cost
        FROM "{ledger}".claims c
        JOIN LATERAL (SELECT s.detail, s.recorded_date, s.cost FROM "{audit}".steps s
                      WHERE s.case_id = c.case_id AND s.event_type = 'ClaimEnforcementRequested'
                      ORDER BY s.version DESC LIMIT 1) e ON true
        WHERE c.stage = 'enforcement' AND c.closed_on IS NULL AND c.write_off_reason IS NULL
              {_creditor_filter(creditors, "c.creditor_id")}"""
    return page(cur, inner, {"creditors": list(creditors or [])}, BY_CASE, limit, after)


def complaints(
    cur: Cursor[Any], creditors: Sequence[str] | None, limit: int, after: Sequence[Any] | None, suffix: str = ""
) -> Page:
    """Claims with a complaint filed and not yet decided: the complaints board's worklist."""
    audit = schema_name("audit", suffix=suffix)
    inner = f"""
        SELECT case_id, creditor_id, invoice, debtor_id,
               max(effective_date) FILTER (WHERE event_type = 'ClaimComplaintFiled') AS complaint_received
        FROM "{audit}".steps
        WHERE event_type IN ('ClaimComplaintFiled', 'ClaimComplaintDecided') {_creditor_filter(creditors)}
        GROUP BY case_id, creditor_id, invoice, debtor_id
        HAVING count(*) FILTER (WHERE event_type = 'ClaimComplaintFiled')
             > count(*) FILTER (WHERE event_type = 'ClaimComplaintDecided')"""
    return page(cur, inner, {"creditors": list(creditors or [])}, BY_CASE, limit, after)


def limitation(
    cur: Cursor[Any],
    creditors: Sequence[str] | None,
    today: date,
    within_days: int,
    limit: int,
    after: Sequence[Any] | None,
    suffix: str = "",
) -> Page:
    """Open claims whose limitation date falls within ``within_days`` of ``today`` with no payment plan
    being kept, soonest first."""
    lim = schema_name("limitation", suffix=suffix)
    inner = f"""
        SELECT case_id, creditor_id, invoice, debtor_id, claim_type, due, limitation_date,
               limitation_date - %(today)s::date AS days_left, disputed, died, lien_expiry, estate_report_deadline
        FROM "{lim}".claims
        WHERE NOT closed AND NOT plan_active AND limitation_date BETWEEN %(today)s AND %(until)s
              {_creditor_filter(creditors)}"""
    order: Order = (("limitation_date", "date"), *BY_CASE)
    params = {"creditors": list(creditors or []), "today": today, "until": today + timedelta(days=within_days)}
    return page(cur, inner, params, order, limit, after)


def parked(
    cur: Cursor[Any], projections: Sequence[str], limit: int, after: Sequence[Any] | None, suffix: str = ""
) -> Page:
    """Events the projection runners parked after an error (per case, in order), across projections."""
    parts = [
        f"""SELECT '{name}' AS projection, case_id, version, event_id, partition, "offset", error, parked_at
            FROM "{schema_name(name, suffix=suffix)}".parked"""
        for name in projections
        if _exists(cur, schema_name(name, suffix=suffix), "parked")
    ]
    if not parts:
        return Page([], None)
    order: Order = (("projection", "text"), ("case_id", "text"), ("version", "bigint"), ("offset", "bigint"))
    return page(cur, " UNION ALL ".join(parts), {}, order, limit, after)


def findings(
    cur: Cursor[Any],
    creditors: Sequence[str] | None,
    limit: int,
    after: Sequence[Any] | None,
    *,
    code: str | None = None,
    case_id: str | None = None,
    suffix: str = "",
) -> Page:
    """The audit's findings, by office, code or case."""
    audit = schema_name("audit", suffix=suffix)
    extra = (" AND code = %(code)s" if code else "") + (" AND case_id = %(case_id)s" if case_id else "")
    inner = f"""SELECT case_id, creditor_id, invoice, debtor_id, seq, command_id, code, severity, message
                FROM "{audit}".findings WHERE true {_creditor_filter(creditors)}{extra}"""
    order: Order = (*BY_CASE, ("seq", "int"))
    params = {"creditors": list(creditors or []), "code": code, "case_id": case_id}
    return page(cur, inner, params, order, limit, after)


def claims_of_debtors(
    cur: Cursor[Any],
    debtor_ids: Sequence[str],
    creditors: Sequence[str] | None,
    limit: int,
    after: Sequence[Any] | None,
    suffix: str = "",
) -> Page:
    """A debtor's claims across the municipalities (the rows of the ledger's claims table)."""
    ledger = schema_name("ledger", suffix=suffix)
    inner = f"""SELECT case_id, creditor_id, invoice, debtor_id, claim_type, due, currency, principal,
                       principal_outstanding, fees, costs, paid, stage, disputed, limitation_date,
                       write_off_reason, closed_on, settled
                FROM "{ledger}".claims WHERE debtor_id = ANY(%(debtors)s) {_creditor_filter(creditors)}"""
    return page(cur, inner, {"debtors": list(debtor_ids), "creditors": list(creditors or [])}, BY_CASE, limit, after)


def postings(cur: Cursor[Any], case_id: str, limit: int, after: Sequence[Any] | None, suffix: str = "") -> Page:
    """A case's ledger postings in the order they were made."""
    ledger = schema_name("ledger", suffix=suffix)
    inner = f"""SELECT id, event_id, position, booked, account, kind, debit, credit, currency
                FROM "{ledger}".postings WHERE case_id = %(case_id)s"""
    return page(cur, inner, {"case_id": case_id}, (("id", "bigint"),), limit, after)


def settlement(
    cur: Cursor[Any], creditors: Sequence[str] | None, start: date, end: date, suffix: str = ""
) -> list[dict[str, Any]]:
    """Per creditor and currency: money applied to each part of the claims between ``start`` and
    ``end``, what was invoiced and what is still open."""
    ledger = schema_name("ledger", suffix=suffix)
    collected = ", ".join(
        f"sum(credit - debit) FILTER (WHERE account = 'receivable.{p}' AND kind IN ('payment', 'reallocation') "
        f"AND booked BETWEEN %(start)s AND %(end)s) AS collected_{p}"
        for p in PARTS
    )
    cur.execute(
        f"""SELECT creditor_id, currency,
                   sum(debit) FILTER (WHERE account = 'receivable.principal' AND kind = 'charge.principal'
                                      AND booked BETWEEN %(start)s AND %(end)s) AS invoiced,
                   {collected},
                   sum(debit - credit) FILTER (WHERE account LIKE 'receivable.%%' AND booked <= %(end)s) AS open
            FROM "{ledger}".postings WHERE true {_creditor_filter(creditors)}
            GROUP BY 1, 2 ORDER BY 1, 2""",
        {"creditors": list(creditors or []), "start": start, "end": end},
    )
    out = []
    for row in _rows(cur):
        clean = {k: (ZERO if v is None else v) if k not in ("creditor_id", "currency") else v for k, v in row.items()}
        clean["collected"] = sum((Decimal(clean[f"collected_{p}"]) for p in PARTS), ZERO)
        out.append(clean)
    return out


def case_ids_with_complaints(cur: Cursor[Any], case_ids: Sequence[str], suffix: str = "") -> set[str]:
    audit = schema_name("audit", suffix=suffix)
    cur.execute(
        f"""SELECT DISTINCT case_id FROM "{audit}".steps
            WHERE case_id = ANY(%s) AND event_type = 'ClaimComplaintFiled'""",
        (list(case_ids),),
    )
    return {r[0] for r in cur.fetchall()}


def _exists(cur: Cursor[Any], schema: str, table: str) -> bool:
    cur.execute("SELECT to_regclass(%s)", (f'"{schema}"."{table}"',))
    row = cur.fetchone()
    return row is not None and row[0] is not None
