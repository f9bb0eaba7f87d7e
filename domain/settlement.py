"""Settling a claim's money in the order things took effect, whatever the order they were recorded.

A payment registered late but ordered early must stop interest from its order day, and must be
allocated as it would have been on that day; a credit note removes the credited part from the start
(the debtor never owed it); a fee that fell away was never owed. So every change of the money
(payment, credit note, waiver) re-settles the claim from the due date: entries in effective-date
order, interest accruing between them on the principal then outstanding, each payment allocated to
what was owed on its day (costs, fees, interest, principal — or principal first when the debtor
designated it), anything beyond a surplus to refund. The event records the result, so a replay
never re-settles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import NamedTuple

from domain.account import COMPONENTS, DESIGNATED_ORDER
from domain.money import ZERO, to_cents
from domain.rules.base import Rules

_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class MoneyEntry:
    """A charge or a payment on the day it took effect; ``seq`` keeps same-day recording order."""

    day: date
    seq: int
    kind: str  # "fees" | "costs" | "payment" | "reduction" (a write-down of principal from that day)
    amount: Decimal
    designation: str | None = None


class Cursor(NamedTuple):
    """Where a settlement stood after its last entry, before interest ran on to its through-date. Settling
    later entries (each after ``last`` in effective-date order) from here does the very same arithmetic as
    settling every entry from the due date, so a payment costs the same whatever the claim's history."""

    last: tuple[date, int]  # (day, seq) of the last entry settled
    day: date  # interest is settled through this day
    owed: tuple[tuple[str, Decimal], ...]
    interest_exact: Decimal
    paid: tuple[tuple[str, Decimal], ...]
    surplus: Decimal
    rates: tuple[str, ...]
    last_rate: tuple[date, date, Decimal] | None = None  # ``rates[-1]`` as values (``Settled.last_rate``)


@dataclass(slots=True)
class Settled:
    interest_exact: Decimal
    interest_through: date
    paid: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(COMPONENTS, ZERO))
    surplus: Decimal = ZERO
    rates: list[str] = field(default_factory=list)  # "start..end rate%", merged where the rate holds
    cursor: Cursor | None = None  # where it stood after its last entry (``settle(start=…)`` goes on from there)
    last_rate: tuple[date, date, Decimal] | None = None  # the last of ``rates`` as values, when known

    def note_rate(self, start: date, end: date, rate: Decimal) -> None:
        """Add a stretch of ``rate``, merged into the last stretch when it goes on from it at the same rate."""
        last = self.last_rate
        if last is None and self.rates:  # ``rates`` given as text only: read the last one back
            last_start, last_end, last_rate = self.rates[-1].replace("..", " ").split()
            last = (date.fromisoformat(last_start), date.fromisoformat(last_end), Decimal(last_rate.rstrip("%")))
        if last is not None and last[2] == rate and last[1] + _DAY == start:
            self.rates[-1] = f"{last[0]}..{end} {rate}%"
            self.last_rate = (last[0], end, rate)
            return
        self.rates.append(f"{start}..{end} {rate}%")
        self.last_rate = (start, end, rate)

    def paid_after(self) -> dict[str, Decimal]:
        return {**self.paid, "surplus": self.surplus}


def settle(
    rules: Rules,
    *,
    principal: Decimal,
    effective_due: date,
    entries: list[MoneyEntry],
    through: date,
    start: Cursor | None = None,
) -> Settled:
    """Re-settle from the due date through ``through`` (inclusive). ``principal`` is the invoiced
    amount less credit notes (retroactive). ``start``: go on from an earlier settlement's cursor instead,
    with only the entries after it (``principal`` and ``effective_due`` are then the cursor's)."""
    if start is None:
        owed = {"costs": ZERO, "fees": ZERO, "principal": principal}
        result = Settled(ZERO, effective_due)
        day = effective_due  # interest is settled through this day
        last = (effective_due, -1)
    else:
        owed = dict(start.owed)
        result = Settled(
            start.interest_exact, start.day, dict(start.paid), start.surplus, list(start.rates), None, start.last_rate
        )
        day, last = start.day, start.last
    ordered = entries if len(entries) < 2 else sorted(entries, key=lambda e: (e.day, e.seq))
    if start is not None and ordered:
        first = ordered[0]
        assert (first.day, first.seq) > start.last, "entries before the cursor need a re-settlement"
    paid = result.paid
    for entry in ordered:
        last = (entry.day, entry.seq)
        day = _accrue(rules, result, owed, day, entry.day)
        if entry.kind in ("fees", "costs"):
            owed[entry.kind] += entry.amount
            continue
        if entry.kind == "reduction":
            owed["principal"] -= entry.amount
            excess = paid["principal"] - owed["principal"]
            if excess > 0:
                paid["principal"] -= excess
                result.surplus += excess
            continue
        left = entry.amount
        for component in DESIGNATED_ORDER if entry.designation == "principal" else COMPONENTS:
            due = (to_cents(result.interest_exact) if component == "interest" else owed[component]) - paid[component]
            take = min(left, max(due, ZERO))
            paid[component] += take
            left -= take
        result.surplus += left
    result.cursor = Cursor(
        last, day, tuple(owed.items()), result.interest_exact, tuple(paid.items()), result.surplus,
        tuple(result.rates), result.last_rate,
    )  # fmt: skip
    day = _accrue(rules, result, owed, day, through)
    result.interest_through = day
    return result


def _accrue(rules: Rules, result: Settled, owed: dict[str, Decimal], day: date, until: date) -> date:
    """Interest on the principal outstanding from the day after ``day`` through ``until``, added to ``result``;
    the day interest is settled through after it."""
    if until <= day:
        return day
    outstanding = owed["principal"] - result.paid["principal"]
    if outstanding > 0:
        accrued = ZERO  # summed as sum(amounts, ZERO) sums them, then added
        for piece in rules.interest_pieces(outstanding, day + _DAY, until):
            accrued += piece.amount
            result.note_rate(piece.start, piece.end, piece.rate)
        result.interest_exact += accrued
    return until
