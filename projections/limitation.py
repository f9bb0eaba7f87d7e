"""The limitation watch: when each claim dies, why it is still alive, and the worklist.

Per claim: the limitation date and every interruption with its legal ground, the estate reporting
deadline where the debtor died, and — for claims secured by the statutory lien (kommunale
avgifter, eiendomsskatt) — the day the lien lapses unless forced sale is requested
(panteloven § 6-3). Collection offices run whole programmes on the worklist: claims whose
limitation date falls within N days with no interruption under way.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from psycopg import Cursor

from domain.calendar import add_years
from domain.claim import Claim, estate_status
from domain.parties import Debtor
from domain.rules import load_all_rules, rules_for
from projections.base import ProjectedEvent, in_schema

# The statements: made for a schema once (the batched cursor knows a statement by its text).
_DEBTORS_UPSERT = (
    'INSERT INTO "{schema}".debtors VALUES (%s,%s,%s,%s) ON CONFLICT (debtor_id) DO UPDATE '
    "SET died = EXCLUDED.died, estate_report_deadline = EXCLUDED.estate_report_deadline, "
    "position = EXCLUDED.position"
)
_INTERRUPTIONS_INSERT = 'INSERT INTO "{schema}".interruptions VALUES (%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING'
_CLAIMS_UPSERT = (
    'INSERT INTO "{schema}".claims VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) '
    "ON CONFLICT (case_id) DO UPDATE SET limitation_date = EXCLUDED.limitation_date, died = EXCLUDED.died, "
    "estate_report_deadline = EXCLUDED.estate_report_deadline, "
    "reported_to_estate = EXCLUDED.reported_to_estate, judgment_on = EXCLUDED.judgment_on, "
    "closed = EXCLUDED.closed, disputed = EXCLUDED.disputed, plan_active = EXCLUDED.plan_active, "
    "position = EXCLUDED.position"
)


class LimitationWatch:
    name = "limitation"
    version = 1

    def create_tables(self, cur: Cursor[Any], schema: str) -> None:
        cur.execute(f"""
            CREATE TABLE IF NOT EXISTS "{schema}".claims (
                case_id text PRIMARY KEY, creditor_id text NOT NULL, debtor_id text NOT NULL, invoice text NOT NULL,
                jurisdiction text NOT NULL, claim_type text NOT NULL, due date NOT NULL,
                initial_limitation_date date NOT NULL, limitation_date date NOT NULL,
                lien_secured boolean NOT NULL, lien_expiry date, died date, estate_report_deadline date,
                reported_to_estate date, judgment_on date, closed boolean NOT NULL, disputed boolean NOT NULL,
                plan_active boolean NOT NULL, position bigint NOT NULL);
            CREATE INDEX IF NOT EXISTS limitation_date ON "{schema}".claims (limitation_date) WHERE NOT closed;
            CREATE TABLE IF NOT EXISTS "{schema}".interruptions (
                case_id text NOT NULL, version bigint NOT NULL, event_id text NOT NULL, on_date date NOT NULL,
                ground text NOT NULL, legal_basis text NOT NULL, years int NOT NULL, limitation_date date NOT NULL,
                PRIMARY KEY (case_id, version));
            CREATE TABLE IF NOT EXISTS "{schema}".debtors (
                debtor_id text PRIMARY KEY, died date, estate_report_deadline date, position bigint NOT NULL);
        """)

    def before_view(self, aggregate: Any) -> None:
        """``apply`` never reads the state before the event: the runner copies nothing for it."""
        return None

    def ready(self) -> None:
        """Reads (and checks) every jurisdiction's rules, which ``apply`` needs: when the runner starts, so that a
        broken parameter file stops the start and the first batch does not wait for the files (~60 ms)."""
        load_all_rules()

    def apply(self, cur: Cursor[Any], event: ProjectedEvent, schema: str, before: Any | None, after: Any) -> None:
        if isinstance(after, Debtor):
            cur.execute(
                in_schema(_DEBTORS_UPSERT, schema),
                (event.case_id, after.died, after.estate_report_deadline, event.position),
            )
            return
        if not isinstance(after, Claim):
            return
        if event.event_type == "ClaimLimitationInterrupted":
            v = event.values
            cur.execute(
                in_schema(_INTERRUPTIONS_INSERT, schema),
                (
                    event.case_id,
                    event.aggregate_version,
                    event.event_id,
                    v["effective"],
                    v["ground"],
                    v["legal_basis"],
                    v["years"],
                    v["limitation_date"],
                ),
            )
        lien_expiry = None
        if after.lien_secured:
            years = int(rules_for(after.jurisdiction.value).params.value("legalpant_lapse_years", after.due))
            lien_expiry = add_years(after.due, years)
        facts = after.facts
        assert facts.initial_limitation_date is not None
        closed = after.closed_on is not None or after.write_off_reason is not None
        plan_active = bool(facts.plans) and not after.plan_breached and not closed
        cur.execute(
            in_schema(_CLAIMS_UPSERT, schema),
            (
                event.case_id,
                after.creditor_id,
                after.debtor_id,
                after.invoice,
                after.jurisdiction.value,
                after.claim_type,
                after.due,
                facts.initial_limitation_date,
                after.limitation_date,
                after.lien_secured,
                lien_expiry,
                facts.died,
                after.estate_deadline,
                after.reported_to_estate,
                facts.judgment_on,
                closed,
                after.disputed,
                plan_active,
                event.position,
            ),
        )


def worklist(cur: Cursor[Any], schema: str, today: date, within_days: int) -> list[dict[str, Any]]:
    """Open claims whose limitation date falls within ``within_days`` with no interruption under way
    (no payment plan being kept), soonest first."""
    cur.execute(
        f"""SELECT case_id, creditor_id, debtor_id, invoice, claim_type, limitation_date, lien_expiry,
                           estate_report_deadline
                    FROM "{schema}".claims
                    WHERE NOT closed AND NOT plan_active AND limitation_date BETWEEN %s AND %s
                    ORDER BY limitation_date, creditor_id, invoice""",
        (today, today + timedelta(days=within_days)),
    )
    names = [d.name for d in cur.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def ground_words(ground: Any) -> str:
    """An interruption's ground in words: ``long-term monitoring: paminnelse``, ``written demand: inkassokrav``."""
    kind, _, step = str(ground).partition(":")
    words = kind.replace("_", " ").replace("long term", "long-term")
    return f"{words}: {step.replace('_', ' ')}" if step else words


def explain(cur: Cursor[Any], schema: str, case_id: str, today: date) -> list[str]:
    """Why a claim is still alive, or since when it is dead: one line per fact, oldest first, each
    in the tense it has on ``today`` (the dossier's as-of date)."""
    cur.execute(f'SELECT * FROM "{schema}".claims WHERE case_id = %s', (case_id,))
    row = cur.fetchone()
    if row is None:
        return [f"no claim {case_id} in the limitation watch"]
    c = dict(zip([d.name for d in cur.description or ()], row, strict=True))
    first = c["initial_limitation_date"]
    lines = [
        f"invoice {c['invoice']} ({c['claim_type']}) fell due {c['due']}: "
        f"the first limitation date {'was' if first < today else 'is'} {first}"
    ]
    cur.execute(
        f"""SELECT on_date, ground, legal_basis, years, limitation_date FROM "{schema}".interruptions
                    WHERE case_id = %s ORDER BY version""",
        (case_id,),
    )
    for on, ground, basis, years, until in cur.fetchall():
        lines.append(f"{on}: {ground_words(ground)} interrupted limitation ({basis}); {years} years → {until}")
    if c["closed"]:
        lines.append("the claim is closed (paid or written off)")
    elif today > c["limitation_date"]:
        lines.append(f"time-barred since {c['limitation_date'] + timedelta(days=1)}")
    else:
        lines.append(
            f"alive: the last day to interrupt is {c['limitation_date']} "
            f"({(c['limitation_date'] - today).days} days from {today})"
        )
    if c["lien_expiry"]:
        lines.append(
            f"statutory lien (panteloven § 6-1) lapses after {c['lien_expiry']} unless forced sale is requested (§ 6-3)"
            if c["lien_expiry"] >= today
            else f"statutory lien (panteloven § 6-1) lapsed after {c['lien_expiry']} unless forced sale was "
            "requested by then (§ 6-3)"
        )
    if c["died"]:
        deadline, reported = c["estate_report_deadline"], c["reported_to_estate"]
        if reported is not None and reported <= today:
            estate = f"reported to the estate on {reported}" + (f" (deadline {deadline})" if deadline else "")
        elif deadline is None:
            estate = "waiting for the proklama"
        elif deadline >= today:
            estate = f"report to the estate by {deadline}"
        else:
            estate = f"the deadline {deadline} to report to the estate passed without a report"
        lines.append(f"the debtor died {c['died']}; {estate}")
    return lines


def estate_view(cur: Cursor[Any], schema: str, case_id: str, day: date) -> dict[str, Any]:
    """The claim's standing towards a deceased debtor's estate, as the scenario report gives it."""
    cur.execute(
        f"""SELECT died, reported_to_estate, estate_report_deadline, lien_secured FROM "{schema}".claims
                    WHERE case_id = %s""",
        (case_id,),
    )
    row = cur.fetchone()
    if row is None:
        return {"estate_report_deadline": None, "estate_status": None}
    died, reported, deadline, lien = row
    return {
        "estate_report_deadline": deadline.isoformat() if deadline else None,
        "estate_status": estate_status(died=died, reported=reported, deadline=deadline, lien_secured=lien, day=day),
    }


def debtor_view(cur: Cursor[Any], schema: str, debtor_id: str) -> dict[str, Any]:
    cur.execute(f'SELECT died, estate_report_deadline FROM "{schema}".debtors WHERE debtor_id = %s', (debtor_id,))
    row = cur.fetchone()
    died, deadline = row if row is not None else (None, None)
    return {
        "estate_report_deadline": deadline.isoformat() if deadline else None,
        "deceased": died.isoformat() if died else None,
    }
