"""The ``letters`` projection: one row per letter a case event calls for — the outbox.

Every ``ClaimNoticeSent`` and ``ClaimPaymentPlanAgreed`` becomes a row with the letter's facts
(``letters.facts``) and the channel the event recorded, written by the projection runner in the same
transaction as the consumed offsets: a letter is queued exactly once however often the event is
delivered. ``CreditorRegistered`` keeps the creditors' names (the letter must name the creditor).

Rendering and delivery are the dispatcher's (``letters.outbox``): its state lives in its own schema,
so rebuilding this projection never queues a letter twice nor loses a letter's hash.
"""

from __future__ import annotations

import json
from typing import Any

from psycopg import Cursor

from domain.claim import Claim
from letters.facts import LETTER_EVENTS, letter_facts
from projections.base import ProjectedEvent

NAME = "letters"


class Letters:
    name = NAME
    version = 1

    def create_tables(self, cur: Cursor[Any], schema: str) -> None:
        cur.execute(f"""
            CREATE TABLE IF NOT EXISTS "{schema}".letters (
                letter_id text PRIMARY KEY, case_id text NOT NULL, debtor_id text NOT NULL,
                creditor_id text NOT NULL, kind text NOT NULL, jurisdiction text NOT NULL, channel text NOT NULL,
                invoice text NOT NULL, sent_on date NOT NULL, deadline date NOT NULL, facts jsonb NOT NULL,
                position bigint NOT NULL);
            CREATE INDEX IF NOT EXISTS letters_case ON "{schema}".letters (case_id);
            CREATE INDEX IF NOT EXISTS letters_debtor ON "{schema}".letters (debtor_id);
            CREATE TABLE IF NOT EXISTS "{schema}".creditors (
                creditor_id text PRIMARY KEY, name text NOT NULL, office text NOT NULL);
        """)

    def before_view(self, aggregate: Any) -> None:
        """``apply`` never reads the state before the event: the runner copies nothing for it."""
        return None

    def apply(self, cur: Cursor[Any], event: ProjectedEvent, schema: str, before: Any | None, after: Any) -> None:
        if event.event_type == "CreditorRegistered":
            v = event.values
            cur.execute(
                f'INSERT INTO "{schema}".creditors VALUES (%s,%s,%s) ON CONFLICT (creditor_id) DO UPDATE '
                "SET name = EXCLUDED.name, office = EXCLUDED.office",
                (str(v["creditor"]), str(v["name"]), str(v["office"])),
            )
            return
        if event.event_type not in LETTER_EVENTS or not isinstance(after, Claim):
            return
        facts = letter_facts(
            event_id=event.event_id,
            event_type=event.event_type,
            case_id=event.case_id,
            values=event.values,
            sent_on=event.effective_date,
            claim=after,
        )
        cur.execute(
            f'INSERT INTO "{schema}".letters VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) '
            "ON CONFLICT (letter_id) DO NOTHING",
            (
                facts["letter_id"],
                event.case_id,
                facts["debtor_id"],
                facts["creditor_id"],
                facts["kind"],
                facts["jurisdiction"],
                facts["channel"],
                facts["invoice"],
                event.effective_date,
                facts["deadline"],
                json.dumps(facts),
                event.position,
            ),
        )
