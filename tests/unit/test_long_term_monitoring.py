"""Long-term monitoring (långtidsbevakning): a claim written down in the accounts rests, and before its
limitation date the case flow takes the limitation-interrupting step its jurisdiction allows — Sweden a
påminnelse (preskriptionslagen 5 § 2), Norway the policy's enforcement route (foreldelsesloven § 17) —
the policy's days before the limitation date (domain.policy.monitoring_action)."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest

from domain import caseflow
from domain.application import CollectionApp
from domain.claim import Claim
from domain.errors import CommandRefused, ErrorCode
from domain.policy import (
    NORWEGIAN_DEFAULT,
    SWEDISH_MUNICIPAL_DEFAULT,
    CollectionPolicy,
    PlannedAction,
    due_action,
    monitoring_day,
    next_check,
)

ALTA, SVENLJUNGA = "5601", "1465"


def office() -> CollectionApp:
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


def claim_of(app: CollectionApp, creditor: str, number: str, amount: str, due: date, claim_type: str) -> Claim:
    app.issue_invoice(
        creditor=creditor,
        invoice=number,
        amount=Decimal(amount),
        due=due,
        claim_type=claim_type,
        debtor_ref="P1" if creditor == ALTA else "S1",
        on=date(2025, 1, 2),
        command_id=f"i-{number}",
    )
    return app.claim(creditor, number)


def write_down(app: CollectionApp, creditor: str, number: str, on: date) -> None:
    app.write_down(creditor=creditor, invoice=number, reason="no means", on=on, command_id=f"wd-{number}")


# A Swedish consumer claim (va) due Friday 2022-09-30: time-barred after Tuesday 2025-09-30 (3 years,
# preskriptionslagen 2 § second paragraph); written down on 2025-01-02. Monitoring 60 days before the
# limitation date: Friday 2025-08-01.
SE_DUE, SE_LIMITATION, SE_TRIGGER = date(2022, 9, 30), date(2025, 9, 30), date(2025, 8, 1)


def swedish_written_down(app: CollectionApp, number: str = "VA-1") -> Claim:
    claim_of(app, SVENLJUNGA, number, "1200.00", SE_DUE, "va")
    write_down(app, SVENLJUNGA, number, date(2025, 1, 2))
    claim = app.claim(SVENLJUNGA, number)
    assert claim.limitation_date == SE_LIMITATION
    return claim


def test_the_day_before_the_monitoring_day_nothing_is_due_on_the_day_a_paminnelse() -> None:
    claim = swedish_written_down(office())

    assert monitoring_day(claim, SWEDISH_MUNICIPAL_DEFAULT) == SE_TRIGGER
    before = due_action(claim, date(2025, 7, 31), SWEDISH_MUNICIPAL_DEFAULT, debtor_open_total=Decimal("1200"))
    on = due_action(claim, SE_TRIGGER, SWEDISH_MUNICIPAL_DEFAULT, debtor_open_total=Decimal("1200"))

    assert before is None
    assert on == PlannedAction("notice", "paminnelse", None, SE_TRIGGER, monitoring=True)


def test_a_written_down_swedish_claim_rests_then_a_paminnelse_interrupts_limitation_for_three_years() -> None:
    app = office()
    swedish_written_down(app)

    runs = app.run_policies(
        creditor=SVENLJUNGA, invoices=["VA-1"], start=date(2025, 1, 3), until=date(2025, 12, 31), command_id="flow"
    )

    # no påminnelse, inkassokrav or betalningsföreläggande while it rests; one monitoring letter in time
    assert [(r.day, r.action.name, r.action.monitoring, r.accepted) for r in runs] == [
        (SE_TRIGGER, "paminnelse", True, True)
    ]
    claim = app.claim(SVENLJUNGA, "VA-1")
    assert [(n.notice, n.fee) for n in claim.facts.notices] == [("paminnelse", Decimal("0.00"))]
    (interruption,) = claim.facts.interruptions
    assert interruption.ground == "long_term_monitoring:paminnelse"
    assert "preskriptionslagen 5 § 2" in interruption.legal_basis
    assert "long-term monitoring of the claim written down on 2025-01-02" in interruption.legal_basis
    assert interruption.limitation_date == claim.limitation_date == date(2028, 8, 1)
    # the next round: 60 days before the new date
    assert monitoring_day(claim, SWEDISH_MUNICIPAL_DEFAULT) == date(2028, 6, 2)


def test_after_the_monitoring_step_the_claim_is_next_looked_at_for_the_alert_and_the_next_round() -> None:
    app = office()
    swedish_written_down(app)
    done = caseflow.run_day(
        app, creditor=SVENLJUNGA, invoice="VA-1", day=SE_TRIGGER, policy=SWEDISH_MUNICIPAL_DEFAULT, prefix="auto"
    )

    assert done.step is not None and done.step.accepted
    assert done.step.command_id == caseflow.command_id("auto", done.claim.id, "paminnelse", SE_TRIGGER)
    # the limitation alert (90 days before 2028-08-01) comes before the next monitoring day (60 days before)
    assert done.next_check == date(2028, 5, 3)


def test_a_written_down_claim_is_next_checked_on_its_monitoring_day() -> None:
    claim = swedish_written_down(office())
    policy = dataclasses.replace(SWEDISH_MUNICIPAL_DEFAULT, limitation_alert_days=30)

    assert next_check(claim, policy, date(2025, 1, 3), open_total=Decimal("1200.00")) == SE_TRIGGER


def test_written_down_within_the_monitoring_days_the_step_comes_at_once_and_on_the_limitation_date_still() -> None:
    app = office()
    claim_of(app, SVENLJUNGA, "VA-1", "1200.00", SE_DUE, "va")
    write_down(app, SVENLJUNGA, "VA-1", date(2025, 9, 15))
    claim = app.claim(SVENLJUNGA, "VA-1")

    assert monitoring_day(claim, SWEDISH_MUNICIPAL_DEFAULT) == date(2025, 9, 15)
    assert due_action(claim, date(2025, 9, 15), SWEDISH_MUNICIPAL_DEFAULT, debtor_open_total=Decimal(1200))
    assert due_action(claim, SE_LIMITATION, SWEDISH_MUNICIPAL_DEFAULT, debtor_open_total=Decimal(1200))
    assert due_action(claim, date(2025, 10, 1), SWEDISH_MUNICIPAL_DEFAULT, debtor_open_total=Decimal(1200)) is None


def test_no_monitoring_step_under_the_minimum_or_when_the_policy_leaves_it_to_the_caseworkers() -> None:
    claim = swedish_written_down(office())
    by_hand = dataclasses.replace(SWEDISH_MUNICIPAL_DEFAULT, monitoring_days_before_limitation=None)

    assert due_action(claim, SE_TRIGGER, SWEDISH_MUNICIPAL_DEFAULT, debtor_open_total=Decimal("49.99")) is None
    assert due_action(claim, SE_TRIGGER, by_hand, debtor_open_total=Decimal("1200")) is None
    assert monitoring_day(claim, by_hand) is None


def test_two_written_down_claims_of_one_debtor_get_one_monitoring_letter() -> None:
    app = office()
    swedish_written_down(app, "VA-1")
    swedish_written_down(app, "VA-2")

    runs = app.run_policies(
        creditor=SVENLJUNGA, invoices=["VA-1", "VA-2"], start=SE_TRIGGER, until=SE_TRIGGER, command_id="flow"
    )

    assert {(r.command_id, r.letter) for r in runs} == {
        (runs[0].command_id, ("VA-1", "VA-2")),
    }
    for number in ("VA-1", "VA-2"):
        claim = app.claim(SVENLJUNGA, number)
        assert [i.ground for i in claim.facts.interruptions] == ["long_term_monitoring:paminnelse"]


# A Norwegian barnehage claim due Monday 2022-08-22: time-barred after Friday 2025-08-22 (3 years,
# foreldelsesloven §§ 2-3). Monitoring 60 days before: Monday 2025-06-23.
NO_DUE, NO_TRIGGER = date(2022, 8, 22), date(2025, 6, 23)


def norwegian_written_down(app: CollectionApp, number: str, claim_type: str, *, demanded: bool = True) -> None:
    claim_of(app, ALTA, number, "4200.00", NO_DUE, claim_type)
    if demanded:
        app.send_notice(
            creditor=ALTA, invoice=number, notice="inkassovarsel", on=date(2025, 1, 3), command_id=f"iv-{number}"
        )
        app.send_notice(
            creditor=ALTA,
            invoice=number,
            notice="betalingsoppfordring",
            on=date(2025, 1, 20),
            command_id=f"bo-{number}",
        )
    write_down(app, ALTA, number, date(2025, 2, 10))


def test_a_written_down_norwegian_claim_gets_an_utleggsbegjaering_before_its_limitation_date() -> None:
    app = office()
    norwegian_written_down(app, "BH-1", "barnehage")
    assert app.claim(ALTA, "BH-1").limitation_date == date(2025, 8, 22)

    runs = app.run_policies(
        creditor=ALTA, invoices=["BH-1"], start=date(2025, 2, 11), until=date(2025, 8, 31), command_id="flow"
    )

    assert [(r.day, r.action.kind, r.action.name, r.accepted) for r in runs] == [
        (NO_TRIGGER, "enforcement", "utleggsbegjaering", True)
    ]
    claim = app.claim(ALTA, "BH-1")
    assert [(e.route, e.cost) for e in claim.facts.enforcements] == [("utleggsbegjaering", Decimal("1589.00"))]
    (interruption,) = claim.facts.interruptions
    assert interruption.ground == "long_term_monitoring:utleggsbegjaering"
    assert interruption.legal_basis.startswith("foreldelsesloven § 17 nr. 1")
    assert claim.limitation_date == date(2028, 6, 23)


def test_the_day_before_the_norwegian_monitoring_day_nothing_is_due_on_the_day_the_request() -> None:
    app = office()
    norwegian_written_down(app, "BH-1", "barnehage")
    claim = app.claim(ALTA, "BH-1")

    assert due_action(claim, date(2025, 6, 20), NORWEGIAN_DEFAULT, debtor_open_total=Decimal(4200)) is None
    assert due_action(claim, NO_TRIGGER, NORWEGIAN_DEFAULT, debtor_open_total=Decimal(4200)) == PlannedAction(
        "enforcement", "utleggsbegjaering", None, NO_TRIGGER, monitoring=True
    )


def test_a_lien_secured_norwegian_claim_gets_the_municipalitys_own_step_without_court_fee_for_ten_years() -> None:
    app = office()
    norwegian_written_down(app, "VA-1", "kommunale_avgifter")

    done = caseflow.run_day(app, creditor=ALTA, invoice="VA-1", day=NO_TRIGGER, policy=NORWEGIAN_DEFAULT, prefix="auto")

    assert done.step is not None and done.step.accepted and done.step.action.name == "utleggstrekk"
    claim = done.claim
    assert [(e.route, e.cost) for e in claim.facts.enforcements] == [("utleggstrekk", Decimal("0.00"))]
    assert claim.facts.interruptions[-1].ground == "long_term_monitoring:utleggstrekk"
    assert claim.limitation_date == date(2035, 6, 25)  # 10 years; 2035-06-23 is a Saturday


def test_written_down_before_the_betalingsoppfordring_the_norwegian_step_is_refused_and_tried_again() -> None:
    """No Norwegian notice may go under long-term monitoring (none interrupts), and without the § 4-18
    warning no legal step is open: the refusal is kept, the claim looked at again after the back-off, and
    the limitation alert stands."""
    app = office()
    norwegian_written_down(app, "BH-1", "barnehage", demanded=False)

    done = caseflow.run_day(app, creditor=ALTA, invoice="BH-1", day=NO_TRIGGER, policy=NORWEGIAN_DEFAULT, prefix="auto")

    assert done.step is not None and done.step.refused is not None
    assert done.step.refused.code == ErrorCode.MISSING_PREREQUISITE
    assert done.next_check == date(2025, 6, 24)
    assert done.alert_days_left == 60
    assert done.claim.facts.enforcements == []


def test_a_monitoring_step_on_a_claim_that_is_not_written_down_is_invalid_input() -> None:
    app = office()
    claim_of(app, SVENLJUNGA, "VA-1", "1200.00", SE_DUE, "va")

    with pytest.raises(CommandRefused) as refused:
        app.send_notice(
            creditor=SVENLJUNGA,
            invoice="VA-1",
            notice="paminnelse",
            on=date(2025, 1, 3),
            command_id="n",
            monitoring=True,
        )
    assert refused.value.code == ErrorCode.INVALID_INPUT
    assert "monitoring" in refused.value.message


def test_an_old_policy_without_monitoring_days_monitors_60_days_ahead() -> None:
    recorded = SWEDISH_MUNICIPAL_DEFAULT.as_dict()
    del recorded["monitoring_days_before_limitation"]
    assert CollectionPolicy.from_dict(recorded).monitoring_days_before_limitation == 60
