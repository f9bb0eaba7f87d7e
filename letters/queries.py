"""Reading the letters of a case or a debtor: the dossier's "letters" section and the debtor's page.

Joins the ``letters`` projection (what was due to be sent) with the dispatcher's record (what was
sent, how, its SHA-256). No personal data: the recipient is read from the register only when a
letter is rendered or opened (``letters.outbox.archived_pdf``).
"""

from __future__ import annotations

from typing import Any

from psycopg import Cursor

from letters.outbox import DISPATCH_SCHEMA, LETTERS_SCHEMA

_SELECT = f"""
    SELECT l.letter_id, l.kind, l.sent_on, l.deadline, l.channel, l.invoice, l.facts->>'total' AS total,
           d.delivered_by, d.reason, d.sha256, d.batch_id, d.pages, d.dispatched_at, h.reason AS held
    FROM "{LETTERS_SCHEMA}".letters l
    LEFT JOIN "{DISPATCH_SCHEMA}".dispatched d USING (letter_id)
    LEFT JOIN "{DISPATCH_SCHEMA}".held h USING (letter_id)
"""


def _rows(cur: Cursor[Any], where: str, value: str) -> list[dict[str, Any]]:
    cur.execute("SELECT to_regclass(%s), to_regclass(%s)", (f'"{LETTERS_SCHEMA}".letters', f'"{DISPATCH_SCHEMA}".held'))
    found = cur.fetchone()
    if not found or found[0] is None or found[1] is None:
        return []
    cur.execute(_SELECT + f" WHERE {where} = %s ORDER BY l.sent_on, l.letter_id", (value,))
    cols = [d.name for d in cur.description or ()]
    out = []
    for row in cur.fetchall():
        r = dict(zip(cols, row, strict=True))
        r["status"] = "sent" if r["sha256"] else ("held" if r["held"] else "pending")
        out.append({k: (str(v) if v is not None and not isinstance(v, (int, str)) else v) for k, v in r.items()})
    return out


def letters_for_case(cur: Cursor[Any], case_id: str) -> list[dict[str, Any]]:
    return _rows(cur, "l.case_id", case_id)


def letters_for_debtor(cur: Cursor[Any], debtor_id: str) -> list[dict[str, Any]]:
    return _rows(cur, "l.debtor_id", debtor_id)
