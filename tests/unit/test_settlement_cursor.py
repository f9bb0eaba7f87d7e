"""A payment settles from where the claim's last payment left off (``domain.settlement.Cursor``) when nothing
changed since and it comes after everything settled: the recorded result is exactly that of settling the whole
history from the due date — interest to the last digit, rates, allocation, surplus."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.application import CollectionApp
from domain.calendar import add_years
from domain.claim import Claim
from domain.money import ZERO
from domain.rules import rules_for
from domain.settlement import Settled
from tests.unit.test_suspense import CREDITOR
from tests.unit.test_suspense import desk as _app

ON = date(2025, 9, 1)
ONE = timedelta(days=1)
Step = Callable[[CollectionApp], None]


def pay(n: int, amount: str, ordered: date, designation: str | None = None) -> Step:
    return lambda app: app.register_payment(
        creditor=CREDITOR, invoice="A", amount=Decimal(amount), on=ON, ordered=ordered, command_id=f"p{n}",
        designation=designation,
    )  # fmt: skip


def credit(n: int, amount: str, on: date) -> Step:
    return lambda app: app.credit_invoice(creditor=CREDITOR, invoice="A", amount=Decimal(amount), on=on,
                                          command_id=f"c{n}")  # fmt: skip


STEPS = [  # on invoice A of 1 000.00, due 2025-03-03
    pay(1, "100.00", date(2025, 3, 10)),
    pay(2, "33.33", date(2025, 3, 31)),
    pay(3, "2.00", date(2025, 3, 31)),  # the same day: after the one recorded before it
    pay(4, "150.00", date(2025, 4, 17)),
    pay(5, "25.00", date(2025, 3, 20)),  # ordered before the last: a re-settlement from the due date
    pay(6, "40.00", date(2025, 5, 2), designation="principal"),
    credit(7, "50.00", date(2025, 5, 10)),  # the principal changed: the next payment re-settles
    pay(8, "70.00", date(2025, 6, 1)),
    pay(9, "80.00", date(2025, 7, 1)),
    pay(10, "900.00", date(2025, 8, 1)),  # beyond the balance: a surplus
    pay(11, "1.00", date(2025, 8, 2)),
]


def _recorded(app: CollectionApp) -> list[tuple[Any, ...]]:
    claim = app.claim(CREDITOR, "A")
    return [
        (type(e).__name__, e.interest_accrued, e.interest_through, e.interest_rates, e.paid_after,
         getattr(e, "allocation", None))
        for e in app.events.get(claim.id)
        if hasattr(e, "interest_accrued")
    ]  # fmt: skip


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    full = Claim._settle

    def counted(self: Claim, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return full(self, *args, **kwargs)

    monkeypatch.setattr(Claim, "_settle", counted)
    return calls


def test_payments_settled_from_the_cursor_record_what_settling_the_whole_history_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _counting(monkeypatch)
    one_by_one = _app()
    for step in STEPS:  # each command reads the claim from the store: no cursor, every history settled whole
        step(one_by_one)
    whole = len(calls)
    calls.clear()
    kept = _app()
    with kept.unit_of_work():  # the claim stays loaded: payments go on from the cursor where they may
        for step in STEPS:
            step(kept)
    assert _recorded(kept) == _recorded(one_by_one)
    assert len(_recorded(kept)) == len(STEPS) and _recorded(kept)[-1][4]["surplus"] > 0
    assert whole == len(STEPS) and len(calls) == 4  # p1 (read from the store), p5 (earlier), c7, p8 (after c7)


def test_a_rate_stretch_given_as_text_goes_on_as_one_noted_as_values() -> None:
    by_text = Settled(ZERO, date(2025, 3, 3), rates=["2025-03-04..2025-03-18 12.50%"])  # no last_rate: read back
    by_values = Settled(ZERO, date(2025, 3, 3))
    by_values.note_rate(date(2025, 3, 4), date(2025, 3, 18), Decimal("12.50"))
    for settled in (by_text, by_values):
        settled.note_rate(date(2025, 3, 19), date(2025, 3, 31), Decimal("12.5"))  # the same rate, written otherwise
        settled.note_rate(date(2025, 4, 1), date(2025, 4, 30), Decimal("12.75"))
        settled.note_rate(date(2025, 5, 2), date(2025, 5, 3), Decimal("12.75"))  # a day left out: a stretch of its own
    assert by_text.rates == by_values.rates == [
        "2025-03-04..2025-03-31 12.5%", "2025-04-01..2025-04-30 12.75%", "2025-05-02..2025-05-03 12.75%",
    ]  # fmt: skip


@pytest.mark.parametrize("jurisdiction", ["NO", "SE"])
def test_interest_pieces_are_the_pieces_of_interest(jurisdiction: str) -> None:
    rules = rules_for(jurisdiction)
    for start, end in ((date(2024, 12, 20), date(2025, 7, 10)), (date(2025, 3, 4), date(2025, 3, 4)), (ON, ON - ONE)):
        amount = Decimal("1234.56")
        assert rules.interest_pieces(amount, start, end) == rules.interest(amount, start, end)[0]
    assert rules.interest_pieces(ZERO, date(2025, 1, 1), date(2025, 2, 1)) == []


@pytest.mark.parametrize("jurisdiction", ["NO", "SE"])
def test_remembered_limitation_answers_are_the_answers_worked_out_afresh(jurisdiction: str) -> None:
    rules = rules_for(jurisdiction)
    for n in range(0, 800, 7):  # two years of days: weekends, holidays, 29 February
        day = date(2023, 12, 1) + n * ONE
        for _ in range(2):  # asked, then answered from memory
            assert rules.period_end(day, 3) == rules.calendar.next_working_day(add_years(day, 3))
            step = rules.acknowledgement("payment", 3, day)
            assert step is not None and step == type(rules)().acknowledgement("payment", 3, day)
