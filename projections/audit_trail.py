"""The good-collection-practice audit trail: what the complaints board reads.

Per case, every step in order with its effective and recorded dates, channel, deadline, fee or
cost, legal basis and rule version; and the findings of the domain's pure audit over the whole
trail, recomputed after every event so a late fact (an objection received earlier, a payment
ordered in time, a death) raises findings on steps taken long before. (On the projector's fast path, of a case's
events in one part only the last one's findings are computed and written: each event's replace the one's before.)
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any
from uuid import UUID

import orjson
from psycopg import Cursor

from domain.claim import Claim
from projections.base import ProjectedEvent, in_schema, write_latest

SKIP_IN_DETAIL = frozenset(
    {
        "command_id",
        "effective",
        "recorded",
        "rule_version",
        "originator_id",
        "originator_version",
        "timestamp",
        "originator_topic",
    }
)


def _json_default(value: Any) -> str:
    if isinstance(value, (date, Decimal, UUID)):  # a datetime is a date: its ``str`` too
        return str(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


_DETAIL_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS
"""Dates and times through ``_json_default`` (their ``str``, as ``json.dumps`` with it wrote them); keys that are not
text written as text, as ``json`` does."""


def _detail(values: dict[str, Any]) -> str:
    """An event's values as the step's ``detail`` (JSON), without the envelope's. orjson, not ``json``: half the time
    per event, the same JSON (a test holds it to ``json.dumps`` for every event type)."""
    return orjson.dumps(
        {k: v for k, v in values.items() if k not in SKIP_IN_DETAIL}, default=_json_default, option=_DETAIL_OPTIONS
    ).decode()


# The statements: made for a schema once (the batched cursor knows a statement by its text).
_STEPS_INSERT = (
    'INSERT INTO "{schema}".steps VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) '
    "ON CONFLICT DO NOTHING"
)
_FINDINGS_DELETE = 'DELETE FROM "{schema}".findings WHERE case_id = %s'
_FINDINGS_INSERT = (
    'INSERT INTO "{schema}".findings (case_id, seq, creditor_id, debtor_id, invoice, command_id, code, '
    "severity, message, from_day) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
)


class AuditTrail:
    name = "audit"
    version = 3  # 2: no notice_fee_not_allowed findings (ADR 0010); 3: findings from a day on (from_day, format 1.1)

    def create_tables(self, cur: Cursor[Any], schema: str) -> None:
        cur.execute(f"""
            CREATE TABLE IF NOT EXISTS "{schema}".steps (
                case_id text NOT NULL, version bigint NOT NULL, event_id text NOT NULL, event_type text NOT NULL,
                command_id text NOT NULL, creditor_id text NOT NULL, debtor_id text NOT NULL, invoice text NOT NULL,
                effective_date date NOT NULL, recorded_date date NOT NULL, recorded_at timestamptz NOT NULL,
                channel text, deadline date, fee numeric(16,2), cost numeric(16,2), amount numeric(16,2),
                legal_basis text, rule_version text NOT NULL, detail jsonb NOT NULL,
                PRIMARY KEY (case_id, version));
            CREATE INDEX IF NOT EXISTS steps_debtor ON "{schema}".steps (debtor_id);
            CREATE INDEX IF NOT EXISTS steps_invoice ON "{schema}".steps (invoice);
            CREATE INDEX IF NOT EXISTS steps_kid ON "{schema}".steps ((detail->>'kid'))
                WHERE event_type = 'ClaimInvoiced';
            CREATE TABLE IF NOT EXISTS "{schema}".findings (
                case_id text NOT NULL, seq int NOT NULL, creditor_id text NOT NULL, debtor_id text NOT NULL,
                invoice text NOT NULL, command_id text NOT NULL, code text NOT NULL, severity text NOT NULL,
                message text NOT NULL, PRIMARY KEY (case_id, seq));
            ALTER TABLE "{schema}".findings ADD COLUMN IF NOT EXISTS from_day date;
            CREATE INDEX IF NOT EXISTS findings_code ON "{schema}".findings (code);
            CREATE INDEX IF NOT EXISTS findings_debtor ON "{schema}".findings (debtor_id);
        """)

    def before_view(self, aggregate: Any) -> None:
        """``apply`` never reads the state before the event: the runner copies nothing for it."""
        return None

    def apply(self, cur: Cursor[Any], event: ProjectedEvent, schema: str, before: Any | None, after: Any) -> None:
        if not isinstance(after, Claim):
            return
        v = event.values
        cur.execute(
            in_schema(_STEPS_INSERT, schema),
            (
                event.case_id,
                event.aggregate_version,
                event.event_id,
                event.event_type,
                v.get("command_id", ""),
                after.creditor_id,
                after.debtor_id,
                after.invoice,
                v.get("effective", event.effective_date),
                v.get("recorded", event.recorded_date),
                event.recorded_at,
                v.get("channel"),
                v.get("deadline"),
                v.get("fee"),
                v.get("cost"),
                v.get("amount"),
                v.get("legal_basis"),
                v.get("rule_version", ""),
                _detail(v),
            ),
        )
        # the findings over the whole trail: from the claim's state after its last event, once per part on the fast path
        write_latest(cur, ("audit", schema, event.case_id), partial(_write_findings, schema, event.case_id, after))


def _write_findings(schema: str, case_id: str, after: Claim, cur: Cursor[Any]) -> None:
    """The claim's findings from its state now (the fold's aggregate, changed in place by its later events), in place
    of those written before."""
    cur.execute(in_schema(_FINDINGS_DELETE, schema), (case_id,))
    findings = after.audit().findings
    if findings:
        cur.executemany(
            in_schema(_FINDINGS_INSERT, schema),
            [
                (
                    case_id,
                    i,
                    after.creditor_id,
                    after.debtor_id,
                    after.invoice,
                    f.command_id,
                    f.code,
                    f.severity.value,
                    f.message,
                    f.from_day,
                )
                for i, f in enumerate(findings)
            ],
        )


def _rows(cur: Cursor[Any]) -> list[dict[str, Any]]:
    names = [d.name for d in cur.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def trail(cur: Cursor[Any], schema: str, case_id: str) -> list[dict[str, Any]]:
    cur.execute(f'SELECT * FROM "{schema}".steps WHERE case_id = %s ORDER BY version', (case_id,))
    return _rows(cur)


def findings(
    cur: Cursor[Any],
    schema: str,
    *,
    case_id: str | None = None,
    debtor_id: str | None = None,
    code: str | None = None,
    day: date | None = None,
) -> list[dict[str, Any]]:
    """Findings by case, by debtor or by code across all cases; with ``day``, only those that hold on it
    (a threat_not_carried_out holds from the day after the creditor's window)."""
    where: list[str] = []
    args: list[Any] = []
    for column, value in (("case_id", case_id), ("debtor_id", debtor_id), ("code", code)):
        if value is not None:
            where.append(f"{column} = %s")
            args.append(value)
    if day is not None:
        where.append("(from_day IS NULL OR from_day <= %s)")
        args.append(day)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    cur.execute(f'SELECT * FROM "{schema}".findings {clause} ORDER BY creditor_id, invoice, seq', args)
    return _rows(cur)


def findings_by_code(cur: Cursor[Any], schema: str) -> list[tuple[str, str, int]]:
    cur.execute(f'SELECT code, severity, count(*) FROM "{schema}".findings GROUP BY 1, 2 ORDER BY 3 DESC, 1')
    return [(r[0], r[1], int(r[2])) for r in cur.fetchall()]


def case_ids_for(cur: Cursor[Any], schema: str, reference: str, creditor_id: str | None = None) -> list[str]:
    """The cases a person may name: by case id, by invoice number or by KID (OCR reference),
    optionally of one creditor; several when an invoice number repeats across creditors."""
    cur.execute(
        f"""SELECT DISTINCT case_id FROM "{schema}".steps
            WHERE (case_id = %(ref)s OR invoice = %(ref)s
                   OR (event_type = 'ClaimInvoiced' AND detail->>'kid' = %(ref)s))
              AND (%(creditor)s::text IS NULL OR creditor_id = %(creditor)s)
            ORDER BY case_id""",
        {"ref": reference.strip(), "creditor": creditor_id},
    )
    return [r[0] for r in cur.fetchall()]
