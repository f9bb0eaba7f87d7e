"""When the process manager looks at a claim again: the next check follows the claim's own state."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from consumers.automate import next_check, plan_checkable
from domain.application import CollectionApp
from domain.claim import Claim
from domain.policy import NORWEGIAN_DEFAULT, SWEDISH_MUNICIPAL_DEFAULT, due_action
from domain.records import Installment

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
