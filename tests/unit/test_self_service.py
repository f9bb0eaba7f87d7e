"""A debtor's application decided at once (domain.policy.decide_plan / decide_deferral): each self-service
limit on its boundary (exactly the limit is approved, one beyond is referred with the reason and the limit),
and the case states that always need a caseworker."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from domain.application import CollectionApp
from domain.claim import Claim
from domain.policy import (
    NORWEGIAN_DEFAULT,
    SWEDISH_MUNICIPAL_DEFAULT,
    CollectionPolicy,
    SelfServiceLimits,
    decide_deferral,
    decide_plan,
    monthly_plan,
)

ALTA = "5601"
DAY = date(2025, 3, 3)
LIMITS = SelfServiceLimits()  # 12 instalments, 300.00 each at least, 30 000.00 in all, first within 30 days


def claim(amount: str = "2400.00", due: date = date(2025, 3, 20), number: str = "F-1") -> tuple[CollectionApp, Claim]:
    app = CollectionApp()
    app.register_creditor(creditor=ALTA, name="Alta", jurisdiction="NO", on=date(2025, 1, 1), command_id="c1")
    app.register_debtor(office=ALTA, ref="P1", kind="person", jurisdiction="NO", on=date(2025, 1, 1), command_id="d1")
    app.issue_invoice(creditor=ALTA, invoice=number, amount=Decimal(amount), due=due, claim_type="barnehage",
                      debtor_ref="P1", on=date(2025, 1, 2), command_id=f"i-{number}")  # fmt: skip
    return app, app.claim(ALTA, number)


def plan(c: Claim, total: str, count: int, first_due: date, policy: CollectionPolicy = NORWEGIAN_DEFAULT) -> tuple:
    d = decide_plan(c, policy, day=DAY, total=Decimal(total), count=count, first_due=first_due)
    return d.approved, d.reason, d.limit


def test_the_defaults_are_the_limits_the_pages_promise() -> None:
    assert NORWEGIAN_DEFAULT.limits == LIMITS
    assert (LIMITS.max_instalments, LIMITS.min_instalment, LIMITS.max_plan_total) == (12, Decimal("300.00"),
                                                                                      Decimal("30000.00"))  # fmt: skip
    assert (LIMITS.first_instalment_within_days, LIMITS.max_deferral_days) == (30, 30)
    assert SWEDISH_MUNICIPAL_DEFAULT.limits.max_instalments >= 1


def test_instalments_up_to_the_maximum_are_approved_one_more_is_referred() -> None:
    _, c = claim("12000.00")
    assert plan(c, "12000.00", 12, DAY + timedelta(days=10)) == (True, None, None)
    assert plan(c, "12000.00", 13, DAY + timedelta(days=10)) == (False, "too_many_instalments", "12")
    assert plan(c, "12000.00", 0, DAY + timedelta(days=10))[1] == "too_many_instalments"


def test_the_first_instalment_on_the_last_day_allowed_is_approved_the_day_after_is_referred() -> None:
    _, c = claim()
    assert plan(c, "2400.00", 4, DAY + timedelta(days=30))[0] is True
    assert plan(c, "2400.00", 4, DAY + timedelta(days=31)) == (False, "first_instalment_too_late", "30")
    assert plan(c, "2400.00", 4, DAY)[0] is True
    assert plan(c, "2400.00", 4, DAY - timedelta(days=1))[1] == "first_instalment_too_late"


def test_an_instalment_of_exactly_the_minimum_is_approved_a_cent_less_is_referred() -> None:
    _, c = claim("1200.00")
    assert plan(c, "1200.00", 4, DAY + timedelta(days=5))[0] is True  # 4 × 300.00
    assert plan(c, "1199.99", 4, DAY + timedelta(days=5)) == (False, "instalment_too_small", "300.00")
    assert plan(c, "299.00", 1, DAY + timedelta(days=5))[0] is True  # one payment of all of it: no minimum


def test_a_debt_of_exactly_the_maximum_is_approved_a_cent_more_is_referred() -> None:
    _, c = claim("30000.01")
    assert plan(c, "30000.00", 12, DAY + timedelta(days=5))[0] is True
    assert plan(c, "30000.01", 12, DAY + timedelta(days=5)) == (False, "amount_too_large", "30000.00")


def test_the_plan_adds_up_to_the_debt_in_whole_kroner_with_the_remainder_last() -> None:
    instalments = monthly_plan(Decimal("2417.26"), 4, date(2025, 1, 31))
    assert [i.amount for i in instalments] == [Decimal("604.00")] * 3 + [Decimal("605.26")]
    assert [i.due for i in instalments] == [date(2025, 1, 31), date(2025, 2, 28), date(2025, 3, 31), date(2025, 4, 30)]
    assert sum(i.amount for i in instalments) == Decimal("2417.26")


def test_a_disputed_claim_or_one_with_a_plan_always_goes_to_a_caseworker() -> None:
    app, _ = claim()
    app.register_objection(creditor=ALTA, invoice="F-1", on=DAY, command_id="o1")
    assert plan(app.claim(ALTA, "F-1"), "2400.00", 4, DAY + timedelta(days=5))[1] == "disputed"
    app2, c2 = claim(number="F-2")
    first = decide_plan(c2, NORWEGIAN_DEFAULT, day=DAY, total=Decimal("2400.00"), count=4,
                        first_due=DAY + timedelta(days=5))  # fmt: skip
    app2.agree_payment_plan(creditor=ALTA, invoice="F-2", installments=first.installments, on=DAY, command_id="p1")
    assert plan(app2.claim(ALTA, "F-2"), "2400.00", 4, DAY + timedelta(days=5))[1] == "plan_exists"
    assert decide_deferral(
        app2.claim(ALTA, "F-2"), NORWEGIAN_DEFAULT, day=DAY, until=DAY + timedelta(days=5)
    ).reason == ("plan_exists")


@pytest.mark.parametrize(("days", "approved", "reason"), [(30, True, None), (31, False, "deferral_too_long"),
                                                          (1, True, None), (0, False, "deferral_in_past")])  # fmt: skip
def test_a_deferral_up_to_the_maximum_days_is_approved(days: int, approved: bool, reason: str | None) -> None:
    _, c = claim()
    d = decide_deferral(c, NORWEGIAN_DEFAULT, day=DAY, until=DAY + timedelta(days=days))
    assert (d.approved, d.reason) == (approved, reason)
    if approved:
        assert d.until == DAY + timedelta(days=days)


def test_a_second_deferral_asked_for_by_the_debtor_goes_to_a_caseworker() -> None:
    app, c = claim()
    assert decide_deferral(c, NORWEGIAN_DEFAULT, day=DAY, until=DAY + timedelta(days=10)).approved
    app.grant_deferral(creditor=ALTA, invoice="F-1", until=DAY + timedelta(days=10), on=DAY, command_id="g1")
    again = decide_deferral(app.claim(ALTA, "F-1"), NORWEGIAN_DEFAULT, day=DAY, until=DAY + timedelta(days=20))
    assert (again.approved, again.reason) == (False, "deferral_already_given")


def test_where_the_policy_refuses_deferrals_after_the_due_date_the_day_of_due_is_still_approved() -> None:
    _, c = claim(due=date(2025, 3, 3))
    policy = SWEDISH_MUNICIPAL_DEFAULT
    assert policy.deferral_after_due_refused
    on_due = decide_deferral(c, policy, day=date(2025, 3, 3), until=date(2025, 3, 20))
    after = decide_deferral(c, policy, day=date(2025, 3, 4), until=date(2025, 3, 20))
    assert on_due.approved and (after.approved, after.reason) == (False, "deferral_after_due")
