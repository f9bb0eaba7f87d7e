"""The read models as the pages need them (SQL over the projections' tables; reads only).

Lists the API already has come from ``projections.casework``; what only the pages need is here:
claims with their creditor's name and KID, the search, suspense money and refunds, the dashboard's
time series, the projections' state.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg import Cursor
from psycopg.errors import UndefinedTable

from projections import ledger
from projections.base import schema_name

LEDGER, AUDIT, PARTIES, LIMITATION = (schema_name(n) for n in ("ledger", "audit", "parties", "limitation"))
PROJECTIONS = ("ledger", "limitation", "audit", "parties", "letters")
ROW_CAP = 2000
"""Worklists are sorted and paged on the page; at most this many rows are read."""


def rows(cur: Cursor[Any]) -> list[dict[str, Any]]:
    names = [d.name for d in cur.description or ()]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _creditors(creditors: Sequence[str] | None, column: str = "c.creditor_id") -> str:
    return "" if creditors is None else f" AND {column} = ANY(%(creditors)s)"


CLAIM_COLUMNS = """c.case_id, c.creditor_id, c.invoice, c.debtor_id, c.claim_type, c.due, c.currency, c.principal,
    c.principal_outstanding, c.fees, c.costs, c.paid, c.surplus, c.stage, c.disputed, c.settled, c.write_off_reason,
    c.closed_on, c.limitation_date, c.kid, c.jurisdiction, coalesce(p.name, c.creditor_id) AS creditor_name"""


def claims(
    cur: Cursor[Any],
    *,
    debtor_ids: Sequence[str] | None = None,
    creditors: Sequence[str] | None = None,
    case_id: str | None = None,
    invoice: str | None = None,
    kid: str | None = None,
) -> list[dict[str, Any]]:
    """Claims from the ledger with their creditor's name, filtered by what is given (all filters AND)."""
    where: list[str] = ["true"]
    params: dict[str, Any] = {"creditors": list(creditors or [])}
    for column, value in (("c.case_id", case_id), ("c.invoice", invoice), ("c.kid", kid)):
        if value is not None:
            key = column.split(".")[1]
            where.append(f"{column} = %({key})s")
            params[key] = value
    if debtor_ids is not None:
        where.append("c.debtor_id = ANY(%(debtors)s)")
        params["debtors"] = list(debtor_ids)
    try:
        cur.execute(
            f"""SELECT {CLAIM_COLUMNS} FROM "{LEDGER}".claims c
                LEFT JOIN (SELECT DISTINCT ON (creditor_id) creditor_id, name FROM "{PARTIES}".creditors
                           ORDER BY creditor_id, position DESC) p ON p.creditor_id = c.creditor_id
                WHERE {" AND ".join(where)} {_creditors(creditors)}
                ORDER BY c.due DESC, c.creditor_id, c.invoice LIMIT {ROW_CAP}""",
            params,
        )
    except UndefinedTable:
        cur.connection.rollback()
        return []
    return rows(cur)


def with_balance(cur: Cursor[Any], claim_rows: list[dict[str, Any]], day: date) -> list[dict[str, Any]]:
    """Each claim with its figures on ``day`` (interest to the day), as the ledger computes them."""
    out = []
    for row in claim_rows:
        view = ledger.claim_view(cur, LEDGER, row["case_id"], day) or {}
        balance = Decimal(view.get("balance", "0"))
        out.append({**row, "interest": Decimal(view.get("interest", "0")), "balance": balance,
                    "status": view.get("status", "")})  # fmt: skip
    return out


def is_open(row: dict[str, Any]) -> bool:
    return not row["settled"] and row["write_off_reason"] is None


def debtor_records(cur: Cursor[Any], debtor_ids: Sequence[str]) -> list[dict[str, Any]]:
    try:
        cur.execute(
            f'SELECT debtor_id, office, ref, kind, jurisdiction, died FROM "{PARTIES}".debtors '
            "WHERE debtor_id = ANY(%s) ORDER BY office",
            (list(debtor_ids),),
        )
    except UndefinedTable:
        cur.connection.rollback()
        return []
    return rows(cur)


def debtor_by_ref(cur: Cursor[Any], office: str, ref: str) -> dict[str, Any] | None:
    try:
        cur.execute(
            f'SELECT debtor_id, office, ref, kind, jurisdiction, died FROM "{PARTIES}".debtors '
            "WHERE office = %s AND ref = %s",
            (office, ref),
        )
    except UndefinedTable:
        cur.connection.rollback()
        return None
    found = rows(cur)
    return found[0] if found else None


UUID_TEXT = re.compile(r"^[0-9a-fA-F-]{32,36}$")


def search(
    cur: Cursor[Any], q: str, creditors: Sequence[str] | None, offices: Sequence[str] | None
) -> list[dict[str, Any]]:
    """Claims whose case id, invoice number or KID is ``q``, or of the debtor whose office reference it is."""
    q = q.strip()
    if not q:
        return []
    if UUID_TEXT.match(q):
        try:
            found = claims(cur, case_id=str(UUID(q)), creditors=creditors)
        except ValueError:
            found = []
        if found:
            return found
    found = claims(cur, invoice=q, creditors=creditors)
    found += [c for c in claims(cur, kid=q.replace(" ", ""), creditors=creditors) if c not in found]
    debtor_ids = []
    try:
        cur.execute(
            f'SELECT debtor_id FROM "{PARTIES}".debtors WHERE ref = %(ref)s'
            + ("" if offices is None else " AND office = ANY(%(offices)s)"),
            {"ref": q, "offices": list(offices or [])},
        )
        debtor_ids = [r[0] for r in cur.fetchall()]
    except UndefinedTable:
        cur.connection.rollback()
    if debtor_ids:
        found += [c for c in claims(cur, debtor_ids=debtor_ids, creditors=creditors) if c not in found]
    return found


def suspense(cur: Cursor[Any], creditors: Sequence[str] | None) -> list[dict[str, Any]]:
    """Money received whose reference matched no claim and that is not yet placed on one."""
    try:
        cur.execute(
            f"""SELECT s.case_id, s.item, s.creditor_id, s.reference, s.amount, s.ordered, s.received_on, s.source,
                       s.currency FROM "{LEDGER}".suspense_items s
                WHERE s.allocated_to IS NULL {_creditors(creditors, "s.creditor_id")}
                ORDER BY s.received_on, s.reference LIMIT {ROW_CAP}""",
            {"creditors": list(creditors or [])},
        )
    except UndefinedTable:
        cur.connection.rollback()
        return []
    return rows(cur)


def refunds(cur: Cursor[Any], creditors: Sequence[str] | None) -> list[dict[str, Any]]:
    """Claims paid beyond what was owed: the surplus is owed back to the debtor."""
    try:
        cur.execute(
            f"""SELECT c.case_id, c.creditor_id, c.invoice, c.debtor_id, c.surplus, c.currency, c.closed_on
                FROM "{LEDGER}".claims c WHERE c.surplus > 0 {_creditors(creditors)}
                ORDER BY c.closed_on NULLS LAST, c.invoice LIMIT {ROW_CAP}""",
            {"creditors": list(creditors or [])},
        )
    except UndefinedTable:
        cur.connection.rollback()
        return []
    return rows(cur)


def creditor_names(cur: Cursor[Any], creditors: Sequence[str] | None) -> dict[str, str]:
    try:
        cur.execute(
            f'SELECT DISTINCT ON (creditor_id) creditor_id, name, office FROM "{PARTIES}".creditors '
            f"WHERE true {_creditors(creditors, 'creditor_id')} ORDER BY creditor_id, position DESC",
            {"creditors": list(creditors or [])},
        )
    except UndefinedTable:
        cur.connection.rollback()
        return {}
    return {r[0]: r[1] for r in cur.fetchall()}


def offices(cur: Cursor[Any]) -> list[str]:
    try:
        cur.execute(f'SELECT DISTINCT office FROM "{PARTIES}".creditors ORDER BY 1')
    except UndefinedTable:
        cur.connection.rollback()
        return []
    return [r[0] for r in cur.fetchall()]


# --- the dashboard -------------------------------------------------------------------------------

STAGE_ORDER = ("invoiced", "reminded", "warned", "demanded", "enforcement", "judgment")


def stages_over_time(
    cur: Cursor[Any], creditors: Sequence[str] | None, end: date, weeks: int
) -> list[tuple[date, dict[str, int]]]:
    """Open cases per stage at the end of each of the last ``weeks`` weeks (from the audit trail: a
    case counts from its invoice, at the highest stage its steps reached by that day, until it was
    paid or written off)."""
    start = end - timedelta(days=7 * (weeks - 1))
    try:
        cur.execute(
            f"""WITH weeks AS (SELECT generate_series(%(start)s::date, %(end)s::date, interval '7 day')::date AS d),
                steps AS (
                    SELECT s.case_id, s.recorded_date AS d,
                           CASE WHEN s.event_type = 'ClaimInvoiced' THEN 'invoiced'
                                WHEN s.event_type = 'ClaimJudgmentRegistered' THEN 'judgment'
                                ELSE s.detail->>'stage' END AS stage
                    FROM "{AUDIT}".steps s
                    WHERE s.event_type IN ('ClaimInvoiced', 'ClaimNoticeSent', 'ClaimEnforcementRequested',
                                           'ClaimJudgmentRegistered') {_creditors(creditors, "s.creditor_id")}),
                ended AS (
                    SELECT case_id, min(recorded_date) AS d FROM "{AUDIT}".steps
                    WHERE event_type = 'ClaimWrittenOff' {_creditors(creditors, "creditor_id")} GROUP BY case_id
                    UNION ALL
                    SELECT case_id, closed_on FROM "{LEDGER}".claims c
                    WHERE closed_on IS NOT NULL AND settled {_creditors(creditors)}),
                at_week AS (
                    SELECT w.d AS week, st.case_id,
                           max(array_position(ARRAY['invoiced','reminded','warned','demanded','enforcement','judgment'],
                                              st.stage)) AS rank
                    FROM weeks w JOIN steps st ON st.d <= w.d
                    WHERE NOT EXISTS (SELECT 1 FROM ended e WHERE e.case_id = st.case_id AND e.d <= w.d)
                    GROUP BY 1, 2)
                SELECT week, rank, count(*) FROM at_week GROUP BY 1, 2 ORDER BY 1, 2""",
            {"start": start, "end": end, "creditors": list(creditors or [])},
        )
    except UndefinedTable:
        cur.connection.rollback()
        return []
    series: dict[date, dict[str, int]] = {start + timedelta(days=7 * i): {} for i in range(weeks)}
    for week, rank, count in cur.fetchall():
        if rank:
            series.setdefault(week, {})[STAGE_ORDER[int(rank) - 1]] = int(count)
    return sorted(series.items())


def collection(cur: Cursor[Any], creditors: Sequence[str] | None, start: date, end: date) -> list[dict[str, Any]]:
    """Per creditor: principal invoiced (less credit notes) and principal collected in the period."""
    try:
        cur.execute(
            f"""SELECT creditor_id, currency,
                  coalesce(sum(debit) FILTER (WHERE account = 'receivable.principal' AND kind = 'charge.principal'
                      AND booked BETWEEN %(start)s AND %(end)s), 0) AS invoiced,
                  coalesce(sum(debit) FILTER (WHERE account = 'credit_notes'
                      AND booked BETWEEN %(start)s AND %(end)s), 0) AS credited,
                  coalesce(sum(credit - debit) FILTER (WHERE account LIKE 'receivable.%%'
                      AND kind IN ('payment', 'reallocation') AND booked BETWEEN %(start)s AND %(end)s), 0)
                      AS collected,
                  coalesce(sum(debit - credit) FILTER (WHERE account LIKE 'receivable.%%'), 0) AS open_balance
                FROM "{LEDGER}".postings c WHERE true {_creditors(creditors)} GROUP BY 1, 2 ORDER BY 1, 2""",
            {"creditors": list(creditors or []), "start": start, "end": end},
        )
    except UndefinedTable:
        cur.connection.rollback()
        return []
    out = []
    for r in rows(cur):
        net = r["invoiced"] - r["credited"]
        r["rate"] = (r["collected"] / net) if net > 0 else Decimal(0)
        out.append(r)
    return out


AGE_BUCKETS = ((0, "not due"), (1, "1–30"), (31, "31–90"), (91, "91–180"), (181, "181–365"), (366, "> 365"))


def ageing(cur: Cursor[Any], creditors: Sequence[str] | None, day: date) -> list[dict[str, Any]]:
    """Open claims per creditor by days past their due date."""
    cases = " ".join(
        f"WHEN %(day)s - c.effective_due >= {lo} THEN {i}"
        for i, (lo, _) in reversed(list(enumerate(AGE_BUCKETS)))
        if lo
    )
    try:
        cur.execute(
            f"""SELECT c.creditor_id, c.currency, CASE {cases} ELSE 0 END AS bucket, count(*) AS claims,
                       sum(c.principal_outstanding + c.fees + c.costs) AS amount
                FROM "{LEDGER}".claims c WHERE NOT c.settled AND c.write_off_reason IS NULL {_creditors(creditors)}
                GROUP BY 1, 2, 3 ORDER BY 1, 3""",
            {"creditors": list(creditors or []), "day": day},
        )
    except UndefinedTable:
        cur.connection.rollback()
        return []
    return rows(cur)


def findings_by_code(cur: Cursor[Any], creditors: Sequence[str] | None) -> list[dict[str, Any]]:
    try:
        cur.execute(
            f"""SELECT code, severity, count(*) AS findings, count(DISTINCT case_id) AS cases
                FROM "{AUDIT}".findings WHERE true {_creditors(creditors, "creditor_id")}
                GROUP BY 1, 2 ORDER BY array_position(ARRAY['breach', 'warning', 'info'], severity), 3 DESC, 1""",
            {"creditors": list(creditors or [])},
        )
    except UndefinedTable:
        cur.connection.rollback()
        return []
    return rows(cur)


def pipeline(cur: Cursor[Any]) -> dict[str, Any]:
    """The publisher's and each projection's progress: events stored, published, applied; parked cases."""
    cur.execute("SELECT to_regclass('public.collectionapp_events'), to_regclass('public.kravsak_publisher_position')")
    found = cur.fetchone()
    stored = published = 0
    if found and found[0]:
        cur.execute("SELECT coalesce(max(notification_id), 0) FROM public.collectionapp_events")
        stored = int(cur.fetchone()[0])  # type: ignore[index]
    if found and found[1]:
        cur.execute("SELECT coalesce(max(position), 0) FROM public.kravsak_publisher_position")
        published = int(cur.fetchone()[0])  # type: ignore[index]
    projections = []
    for name in PROJECTIONS:
        schema = schema_name(name)
        cur.execute(
            "SELECT to_regclass(%s), to_regclass(%s), to_regclass(%s)",
            (f'"{schema}".offsets', f'"{schema}".parked', f'"{schema}".meta'),
        )
        tables = cur.fetchone()
        if not tables or not tables[0]:
            continue
        cur.execute(f'SELECT coalesce(sum(next_offset), 0) FROM "{schema}".offsets')
        applied = int(cur.fetchone()[0])  # type: ignore[index]
        parked = 0
        if tables[1]:
            cur.execute(f'SELECT count(DISTINCT case_id) FROM "{schema}".parked')
            parked = int(cur.fetchone()[0])  # type: ignore[index]
        meta: dict[str, str] = {}
        if tables[2]:
            cur.execute(f'SELECT key, value FROM "{schema}".meta')
            meta = {str(k): str(v) for k, v in cur.fetchall()}
        projections.append(
            {"name": name, "applied": applied, "lag": max(published - applied, 0), "parked": parked, "meta": meta}
        )
    return {"stored": stored, "published": published, "publisher_lag": max(stored - published, 0),
            "projections": projections}  # fmt: skip
