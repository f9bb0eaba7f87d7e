"""The commands of scenario format 1.1, one story per test, through the domain API (in memory).

Figures are worked out by hand in the comments (ADR 0012 for the legal readings).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.application import CollectionApp
from domain.errors import CommandRefused
from domain.scenario import Scenario, run_scenario

CREDITOR = "4601"


class Desk:
    """One municipality with debtors D1 and D2, in memory."""

    def __init__(self, jurisdiction: str = "NO") -> None:
        self.app = CollectionApp()
        self.app.register_creditor(creditor=CREDITOR, name="T", jurisdiction=jurisdiction, on=date(2024, 1, 1),
                                   command_id="c")  # fmt: skip
        for ref in ("D1", "D2"):
            self.app.register_debtor(office=CREDITOR, ref=ref, kind="person", jurisdiction=jurisdiction,
                                     on=date(2024, 1, 1), command_id=f"d-{ref}")  # fmt: skip

    def invoice(self, invoice: str, amount: str, due: date, claim_type: str, debtor: str = "D1") -> None:
        self.app.issue_invoice(creditor=CREDITOR, invoice=invoice, amount=Decimal(amount), due=due,
                               claim_type=claim_type, debtor_ref=debtor, on=due - timedelta(days=14),
                               command_id=f"i-{invoice}")  # fmt: skip

    def refused(self, command: Any, **kwargs: Any) -> str:
        with pytest.raises(CommandRefused) as refused:
            command(creditor=CREDITOR, command_id=f"r-{len(kwargs)}-{sorted(kwargs)}", **kwargs)
        return refused.value.code.value

    def fees(self, invoice: str) -> Decimal:
        return self.app.claim(CREDITOR, invoice).account.fees

    def costs(self, invoice: str) -> Decimal:
        return self.app.claim(CREDITOR, invoice).account.costs


# --- combined letters and requests ------------------------------------------------------------


def test_a_combined_letter_charges_its_one_fee_on_the_first_claim_whose_cap_allows_it() -> None:
    desk = Desk()
    due = date(2025, 1, 20)
    for inv in ("A", "B"):
        desk.invoice(inv, "1000.00", due, "barnehage")
    # A has had its two fee-bearing notices (purring 14 days after due, missed; then a second purring)
    desk.app.send_notice(creditor=CREDITOR, invoice="A", notice="purring", on=date(2025, 2, 3), command_id="p1")
    desk.app.send_notice(creditor=CREDITOR, invoice="A", notice="purring", on=date(2025, 2, 18), command_id="p2")
    assert desk.fees("A") == Decimal("70.00")
    desk.app.send_combined_notice(creditor=CREDITOR, invoices=["A", "B"], notice="inkassovarsel",
                                  on=date(2025, 3, 5), command_id="letter")  # fmt: skip
    assert (desk.fees("A"), desk.fees("B")) == (Decimal("70.00"), Decimal("35.00"))
    a, b = (desk.app.claim(CREDITOR, i).facts.notices[-1] for i in ("A", "B"))
    assert a.fee == 0 and "fee cap" in a.fee_reason
    assert b.fee == Decimal("35.00")


def test_the_other_claims_of_the_letter_name_the_claim_that_bears_the_fee() -> None:
    desk = Desk()
    for inv in ("A", "B", "C"):
        desk.invoice(inv, "500.00", date(2025, 1, 20), "sfo")
    desk.app.send_combined_notice(creditor=CREDITOR, invoices=["B", "A", "C"], notice="purring",
                                  on=date(2025, 2, 5), command_id="letter")  # fmt: skip
    assert [desk.fees(i) for i in ("B", "A", "C")] == [Decimal("35.00"), Decimal(0), Decimal(0)]
    reasons = [desk.app.claim(CREDITOR, i).facts.notices[-1].fee_reason for i in ("A", "C")]
    assert all("charged on invoice B" in r for r in reasons)


def test_a_combined_letter_one_claim_refuses_is_refused_whole_and_changes_nothing() -> None:
    desk = Desk()
    desk.invoice("A", "500.00", date(2025, 1, 20), "sfo")
    desk.invoice("B", "500.00", date(2025, 2, 20), "sfo")  # not yet due on 2025-02-05
    versions = [desk.app.claim(CREDITOR, i).version for i in ("A", "B")]
    code = desk.refused(desk.app.send_combined_notice, invoices=["A", "B"], notice="purring", on=date(2025, 2, 5))
    assert code == "not_due"
    assert [desk.app.claim(CREDITOR, i).version for i in ("A", "B")] == versions


@pytest.mark.parametrize(
    ("invoices", "code"),
    [(["A", "C"], "invalid_input"), (["A", "A"], "invalid_input"), (["A", "Z"], "unknown_invoice"),
     (["C", "Z", "A"], "invalid_input"), ([], "invalid_input")],
)  # fmt: skip
def test_a_combined_letter_must_name_known_claims_of_one_debtor(invoices: list[str], code: str) -> None:
    desk = Desk()
    desk.invoice("A", "500.00", date(2025, 1, 20), "sfo")
    desk.invoice("C", "500.00", date(2025, 1, 20), "sfo", debtor="D2")
    assert desk.refused(desk.app.send_combined_notice, invoices=invoices, notice="purring", on=date(2025, 2, 5)) == code


def test_a_combined_letter_repeated_with_the_same_command_changes_nothing() -> None:
    desk = Desk()
    for inv in ("A", "B"):
        desk.invoice(inv, "500.00", date(2025, 1, 20), "sfo")
    for _ in range(2):
        desk.app.send_combined_notice(creditor=CREDITOR, invoices=["A", "B"], notice="purring",
                                      on=date(2025, 2, 5), command_id="letter")  # fmt: skip
    assert [len(desk.app.claim(CREDITOR, i).facts.notices) for i in ("A", "B")] == [1, 1]


def test_a_combined_enforcement_request_carries_one_court_fee_on_the_first_claim() -> None:
    desk = Desk()
    due = date(2025, 1, 20)
    for inv in ("A", "B"):
        desk.invoice(inv, "3000.00", due, "barnehage")
    desk.app.send_combined_notice(creditor=CREDITOR, invoices=["A", "B"], notice="inkassovarsel",
                                  on=date(2025, 2, 3), command_id="v")  # fmt: skip
    desk.app.send_combined_notice(creditor=CREDITOR, invoices=["A", "B"], notice="betalingsoppfordring",
                                  on=date(2025, 3, 3), command_id="bo")  # fmt: skip
    desk.app.request_combined_enforcement(creditor=CREDITOR, invoices=["A", "B"], route="utleggsbegjaering",
                                          on=date(2025, 3, 18), command_id="u")  # fmt: skip
    # floor(1.21 × 1314) = floor(1589.94) = 1589, once
    assert (desk.costs("A"), desk.costs("B")) == (Decimal("1589"), Decimal(0))
    # both claims: legal step interrupts (foreldelsesloven § 17): a new period from the request
    for inv in ("A", "B"):
        assert desk.app.claim(CREDITOR, inv).facts.interruptions[-1].ground == "enforcement:utleggsbegjaering"
    b = desk.app.claim(CREDITOR, "B").facts.enforcements[-1]
    assert b.cost == 0


def test_combined_swedish_inkassokrav_carries_one_180_sek_fee() -> None:
    desk = Desk("SE")
    for inv in ("A", "B"):
        desk.invoice(inv, "900.00", date(2025, 3, 31), "barnomsorg")
    desk.app.send_combined_notice(creditor=CREDITOR, invoices=["A", "B"], notice="inkassokrav",
                                  on=date(2025, 4, 2), command_id="k")  # fmt: skip
    assert (desk.fees("A"), desk.fees("B")) == (Decimal("180.00"), Decimal(0))


def scenario(steps: list[dict[str, Any]], **doc: Any) -> dict[str, Any]:
    return run_scenario(Scenario.parse({"scenario": "use case", "steps": steps, **doc}))


# --- Swedish avstängningsvarsel and suspend_service --------------------------------------------


def water_desk() -> Desk:
    desk = Desk("SE")
    desk.invoice("VA-1", "2400.00", date(2025, 4, 30), "va")  # Wednesday
    return desk


def varsel(desk: Desk, on: date, deadline: date, invoice: str = "VA-1") -> None:
    desk.app.send_notice(creditor=CREDITOR, invoice=invoice, notice="avstangningsvarsel", on=on, deadline=deadline,
                         command_id=f"varsel-{invoice}-{on}")  # fmt: skip


def suspend(desk: Desk, on: date, service: str = "water", invoice: str = "VA-1") -> str | None:
    try:
        desk.app.suspend_service(creditor=CREDITOR, invoice=invoice, service=service, on=on,
                                 command_id=f"s-{invoice}-{service}-{on}")  # fmt: skip
    except CommandRefused as refused:
        return refused.code.value
    return None


def test_an_avstangningsvarsel_is_an_inkassokrav_fee_deadline_limitation_and_the_way_to_kronofogden() -> None:
    desk = water_desk()
    varsel(desk, date(2025, 5, 5), date(2025, 5, 13))  # 8 days: the inkassokrav minimum
    claim = desk.app.claim(CREDITOR, "VA-1")
    assert claim.account.fees == Decimal("180.00")
    assert claim.facts.interruptions[-1].ground == "written_demand:avstangningsvarsel"
    assert claim.limitation_date == date(2028, 5, 5)  # three new years from the written demand (a Friday)
    # a later inkassokrav earns no second inkassokrav fee
    desk.app.send_notice(creditor=CREDITOR, invoice="VA-1", notice="inkassokrav", on=date(2025, 5, 20),
                         command_id="k")  # fmt: skip
    assert desk.fees("VA-1") == Decimal("180.00")
    # betalningsföreläggande may follow the avstängningsvarsel's deadline
    desk.app.request_enforcement(creditor=CREDITOR, invoice="VA-1", route="betalningsforelaggande",
                                 on=date(2025, 6, 2), command_id="bf")  # fmt: skip
    assert desk.costs("VA-1") == Decimal("300.00")


def test_an_avstangningsvarsel_with_seven_days_is_too_short() -> None:
    desk = water_desk()
    code = desk.refused(desk.app.send_notice, invoice="VA-1", notice="avstangningsvarsel", on=date(2025, 5, 5),
                        deadline=date(2025, 5, 12))  # fmt: skip
    assert code == "deadline_too_short"


def test_an_avstangningsvarsel_on_another_claim_type_or_in_norway_is_route_not_available() -> None:
    desk = Desk("SE")
    desk.invoice("BO-1", "900.00", date(2025, 4, 30), "barnomsorg")
    assert desk.refused(desk.app.send_notice, invoice="BO-1", notice="avstangningsvarsel", on=date(2025, 5, 5)) == (
        "route_not_available"
    )
    no = Desk("NO")
    no.invoice("KA-1", "900.00", date(2025, 4, 30), "kommunale_avgifter")
    assert no.refused(no.app.send_notice, invoice="KA-1", notice="avstangningsvarsel", on=date(2025, 5, 5)) == (
        "route_not_available"
    )
    assert no.refused(no.app.suspend_service, invoice="KA-1", service="water", on=date(2025, 6, 5)) == (
        "route_not_available"
    )


def test_water_is_shut_off_only_after_the_varsel_deadline_with_the_taxa_visit_fee_as_a_cost() -> None:
    desk = water_desk()
    assert suspend(desk, date(2025, 5, 14)) == "missing_prerequisite"  # no avstängningsvarsel yet
    varsel(desk, date(2025, 5, 5), date(2025, 5, 19))
    assert suspend(desk, date(2025, 5, 19)) == "deadline_not_expired"  # the deadline day itself
    assert suspend(desk, date(2025, 5, 20)) is None
    assert desk.costs("VA-1") == Decimal("500.00")  # Svenljunga's taxa: 500 SEK per visit
    report = desk.app.claim_report(desk.app.claim(CREDITOR, "VA-1"), date(2025, 5, 20))
    assert report["costs"] == "500.00"


def test_a_childcare_place_ends_at_the_earliest_two_months_after_due() -> None:
    desk = Desk("SE")
    desk.invoice("BO-1", "1500.00", date(2025, 3, 31), "barnomsorg")  # Monday
    assert suspend(desk, date(2025, 5, 30), "childcare", "BO-1") == "deadline_not_expired"
    assert suspend(desk, date(2025, 5, 31), "childcare", "BO-1") is None  # 31 March + 2 months
    assert desk.costs("BO-1") == Decimal(0)
    assert suspend(desk, date(2025, 6, 2), "water", "BO-1") == "route_not_available"


def test_an_unknown_service_is_invalid_input_even_on_an_unknown_invoice() -> None:
    desk = Desk("SE")
    assert desk.refused(desk.app.suspend_service, invoice="NONE", service="electricity", on=date(2025, 6, 2)) == (
        "invalid_input"
    )


def test_a_threatened_shut_off_not_carried_out_in_the_creditors_window_is_a_breach_from_the_next_day() -> None:
    desk = water_desk()
    varsel(desk, date(2025, 5, 5), date(2025, 5, 19))
    # window: 45 days after the due date 2025-04-30 = 2025-06-14 (later than the varsel's deadline)
    claim = desk.app.claim(CREDITOR, "VA-1")
    assert claim.facts.notices[-1].carry_out_by == date(2025, 6, 14)
    [finding] = [f for f in claim.audit().findings if f.code == "threat_not_carried_out"]
    assert finding.severity.value == "breach"
    assert not finding.holds_on(date(2025, 6, 14)) and finding.holds_on(date(2025, 6, 15))


def test_a_threat_carried_out_in_the_window_or_mooted_by_payment_raises_no_finding() -> None:
    desk = water_desk()
    varsel(desk, date(2025, 5, 5), date(2025, 5, 19))
    assert suspend(desk, date(2025, 6, 14)) is None  # the window's last day
    assert not [f for f in desk.app.claim(CREDITOR, "VA-1").audit().findings if f.code == "threat_not_carried_out"]
    paid = water_desk()
    varsel(paid, date(2025, 5, 5), date(2025, 5, 19))
    paid.app.register_payment(creditor=CREDITOR, invoice="VA-1", amount=Decimal("3000.00"), on=date(2025, 6, 1),
                              command_id="pay")  # fmt: skip
    assert not [f for f in paid.app.claim(CREDITOR, "VA-1").audit().findings if f.code == "threat_not_carried_out"]


# --- postpone_due (uppskov) and anstånd after the due date --------------------------------------


def test_uppskov_moves_the_due_date_interest_and_deadlines_but_not_limitation() -> None:
    desk = Desk("SE")
    desk.invoice("F-1", "1500.00", date(2024, 2, 29), "va")
    before = desk.app.claim(CREDITOR, "F-1").limitation_date
    desk.app.postpone_due(creditor=CREDITOR, invoice="F-1", until=date(2024, 3, 20), on=date(2024, 2, 20),
                          command_id="u")  # fmt: skip
    claim = desk.app.claim(CREDITOR, "F-1")
    assert (claim.due, claim.effective_due, claim.limitation_date) == (date(2024, 3, 20), date(2024, 3, 20), before)
    assert desk.refused(desk.app.send_notice, invoice="F-1", notice="paminnelse", on=date(2024, 3, 20)) == "not_due"
    # 21 March .. 19 April = 30 days at 12.00 %: 1500 × 0.12 × 30 / 365 = 14.79
    assert desk.app.claim_report(claim, date(2024, 4, 19))["interest"] == "14.79"


def test_uppskov_after_a_collection_step_or_backwards_is_refused() -> None:
    desk = Desk("SE")
    desk.invoice("F-1", "1500.00", date(2024, 2, 29), "va")
    assert desk.refused(desk.app.postpone_due, invoice="F-1", until=date(2024, 2, 28), on=date(2024, 2, 20)) == (
        "invalid_input"
    )
    desk.app.send_notice(creditor=CREDITOR, invoice="F-1", notice="paminnelse", on=date(2024, 3, 1), command_id="p")
    assert desk.refused(desk.app.postpone_due, invoice="F-1", until=date(2024, 4, 30), on=date(2024, 3, 5)) == (
        "route_not_available"
    )


def test_svenljungas_guidelines_refuse_an_anstand_asked_for_after_the_due_date() -> None:
    desk = Desk("SE")
    desk.invoice("F-1", "1500.00", date(2025, 3, 31), "va")
    desk.app.grant_deferral(creditor=CREDITOR, invoice="F-1", until=date(2025, 4, 30), on=date(2025, 3, 31),
                            command_id="on-due")  # fmt: skip
    late = Desk("SE")
    late.invoice("F-1", "1500.00", date(2025, 3, 31), "va")
    assert late.refused(late.app.grant_deferral, invoice="F-1", until=date(2025, 4, 30), on=date(2025, 4, 1)) == (
        "route_not_available"
    )
    # the municipality may still grant one on its own motion
    late.app.grant_deferral(creditor=CREDITOR, invoice="F-1", until=date(2025, 4, 30), on=date(2025, 4, 1),
                            requested_by_debtor=False, command_id="own")  # fmt: skip
    # Norway's default policy has no such rule
    no = Desk("NO")
    no.invoice("F-1", "1500.00", date(2025, 3, 31), "other")
    no.app.grant_deferral(creditor=CREDITOR, invoice="F-1", until=date(2025, 4, 30), on=date(2025, 4, 1),
                          command_id="no")  # fmt: skip


# --- write_down in the accounts: long-term monitoring ------------------------------------------


def test_a_written_down_claim_stays_owed_and_only_interrupting_steps_and_payments_remain() -> None:
    desk = Desk("NO")
    desk.invoice("B-1", "1000.00", date(2025, 1, 20), "barnehage")
    desk.app.write_down(creditor=CREDITOR, invoice="B-1", reason="uncertain", on=date(2025, 6, 2), command_id="w")
    claim = desk.app.claim(CREDITOR, "B-1")
    # the balance on 2 June: 21 Jan .. 2 Jun = 133 days at 12.50 %: 1000 × 0.125 × 133/365 = 45.548 -> 1045.55
    assert claim.written_down_in_accounts == Decimal("1045.55")
    assert desk.refused(desk.app.send_notice, invoice="B-1", notice="purring", on=date(2025, 6, 3)) == (
        "claim_written_down"
    )
    assert desk.refused(desk.app.write_down, invoice="B-1", reason="again", on=date(2025, 6, 3)) == "claim_written_down"
    desk.app.register_payment(creditor=CREDITOR, invoice="B-1", amount=Decimal("100.00"), on=date(2025, 6, 10),
                              command_id="pay")  # fmt: skip
    report = desk.app.claim_report(desk.app.claim(CREDITOR, "B-1"), date(2025, 6, 10))
    assert report["written_down"] == "1045.55" and report["status"] == "open"
    assert Decimal(report["balance"]) > Decimal("900.00")
    # an objection is the debtor's right: still registered
    desk.app.register_objection(creditor=CREDITOR, invoice="B-1", on=date(2025, 6, 11), command_id="obj")


def test_under_monitoring_norway_may_still_go_to_court_and_sweden_may_still_send_a_demand() -> None:
    no = Desk("NO")
    no.invoice("B-1", "1000.00", date(2025, 1, 20), "barnehage")
    no.app.send_notice(creditor=CREDITOR, invoice="B-1", notice="inkassovarsel", on=date(2025, 2, 3), command_id="v")
    no.app.send_notice(creditor=CREDITOR, invoice="B-1", notice="betalingsoppfordring", on=date(2025, 3, 3),
                       command_id="bo")  # fmt: skip
    no.app.write_down(creditor=CREDITOR, invoice="B-1", reason="r", on=date(2025, 4, 1), command_id="w")
    no.app.request_enforcement(creditor=CREDITOR, invoice="B-1", route="forliksklage", on=date(2025, 4, 2),
                               command_id="f")  # fmt: skip
    assert no.app.claim(CREDITOR, "B-1").facts.interruptions[-1].ground == "enforcement:forliksklage"
    se = Desk("SE")
    se.invoice("VA-1", "1000.00", date(2025, 1, 20), "va")
    se.app.write_down(creditor=CREDITOR, invoice="VA-1", reason="r", on=date(2025, 4, 1), command_id="w")
    se.app.send_notice(creditor=CREDITOR, invoice="VA-1", notice="paminnelse", on=date(2025, 4, 2), command_id="p")
    assert se.refused(se.app.send_notice, invoice="VA-1", notice="avstangningsvarsel", on=date(2025, 4, 3)) == (
        "claim_written_down"
    )


def test_claim_closed_is_reported_before_claim_written_down() -> None:
    desk = Desk("NO")
    desk.invoice("B-1", "1000.00", date(2025, 1, 20), "barnehage")
    desk.app.write_down(creditor=CREDITOR, invoice="B-1", reason="r", on=date(2025, 2, 3), command_id="w")
    desk.app.write_off(creditor=CREDITOR, invoice="B-1", reason="uneconomic", on=date(2025, 3, 3), command_id="o")
    assert desk.refused(desk.app.send_notice, invoice="B-1", notice="purring", on=date(2025, 3, 4)) == "claim_closed"
