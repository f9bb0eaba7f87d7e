"""When the case flow looks at a claim again: the next check follows the claim's own state (domain.policy)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from domain import caseflow
from domain.application import CollectionApp
from domain.claim import Claim
from domain.policy import (
    BELOW_MINIMUM_RECHECK_DAYS,
    MAX_BACKOFF_DAYS,
    NORWEGIAN_DEFAULT,
    PLAN_GRACE_DAYS,
    SWEDISH_MUNICIPAL_DEFAULT,
    CollectionPolicy,
    PolicyStep,
    backoff_days,
    deferred_until,
    due_action,
    first_day_not_deferred,
    limitation_alert,
    next_check,
    plan_check_day,
    plan_checkable,
)
from domain.records import Installment, Jurisdiction

ALTA, SVENLJUNGA = "5601", "1465"


def desk() -> CollectionApp:
    app = CollectionApp()
    app.register_creditor(creditor=ALTA, name="Alta", jurisdiction="NO", on=date(2025, 1, 1), command_id="c1")
    app.register_creditor(
        creditor=SVENLJUNGA, name="Svenljunga", jurisdiction="SE", on=date(2025, 1, 1), command_id="c2"
    )
    app.register_debtor(office=ALTA, ref="P1", kind="person", jurisdiction="NO", on=date(2025, 1, 1), command_id="d1")
    app.register_debtor(
        office=SVENLJUNGA, ref="S1", kind="person", jurisdiction="SE", on=date(2025, 1, 1), command_id="d2"
    )
    return app


def invoice(app: CollectionApp, number: str, amount: str, due: date, creditor: str = ALTA) -> Claim:
    app.issue_invoice(
        creditor=creditor,
        invoice=number,
        amount=Decimal(amount),
        due=due,
        claim_type="barnehage" if creditor == ALTA else "va",
        debtor_ref="P1" if creditor == ALTA else "S1",
        on=date(2025, 1, 2),
        command_id=f"i-{number}",
    )
    return app.claim(creditor, number)


def test_an_unpaid_claim_is_next_checked_on_the_day_the_purring_falls_due() -> None:
    claim = invoice(desk(), "1", "1800.00", date(2025, 1, 20))

    assert next_check(claim, NORWEGIAN_DEFAULT, date(2025, 1, 21), open_total=Decimal("1800.00")) == date(2025, 2, 3)


def test_after_a_notice_the_next_check_is_the_day_after_its_deadline() -> None:
    app = desk()
    invoice(app, "1", "1800.00", date(2025, 1, 20))
    app.send_notice(
        creditor=ALTA, invoice="1", notice="purring", on=date(2025, 2, 3), command_id="n1", deadline=date(2025, 2, 17)
    )

    claim = app.claim(ALTA, "1")
    assert next_check(claim, NORWEGIAN_DEFAULT, date(2025, 2, 3), open_total=Decimal("1835.00")) == date(2025, 2, 18)


def test_a_deferral_moves_the_next_check_past_its_end() -> None:
    app = desk()
    invoice(app, "1", "1800.00", date(2025, 1, 20))
    app.grant_deferral(creditor=ALTA, invoice="1", until=date(2025, 3, 10), on=date(2025, 1, 25), command_id="d")

    claim = app.claim(ALTA, "1")
    assert next_check(claim, NORWEGIAN_DEFAULT, date(2025, 1, 25), open_total=Decimal("1800.00")) == date(2025, 3, 11)


def test_a_claim_under_the_policy_minimum_is_looked_at_again_a_month_later() -> None:
    claim = invoice(desk(), "S-1", "45.00", date(2025, 1, 20), creditor=SVENLJUNGA)

    assert next_check(claim, SWEDISH_MUNICIPAL_DEFAULT, date(2025, 1, 27), open_total=Decimal("45.10")) == date(
        2025, 2, 26
    )


def test_an_instalment_is_checked_only_after_its_grace_days() -> None:
    app = desk()
    invoice(app, "1", "2000.00", date(2025, 1, 20))
    app.agree_payment_plan(
        creditor=ALTA,
        invoice="1",
        on=date(2025, 2, 5),
        command_id="p",
        installments=[
            Installment(date(2025, 2, 20), Decimal("1000.00")),
            Installment(date(2025, 3, 20), Decimal("1010.00")),
        ],
    )
    claim = app.claim(ALTA, "1")

    assert next_check(claim, NORWEGIAN_DEFAULT, date(2025, 2, 5), open_total=Decimal("2000.00")) == date(2025, 2, 28)
    assert not plan_checkable(claim, date(2025, 2, 24))  # the payment may still be on its way
    assert plan_checkable(claim, date(2025, 2, 28))


def test_a_paid_claim_and_a_time_barred_one_have_no_next_check() -> None:
    app = desk()
    invoice(app, "1", "500.00", date(2025, 1, 20))
    app.register_payment(creditor=ALTA, invoice="1", amount=Decimal("500.00"), on=date(2025, 1, 18), command_id="p")
    old = invoice(app, "2", "700.00", date(2022, 1, 10))

    assert next_check(app.claim(ALTA, "1"), NORWEGIAN_DEFAULT, date(2025, 1, 18), open_total=Decimal(0)) is None
    assert next_check(old, NORWEGIAN_DEFAULT, date(2025, 1, 11), open_total=Decimal("900.00")) is None


def test_no_further_step_when_the_principal_was_paid_by_the_deadline_only_interest_and_fee_remain() -> None:
    app = desk()
    invoice(app, "1", "7617.00", date(2025, 1, 20))
    app.send_notice(
        creditor=ALTA, invoice="1", notice="purring", on=date(2025, 2, 3), command_id="n1", deadline=date(2025, 2, 17)
    )
    app.register_payment(
        creditor=ALTA,
        invoice="1",
        amount=Decimal("7617.00"),
        on=date(2025, 2, 18),
        ordered=date(2025, 2, 15),
        command_id="p",
    )
    claim = app.claim(ALTA, "1")
    assert claim.account.balance() > NORWEGIAN_DEFAULT.min_amount  # the fee and interest are still owed

    # an inkassovarsel now would be escalated_after_timely_payment in the audit: the policy sends none
    assert due_action(claim, date(2025, 2, 18), NORWEGIAN_DEFAULT, debtor_open_total=claim.account.balance()) is None


# --- boundaries: the day before and the day of --------------------------------------------------


def one_instalment_due_20_february() -> CollectionApp:
    app = desk()
    invoice(app, "1", "2000.00", date(2025, 1, 20))
    app.agree_payment_plan(
        creditor=ALTA,
        invoice="1",
        on=date(2025, 2, 5),
        command_id="p",
        installments=[Installment(date(2025, 2, 20), Decimal("2000.00"))],
    )
    return app


def test_an_instalment_counts_as_missed_only_after_its_grace_days_day_before_and_day_of() -> None:
    app = one_instalment_due_20_february()
    assert PLAN_GRACE_DAYS == 7
    assert plan_check_day(date(2025, 2, 20)) == date(2025, 2, 28)

    before = caseflow.run_day(
        app, creditor=ALTA, invoice="1", day=date(2025, 2, 27), policy=NORWEGIAN_DEFAULT, prefix="auto"
    )
    assert before.plan_breach is None and not app.claim(ALTA, "1").plan_breached
    assert before.next_check == date(2025, 2, 28)

    day_of = caseflow.run_day(
        app, creditor=ALTA, invoice="1", day=date(2025, 2, 28), policy=NORWEGIAN_DEFAULT, prefix="auto"
    )
    case = app.claim(ALTA, "1").id
    assert day_of.plan_breach == f"auto/{case}/plan/2025-02-28"
    assert app.claim(ALTA, "1").plan_breached


def test_without_grace_days_the_instalment_is_missed_the_day_after_its_due_date() -> None:
    app = one_instalment_due_20_february()
    claim = app.claim(ALTA, "1")

    assert plan_checkable(claim, date(2025, 2, 21), grace_days=0)
    assert not plan_checkable(claim, date(2025, 2, 21))


@pytest.mark.parametrize(
    ("refusals", "days"), [(0, 0), (1, 1), (2, 2), (3, 4), (4, 8), (5, 16), (6, 32), (7, 32), (12, 32)]
)
def test_the_back_off_doubles_after_each_refusal_up_to_its_cap(refusals: int, days: int) -> None:
    assert MAX_BACKOFF_DAYS == 32
    assert backoff_days(refusals) == days


def test_a_refused_step_is_looked_at_again_after_the_back_off_and_counted() -> None:
    app = desk()
    invoice(app, "1", "1800.00", date(2025, 1, 20))
    too_short = CollectionPolicy(
        name="a policy with a deadline the law refuses",
        jurisdiction=Jurisdiction.NO,
        steps=(PolicyStep(after_days=14, notice="inkassovarsel", deadline_days=3),),
    )

    done = caseflow.run_day(
        app, creditor=ALTA, invoice="1", day=date(2025, 2, 3), policy=too_short, prefix="auto", refusals=2
    )

    assert done.step is not None and done.step.refused is not None
    assert done.step.refused.code.value == "deadline_too_short"
    assert done.refusals == 3
    assert done.next_check == date(2025, 2, 3) + timedelta(days=4)
    assert app.claim(ALTA, "1").facts.notices == []


def test_a_claim_just_under_the_minimum_waits_a_month_one_at_the_minimum_does_not() -> None:
    claim = invoice(desk(), "S-1", "50.00", date(2025, 1, 20), creditor=SVENLJUNGA)
    day = date(2025, 1, 21)
    assert BELOW_MINIMUM_RECHECK_DAYS == 30

    under = next_check(claim, SWEDISH_MUNICIPAL_DEFAULT, day, open_total=Decimal("49.99"))
    at = next_check(claim, SWEDISH_MUNICIPAL_DEFAULT, day, open_total=Decimal("50.00"))

    assert under == day + timedelta(days=30)
    assert at == date(2025, 1, 27)  # the påminnelse, 7 days after the due date


def test_a_deferral_pauses_the_policy_through_its_last_day_and_no_longer() -> None:
    app = desk()
    invoice(app, "1", "1800.00", date(2025, 1, 20))
    app.grant_deferral(creditor=ALTA, invoice="1", until=date(2025, 3, 10), on=date(2025, 1, 25), command_id="d")
    claim = app.claim(ALTA, "1")
    total = Decimal("1800.00")

    assert deferred_until(claim, date(2025, 1, 24)) is None  # not yet granted
    assert deferred_until(claim, date(2025, 3, 10)) == date(2025, 3, 10)
    assert deferred_until(claim, date(2025, 3, 11)) is None
    assert due_action(claim, date(2025, 3, 10), NORWEGIAN_DEFAULT, debtor_open_total=total) is None
    on_the_day_after = due_action(claim, date(2025, 3, 11), NORWEGIAN_DEFAULT, debtor_open_total=total)
    assert on_the_day_after is not None and on_the_day_after.name == "purring"


def test_deferrals_one_after_another_move_the_next_check_past_the_last() -> None:
    app = desk()
    invoice(app, "1", "1800.00", date(2025, 1, 20))
    app.grant_deferral(creditor=ALTA, invoice="1", until=date(2025, 2, 10), on=date(2025, 1, 25), command_id="d1")
    app.grant_deferral(creditor=ALTA, invoice="1", until=date(2025, 3, 10), on=date(2025, 2, 10), command_id="d2")
    claim = app.claim(ALTA, "1")

    assert first_day_not_deferred(claim, date(2025, 2, 3)) == date(2025, 3, 11)
    assert next_check(claim, NORWEGIAN_DEFAULT, date(2025, 2, 1), open_total=Decimal("1800.00")) == date(2025, 3, 11)


def test_the_limitation_alert_starts_the_policys_alert_days_before_the_limitation_date() -> None:
    claim = invoice(desk(), "1", "3100.00", date(2022, 3, 15))
    limitation = claim.limitation_date
    days = NORWEGIAN_DEFAULT.limitation_alert_days

    assert limitation_alert(claim, NORWEGIAN_DEFAULT, limitation - timedelta(days=days + 1)) is None
    assert limitation_alert(claim, NORWEGIAN_DEFAULT, limitation - timedelta(days=days)) == days
    assert limitation_alert(claim, NORWEGIAN_DEFAULT, limitation) == 0
    assert limitation_alert(claim, NORWEGIAN_DEFAULT, limitation + timedelta(days=1)) is None


# --- one day of the case flow -------------------------------------------------------------------


def test_a_day_run_twice_sends_its_notice_once_under_one_deterministic_command_id() -> None:
    app = desk()
    invoice(app, "1", "1800.00", date(2025, 1, 20))
    case = app.claim(ALTA, "1").id

    first = caseflow.run_day(
        app, creditor=ALTA, invoice="1", day=date(2025, 2, 3), policy=NORWEGIAN_DEFAULT, prefix="auto"
    )
    again = caseflow.run_day(
        app, creditor=ALTA, invoice="1", day=date(2025, 2, 3), policy=NORWEGIAN_DEFAULT, prefix="auto"
    )

    assert first.step is not None and first.step.command_id == f"auto/{case}/purring/2025-02-03"
    assert first.step.accepted and first.next_check == date(2025, 2, 18)
    assert again.step is None  # the purring is in the trail: nothing is due any more today
    assert [n.notice for n in app.claim(ALTA, "1").facts.notices] == ["purring"]
    assert caseflow.command_id("auto", case, "purring", date(2025, 2, 3)) == first.step.command_id


def test_run_policies_names_its_steps_in_the_same_format_with_its_own_prefix() -> None:
    app = desk()
    invoice(app, "1", "1800.00", date(2025, 1, 20))
    case = app.claim(ALTA, "1").id

    runs = app.run_policies(
        creditor=ALTA, invoices=["1"], start=date(2025, 2, 1), until=date(2025, 2, 3), command_id="flow-7"
    )

    assert [r.command_id for r in runs] == [f"flow-7/{case}/purring/2025-02-03"]
