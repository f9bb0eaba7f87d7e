"""The ledger: double-entry postings per creditor, debtor, case and claim.

Postings are the differences between a claim's account before and after each event (folded with
the domain's own code), so the ledger's balance of a claim always equals the domain's balance:

| change                     | debit                 | credit                |
|----------------------------|-----------------------|-----------------------|
| principal invoiced         | receivable.principal  | income.principal      |
| principal credited         | credit_notes          | receivable.principal  |
| principal forgiven         | forgiven              | receivable.principal  |
| written down in accounts   | written_down          | allowance.written_down|
| interest recorded          | receivable.interest   | income.interest       |
| interest taken back        | income.interest       | receivable.interest   |
| fee charged / waived       | receivable.fees       | income.fees           |
|                            | waived.fees           | receivable.fees       |
| court/enforcement cost     | receivable.costs      | outlay.costs          |
| cost waived                | waived.costs          | receivable.costs      |
| money applied to a part    | bank                  | receivable.<part>     |
| money moved off a part     | receivable.<part>     | bank                  |
| overpayment                | bank                  | refund.surplus        |
| surplus paid back (refund) | refund.surplus        | bank                  |
| write-off                  | written_off           | receivable.<part>     |
| money in, no claim matched | bank                  | suspense              |
| suspense placed on a claim | suspense              | bank                  |
| suspense paid back (refund)| suspense              | bank                  |

Money leaves suspense back to ``bank``, and the claim's own payment posting (bank → receivable)
follows from its ``PaymentRegistered``: bank is counted once, suspense nets to what is still held.

A claim's balance is the sum of its ``receivable.*`` accounts plus ``written_off`` (the contract keeps
a written-off claim's balance), plus interest accrued since the last recorded figure, computed at
query time with the same domain function the aggregate uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any, NamedTuple

from psycopg import Cursor

from domain.claim import Claim, accrued_interest, claim_status
from domain.money import ZERO, fmt, to_cents
from domain.rules import rules_for
from domain.suspense import Suspense, SuspenseItem
from projections.base import ProjectedEvent, ident, in_schema, write_latest

PARTS = ("principal", "interest", "fees", "costs")
RAISE = {"principal": "income.principal", "interest": "income.interest", "fees": "income.fees", "costs": "outlay.costs"}
LOWER = {"principal": "credit_notes", "interest": "income.interest", "fees": "waived.fees", "costs": "waived.costs"}
AGE_BUCKETS = (
    (0, "not due"),
    (1, "1-30"),
    (31, "31-60"),
    (61, "61-90"),
    (91, "91-180"),
    (181, "181-365"),
    (366, "over 365"),
)


class Posting(NamedTuple):
    """One side of a pair (a tuple: made twice per pair, per event that moves money, in one C call)."""

    account: str
    debit: Decimal
    credit: Decimal
    kind: str


_NOTHING_OWED = dict.fromkeys((*PARTS, "surplus", "written_off", "forgiven", "written_down"), ZERO)


def _owed(claim: Claim | None) -> dict[str, Decimal]:
    if claim is None:
        return dict(_NOTHING_OWED)
    acc = claim.account
    paid = acc.paid
    return {  # what ``acc.owed(part)`` gives per part (interest: the rounded figure), written out: twice per event
        "principal": acc.principal,
        "interest": acc.interest,
        "fees": acc.fees,
        "costs": acc.costs,
        "paid.principal": paid["principal"],
        "paid.interest": paid["interest"],
        "paid.fees": paid["fees"],
        "paid.costs": paid["costs"],
        "surplus": acc.surplus - claim.surplus_refunded,  # held: paid back (ADR 0019) leaves the bank
        "written_off": claim.written_off_amount,
        "forgiven": claim.principal_forgiven,
        "written_down": claim.written_down_in_accounts,
    }


@dataclass(frozen=True, slots=True)
class Before:
    """What the ledger reads of a case before an event (``Ledger.before_view``): a claim's amounts, or a
    suspense account's items (frozen records, so a shallow copy of the mapping is a copy)."""

    owed: dict[str, Decimal] | None = None
    items: dict[str, SuspenseItem] | None = None


# The table above as data, once: (debit, credit, kind) of each pair of postings, per part.
_Move = tuple[str, str, str]
_FORGIVE: _Move = ("forgiven", "receivable.principal", "forgive")
_WRITE_DOWN: _Move = ("written_down", "allowance.written_down", "write_down")
_CHARGES: tuple[tuple[str, _Move, _Move], ...] = tuple(
    (p, (f"receivable.{p}", RAISE[p], f"charge.{p}"), (LOWER[p], f"receivable.{p}", f"reduce.{p}")) for p in PARTS
)
_PAYMENTS: tuple[tuple[str, _Move, _Move], ...] = tuple(
    (f"paid.{p}", ("bank", f"receivable.{p}", "payment"), (f"receivable.{p}", "bank", "reallocation")) for p in PARTS
)
_OVERPAYMENT: _Move = ("bank", "refund.surplus", "overpayment")
_REFUND: _Move = ("refund.surplus", "bank", "refund")
_WRITE_OFFS: tuple[tuple[str, _Move], ...] = tuple((p, ("written_off", f"receivable.{p}", "write_off")) for p in PARTS)


def _pair(out: list[Posting], move: _Move, amount: Decimal) -> None:
    if amount > 0:
        out += (Posting(move[0], amount, ZERO, move[2]), Posting(move[1], ZERO, amount, move[2]))


def _change(out: list[Posting], up: _Move, down: _Move, delta: Decimal) -> None:
    """The pair for a change of ``delta``: ``up`` when the amount grew, ``down`` when it shrank."""
    if delta > 0:
        _pair(out, up, delta)
    elif delta < 0:
        _pair(out, down, -delta)


def postings_for(before: Claim | Before | None, after: Claim) -> list[Posting]:
    """The balanced postings that take the ledger from ``before`` to ``after``."""
    if isinstance(before, Before):
        old = before.owed if before.owed is not None else _owed(None)
    else:
        old = _owed(before)
    new = _owed(after)
    out: list[Posting] = []
    if new == old:
        return out  # the event moved no money (a fact, a notice without a fee): every difference below is zero
    # an amount the event left as it was posts nothing: compared first, so most parts cost no subtraction
    # and no call (an event moves one or two of them)
    forgiven = new["forgiven"] - old.get("forgiven", ZERO)
    if forgiven:
        _pair(out, _FORGIVE, forgiven)
    # nedskrivning: a provision against the receivable; the debtor still owes it, so receivables stay
    if new["written_down"] != old.get("written_down", ZERO):
        _pair(out, _WRITE_DOWN, new["written_down"] - old.get("written_down", ZERO))
    for p, up, down in _CHARGES:
        if p == "principal":
            _change(out, up, down, new[p] - old.get(p, ZERO) + forgiven)
        elif new[p] != old.get(p, ZERO):
            _change(out, up, down, new[p] - old.get(p, ZERO))
    written = new["written_off"] - old.get("written_off", ZERO)
    for paid, up, down in _PAYMENTS:
        if new[paid] != old.get(paid, ZERO):
            _change(out, up, down, new[paid] - old.get(paid, ZERO))
    if new["surplus"] != old.get("surplus", ZERO):
        _change(out, _OVERPAYMENT, _REFUND, new["surplus"] - old.get("surplus", ZERO))
    if written > 0:
        for p, move in _WRITE_OFFS:
            _pair(out, move, after.account.outstanding(p))
    return out


def suspense_postings(before: Suspense | Before | None, after: Suspense) -> list[Posting]:
    """Money in (an item that is new) and money placed on a claim (an item newly allocated)."""
    out: list[Posting] = []
    held = _items(before)
    for item, now in after.items.items():
        was = held.get(item)
        if was is None:
            out += [
                Posting("bank", now.amount, ZERO, "suspense_in"),
                Posting("suspense", ZERO, now.amount, "suspense_in"),
            ]
        if now.allocated_to is not None and (was is None or was.allocated_to is None):
            out += [
                Posting("suspense", now.amount, ZERO, "suspense_out"),
                Posting("bank", ZERO, now.amount, "suspense_out"),
            ]
        if now.refunded_on is not None and (was is None or was.refunded_on is None):
            out += [
                Posting("suspense", now.amount, ZERO, "suspense_refund"),
                Posting("bank", ZERO, now.amount, "suspense_refund"),
            ]
    return out


def _items(before: Suspense | Before | None) -> Mapping[str, SuspenseItem]:
    if isinstance(before, Before):
        return before.items or {}
    return before.items if before is not None else {}


# --- the statements: made for a schema once (the batched cursor knows a statement by its text) -----------

_CLAIM_COLUMNS = (
    "case_id", "creditor_id", "debtor_id", "invoice", "jurisdiction", "currency", "claim_type", "due", "effective_due",
    "principal", "principal_outstanding", "interest_exact", "interest_through", "fees", "costs", "paid", "surplus",
    "written_off", "write_off_reason", "closed_on", "settled", "stage", "disputed", "limitation_date", "kid",
    "position", "written_down",
)  # fmt: skip
_CLAIM_FIXED = ("case_id", "creditor_id", "debtor_id", "invoice", "jurisdiction", "currency", "claim_type", "kid")
"""The columns a claim's later events never change: the upsert leaves them as first written."""


_CLAIMS_UPSERT = (
    f'INSERT INTO "{{schema}}".claims ({", ".join(_CLAIM_COLUMNS)}) '
    f"VALUES ({', '.join(['%s'] * len(_CLAIM_COLUMNS))}) ON CONFLICT (case_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in _CLAIM_COLUMNS if c not in _CLAIM_FIXED)
)
_CLAIM_POSTINGS = (
    'INSERT INTO "{schema}".postings (event_id, position, case_id, creditor_id, debtor_id, invoice, '
    "booked, account, kind, debit, credit, currency) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
)
_SUSPENSE_POSTINGS = (
    'INSERT INTO "{schema}".postings (event_id, position, case_id, creditor_id, debtor_id, invoice, '
    "booked, account, kind, debit, credit, currency) VALUES (%s,%s,%s,%s,'','',%s,%s,%s,%s,%s,%s)"
)
_SUSPENSE_ITEMS_UPSERT = (
    'INSERT INTO "{schema}".suspense_items (case_id, item, seq, creditor_id, reference, amount, ordered, '
    "received_on, source, allocated_to, allocated_on, currency, position, refunded_on) "
    "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) "
    "ON CONFLICT (case_id, item) DO UPDATE SET allocated_to = EXCLUDED.allocated_to, "
    "allocated_on = EXCLUDED.allocated_on, position = EXCLUDED.position, "
    "refunded_on = EXCLUDED.refunded_on"
)


class Ledger:
    name = "ledger"
    version = 3  # 2: the suspense account (format 1.1); 3: suspense paid back (refunds, ADR 0019)

    def create_tables(self, cur: Cursor[Any], schema: str) -> None:
        cur.execute(f"""
            CREATE TABLE IF NOT EXISTS "{schema}".postings (
                id bigserial PRIMARY KEY, event_id text NOT NULL, position bigint NOT NULL,
                case_id text NOT NULL, creditor_id text NOT NULL, debtor_id text NOT NULL, invoice text NOT NULL,
                booked date NOT NULL, account text NOT NULL, kind text NOT NULL,
                debit numeric(16,2) NOT NULL, credit numeric(16,2) NOT NULL, currency text NOT NULL);
            CREATE INDEX IF NOT EXISTS postings_case ON "{schema}".postings (case_id);
            CREATE INDEX IF NOT EXISTS postings_creditor ON "{schema}".postings (creditor_id, account);
            -- no query reads postings by debtor (a debtor's go through claims_debtor, then postings_case): the
            -- index was upkeep on every posting for nothing (ADR 0043)
            DROP INDEX IF EXISTS "{schema}".postings_debtor;
            CREATE TABLE IF NOT EXISTS "{schema}".claims (
                case_id text PRIMARY KEY, creditor_id text NOT NULL, debtor_id text NOT NULL,
                invoice text NOT NULL, jurisdiction text NOT NULL, currency text NOT NULL, claim_type text NOT NULL,
                due date NOT NULL, effective_due date NOT NULL,
                principal numeric(16,2) NOT NULL, principal_outstanding numeric(16,2) NOT NULL,
                interest_exact numeric NOT NULL, interest_through date NOT NULL,
                fees numeric(16,2) NOT NULL, costs numeric(16,2) NOT NULL, paid numeric(16,2) NOT NULL,
                surplus numeric(16,2) NOT NULL, written_off numeric(16,2) NOT NULL, write_off_reason text,
                closed_on date, settled boolean NOT NULL, stage text NOT NULL, disputed boolean NOT NULL,
                limitation_date date NOT NULL, kid text NOT NULL, position bigint NOT NULL);
            ALTER TABLE "{schema}".claims ADD COLUMN IF NOT EXISTS written_down numeric(16,2) NOT NULL DEFAULT 0;
            CREATE INDEX IF NOT EXISTS claims_debtor ON "{schema}".claims (debtor_id);
            CREATE TABLE IF NOT EXISTS "{schema}".suspense_items (
                case_id text NOT NULL, item text NOT NULL, seq bigint NOT NULL, creditor_id text NOT NULL,
                reference text NOT NULL, amount numeric(16,2) NOT NULL, ordered date NOT NULL,
                received_on date NOT NULL, source text NOT NULL, allocated_to text, allocated_on date,
                currency text NOT NULL, position bigint NOT NULL, PRIMARY KEY (case_id, item));
            CREATE INDEX IF NOT EXISTS claims_creditor ON "{schema}".claims (creditor_id);
            ALTER TABLE "{schema}".suspense_items ADD COLUMN IF NOT EXISTS refunded_on date;
        """)

    def before_view(self, aggregate: Any) -> Before | None:
        """A claim's amounts or a suspense account's items: all ``apply`` reads of the state before."""
        if isinstance(aggregate, Claim):
            return Before(owed=_owed(aggregate))
        if isinstance(aggregate, Suspense):
            return Before(items=dict(aggregate.items))
        return None

    def apply(self, cur: Cursor[Any], event: ProjectedEvent, schema: str, before: Any | None, after: Any) -> None:
        if isinstance(after, Suspense):
            self._apply_suspense(cur, event, schema, before if isinstance(before, (Suspense, Before)) else None, after)
            return
        if not isinstance(after, Claim):
            return
        postings = postings_for(before if isinstance(before, (Claim, Before)) else None, after)
        if postings:
            cur.executemany(
                in_schema(_CLAIM_POSTINGS, schema),
                [
                    (
                        event.event_id,
                        event.position,
                        event.case_id,
                        after.creditor_id,
                        after.debtor_id,
                        after.invoice,
                        event.recorded_date,
                        p.account,
                        p.kind,
                        p.debit,
                        p.credit,
                        after.currency,
                    )
                    for p in postings
                ],
            )
        # the claim's row: written from the claim's state after its last event, once per part on the fast path
        write_latest(
            cur, ("ledger", schema, event.case_id), partial(_write_claim, schema, event.case_id, event.position, after)
        )

    @staticmethod
    def _apply_suspense(
        cur: Cursor[Any], event: ProjectedEvent, schema: str, before: Suspense | Before | None, after: Suspense
    ) -> None:
        postings = suspense_postings(before, after)
        if postings:
            cur.executemany(
                in_schema(_SUSPENSE_POSTINGS, schema),
                [
                    (event.event_id, event.position, event.case_id, after.creditor_id, event.recorded_date,
                     p.account, p.kind, p.debit, p.credit, after.currency)
                    for p in postings
                ],
            )  # fmt: skip
        held = _items(before)
        changed = [i for k, i in after.items.items() if held.get(k) != i]
        for item in changed:
            cur.execute(
                in_schema(_SUSPENSE_ITEMS_UPSERT, schema),
                (event.case_id, item.item, event.aggregate_version, after.creditor_id, item.reference, item.amount,
                 item.ordered, item.received_on, item.source, item.allocated_to, item.allocated_on, after.currency,
                 event.position, item.refunded_on),
            )  # fmt: skip


def _write_claim(schema: str, case_id: str, position: int, after: Claim, cur: Cursor[Any]) -> None:
    """The claim's row from its state now (the fold's aggregate, changed in place by its later events): every column
    DO UPDATE does not set is one no event after the claim's first changes (``_CLAIM_FIXED``)."""
    acc = after.account
    cur.execute(
        in_schema(_CLAIMS_UPSERT, schema),
        (  # in the order of _CLAIM_COLUMNS
            case_id,
            after.creditor_id,
            after.debtor_id,
            after.invoice,
            after.jurisdiction.value,
            after.currency,
            after.claim_type,
            after.due,
            after.effective_due,
            acc.principal,
            acc.principal_outstanding,
            acc.interest_exact,
            acc.interest_through,
            acc.fees,
            acc.costs,
            acc.total_paid,
            acc.surplus,
            after.written_off_amount,
            after.write_off_reason,
            after.closed_on,
            after.closed_on is not None and acc.balance() == 0,
            after.stage.value,
            after.disputed,
            after.limitation_date,
            after.kid,
            position,
            after.written_down_in_accounts,
        ),
    )


# --- queries -------------------------------------------------------------------------------------


def suspense_view(
    cur: Cursor[Any], schema: str, case_id: str, references: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """Money still in one suspense account, oldest first, as the scenario report lists it. The stream carries a
    payer's reference only as its keyed digest (ADR 0028): ``references`` (item -> reference, from the event store)
    gives a reader who may see them the references themselves."""
    known = references or {}
    cur.execute(
        f"""SELECT item, reference, amount, ordered FROM "{schema}".suspense_items
            WHERE case_id = %s AND allocated_to IS NULL AND refunded_on IS NULL ORDER BY ordered, received_on, seq""",
        (case_id,),
    )
    return [
        {"reference": known.get(i, r), "amount": fmt(Decimal(a)), "ordered": o.isoformat()}
        for i, r, a, o in cur.fetchall()
    ]


def claim_row(cur: Cursor[Any], schema: str, case_id: str) -> dict[str, Any] | None:
    cur.execute(f'SELECT * FROM "{schema}".claims WHERE case_id = %s', (case_id,))
    row = cur.fetchone()
    if row is None:
        return None
    names = [d.name for d in cur.description or ()]
    return dict(zip(names, row, strict=True))


def posted_balance(cur: Cursor[Any], schema: str, case_id: str) -> Decimal:
    """Receivables plus written-off, as posted."""
    cur.execute(
        f"""SELECT coalesce(sum(debit - credit), 0) FROM "{schema}".postings
                    WHERE case_id = %s AND (account LIKE 'receivable.%%' OR account = 'written_off')""",
        (case_id,),
    )
    row = cur.fetchone()
    return Decimal(row[0]) if row else ZERO


def claim_view(cur: Cursor[Any], schema: str, case_id: str, day: date, *, full: bool = False) -> dict[str, Any] | None:
    """The contract's figures for one claim on ``day``, read from the ledger (``full``: also the
    fields the scenario report adds — currency, KID, surplus, written-off amount, warnings)."""
    row = claim_row(cur, schema, case_id)
    if row is None:
        return None
    rules = rules_for(row["jurisdiction"])
    exact, warnings = accrued_interest(
        rules, row["principal_outstanding"], row["interest_exact"], row["interest_through"], row["closed_on"], day
    )
    interest = to_cents(exact)
    posted = posted_balance(cur, schema, case_id)
    balance = posted + interest - to_cents(row["interest_exact"])
    status = claim_status(
        written_off=row["write_off_reason"] is not None,
        settled=row["settled"],
        limitation_date=row["limitation_date"],
        day=day,
    )
    view: dict[str, Any] = {
        "principal": fmt(row["principal"]),
        "interest": fmt(interest),
        "fees": fmt(row["fees"]),
        "costs": fmt(row["costs"]),
        "paid": fmt(row["paid"]),
        "balance": fmt(balance),
        "limitation_date": row["limitation_date"].isoformat(),
        "status": status.value,
        "stage": row["stage"],
        "disputed": row["disputed"],
    }
    if full:
        view.update(
            currency=row["currency"], kid=row["kid"], surplus=fmt(row["surplus"]), written_down=fmt(row["written_down"])
        )
        if row["write_off_reason"] is not None:
            view["written_off"] = fmt(row["written_off"])
        if warnings:
            view["warnings"] = list(warnings)
    return view


def trial_balance(cur: Cursor[Any], schema: str) -> tuple[Decimal, Decimal]:
    """Total debits and credits (always equal)."""
    cur.execute(f'SELECT coalesce(sum(debit), 0), coalesce(sum(credit), 0) FROM "{schema}".postings')
    row = cur.fetchone()
    assert row is not None
    return Decimal(row[0]), Decimal(row[1])


def balances_by(cur: Cursor[Any], schema: str, column: str) -> list[tuple[str, str, Decimal]]:
    """Open receivables per creditor or per debtor (across municipalities), by currency."""
    if column not in ("creditor_id", "debtor_id"):
        raise ValueError(f"balances by {column!r}: only creditor_id or debtor_id")
    cur.execute(f"""SELECT {column}, currency, sum(debit - credit) FROM "{schema}".postings
                    WHERE account LIKE 'receivable.%%' GROUP BY {column}, currency ORDER BY {column}, currency""")
    return [(r[0], r[1], Decimal(r[2])) for r in cur.fetchall()]


def ageing(cur: Cursor[Any], schema: str, day: date) -> list[tuple[str, str, int, Decimal]]:
    """Open receivables per creditor in buckets of days past the (effective) due date."""
    cases = " ".join(
        f"WHEN %s - c.effective_due >= {start} THEN '{label}'" for start, label in reversed(AGE_BUCKETS[1:])
    )
    cur.execute(
        f"""
        WITH open_claims AS (
            SELECT c.case_id, c.creditor_id, c.effective_due, sum(p.debit - p.credit) AS balance
            FROM "{schema}".claims c JOIN "{schema}".postings p USING (case_id)
            WHERE p.account LIKE 'receivable.%%' AND c.write_off_reason IS NULL
            GROUP BY 1, 2, 3 HAVING sum(p.debit - p.credit) <> 0)
        SELECT c.creditor_id, CASE {cases} ELSE 'not due' END AS bucket, count(*), sum(c.balance)
        FROM open_claims c GROUP BY 1, 2 ORDER BY 1, 2""",
        [day] * (len(AGE_BUCKETS) - 1),
    )
    return [(r[0], r[1], int(r[2]), Decimal(r[3])) for r in cur.fetchall()]


def settlement(cur: Cursor[Any], schema: str, start: date, end: date) -> list[dict[str, Any]]:
    """What was collected for whom between ``start`` and ``end``: money applied per part."""
    cur.execute(
        f"""
        SELECT creditor_id, currency, account, sum(credit - debit) FROM "{schema}".postings
        WHERE kind IN ('payment', 'reallocation') AND account LIKE 'receivable.%%' AND booked BETWEEN %s AND %s
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
        (start, end),
    )
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for creditor, currency, account, amount in cur.fetchall():
        row = out.setdefault(
            (creditor, currency),
            {"creditor_id": creditor, "currency": currency, **{p: ZERO for p in PARTS}, "total": ZERO},
        )
        row[account.removeprefix("receivable.")] += Decimal(amount)
        row["total"] += Decimal(amount)
    return list(out.values())


__all__ = [
    "Ledger",
    "ageing",
    "balances_by",
    "claim_view",
    "ident",
    "postings_for",
    "settlement",
    "suspense_postings",
    "suspense_view",
    "trial_balance",
]
