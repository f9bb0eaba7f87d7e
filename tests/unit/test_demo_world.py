"""The demo's world: a payment is the balance the payer saw on the day their bank received the order."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from domain.application import CollectionApp
from domain.scenario import Scenario, run_scenario
from kravsak.demo.run import samlesak_charges
from kravsak.demo.world import World


def world_with_a_reminded_claim() -> tuple[World, CollectionApp]:
    app = CollectionApp()
    run_scenario(
        Scenario.parse_text("""
scenario: a purring sent while the payment is on its way
creditor: "4601"
steps:
  - {on: 2024-08-02, do: issue_invoice, invoice: SFO-1, amount: "800.00", due: 2024-09-02, claim_type: sfo}
  - {on: 2024-09-20, do: send_notice, invoice: SFO-1, notice: purring}
"""),
        app,
    )
    return World(app, debtors=10, seed=1, tag="T"), app


def test_a_payment_ordered_before_a_reminder_does_not_pay_the_reminders_fee() -> None:
    world, app = world_with_a_reminded_claim()
    claim = app.claim("4601", "SFO-1")
    assert claim.account.fees > 0  # the purring on 2024-09-20 carries a fee

    ordered = date(2024, 9, 19)
    owed = world.owed_on_bank_day(claim, ordered)

    assert owed == world.balance_on(claim, ordered) - claim.account.fees
    assert owed > Decimal("800.00")  # interest through the bank day is in it


def test_a_payment_ordered_on_or_after_the_reminder_pays_its_fee() -> None:
    world, app = world_with_a_reminded_claim()
    claim = app.claim("4601", "SFO-1")
    for ordered in (date(2024, 9, 20), date(2024, 9, 25)):
        assert world.owed_on_bank_day(claim, ordered) == world.balance_on(claim, ordered)


def test_the_demo_reports_samlesak_fees_against_what_each_claim_alone_would_have_paid() -> None:
    """NO-35: D1's two claims went in one letter per step (one fee of 175.00, one court fee of 1589) where alone
    each would have paid its own; D2's claim went alone and costs the same either way."""
    app = CollectionApp()
    scenario = Scenario.load(Path(__file__).parents[2] / "scenarios/own/no-35-samlesak-in-the-case-flow.yaml")
    run_scenario(scenario, app)
    world = World(app, debtors=1, seed=1, tag="T")
    creditor = scenario.creditor
    world.debtors[0].invoices = [(creditor, "BH-1"), (creditor, "SFO-1"), (creditor, "BH-2")]

    (row,) = samlesak_charges(app, world)

    assert row["merge_claims"] is True
    assert (row["claims"], row["claims_combined"]) == (3, 2)
    assert (row["fees"], row["fees_alone"]) == (Decimal("350.00"), Decimal("525.00"))
    assert (row["costs"], row["costs_alone"]) == (Decimal("3178.00"), Decimal("4767.00"))
