"""Parties: which municipalities an office collects for, and which debtor records a person has.

Two small tables the API needs to decide who may see what without loading aggregates:

- ``creditors``: every registered creditor (municipality) with its collection office, so a
  caseworker's worklists cover exactly the municipalities of their office;
- ``debtors``: every debtor record with its office, its office reference and its opaque id (the
  keyed hash of the national identity number, ``domain.identity.opaque_debtor_id``), so a resident
  who logs in with a ``pid`` finds their own debtor records — one per office — and nothing else.

No personal data is stored: the opaque id cannot be turned back into the number without the key.
"""

from __future__ import annotations

from typing import Any

from psycopg import Cursor

from domain.parties import Creditor, Debtor
from projections.base import ProjectedEvent


class Parties:
    name = "parties"
    version = 1

    def create_tables(self, cur: Cursor[Any], schema: str) -> None:
        cur.execute(f"""
            CREATE TABLE IF NOT EXISTS "{schema}".creditors (
                aggregate_id text PRIMARY KEY, creditor_id text NOT NULL, name text NOT NULL, office text NOT NULL,
                jurisdiction text NOT NULL, position bigint NOT NULL);
            CREATE INDEX IF NOT EXISTS creditors_office ON "{schema}".creditors (office);
            CREATE TABLE IF NOT EXISTS "{schema}".debtors (
                debtor_id text PRIMARY KEY, office text NOT NULL, ref text NOT NULL, kind text NOT NULL,
                jurisdiction text NOT NULL, opaque_id text NOT NULL, died date, position bigint NOT NULL);
            CREATE INDEX IF NOT EXISTS debtors_opaque ON "{schema}".debtors (opaque_id);
        """)

    def before_view(self, aggregate: Any) -> None:
        """``apply`` never reads the state before the event: the runner copies nothing for it."""
        return None

    def apply(self, cur: Cursor[Any], event: ProjectedEvent, schema: str, before: Any | None, after: Any) -> None:
        if isinstance(after, Creditor):
            cur.execute(
                f'INSERT INTO "{schema}".creditors VALUES (%s,%s,%s,%s,%s,%s) ON CONFLICT (aggregate_id) DO UPDATE '
                "SET name = EXCLUDED.name, office = EXCLUDED.office, position = EXCLUDED.position",
                (event.case_id, after.creditor, after.name, after.office, after.jurisdiction, event.position),
            )
        elif isinstance(after, Debtor):
            cur.execute(
                f'INSERT INTO "{schema}".debtors VALUES (%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (debtor_id) DO UPDATE '
                "SET died = EXCLUDED.died, position = EXCLUDED.position",
                (
                    event.case_id,
                    after.office,
                    after.ref,
                    after.kind,
                    after.jurisdiction,
                    after.opaque_id,
                    after.died,
                    event.position,
                ),
            )


def creditors_of_office(cur: Cursor[Any], schema: str, office: str) -> list[str]:
    """The municipality numbers an office collects for."""
    cur.execute(f'SELECT DISTINCT creditor_id FROM "{schema}".creditors WHERE office = %s ORDER BY 1', (office,))
    return [r[0] for r in cur.fetchall()]


def debtors_with_opaque_id(cur: Cursor[Any], schema: str, opaque_id: str) -> list[dict[str, Any]]:
    """A person's debtor records (one per office), found by the opaque id of their identity number."""
    cur.execute(
        f'SELECT debtor_id, office, ref, kind FROM "{schema}".debtors WHERE opaque_id = %s ORDER BY office',
        (opaque_id,),
    )
    return [{"debtor_id": r[0], "office": r[1], "ref": r[2], "kind": r[3]} for r in cur.fetchall()]
