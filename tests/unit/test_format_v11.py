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
