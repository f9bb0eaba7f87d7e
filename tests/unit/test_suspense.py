"""The suspense account through the domain API: money whose reference matches no claim waits there
until a caseworker places it, oldest first; the ledger posts it in and out of suspense."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from domain.application import CollectionApp
from domain.errors import CommandRefused
from domain.scenario import Scenario, run_scenario
from projections.ledger import suspense_postings

CREDITOR = "4601"


def desk() -> CollectionApp:
    app = CollectionApp()
    app.register_creditor(creditor=CREDITOR, name="T", jurisdiction="NO", on=date(2025, 1, 1), command_id="c")
    app.register_debtor(office=CREDITOR, ref="D1", kind="person", jurisdiction="NO", on=date(2025, 1, 1),
                        command_id="d")  # fmt: skip
    app.issue_invoice(creditor=CREDITOR, invoice="A", amount=Decimal("1000.00"), due=date(2025, 3, 3),
                      claim_type="barnehage", debtor_ref="D1", on=date(2025, 2, 1), command_id="i")  # fmt: skip
    return app


def receive(app: CollectionApp, ref: str, amount: str, on: date, ordered: date, cid: str) -> None:
    app.receive_unmatched_payment(creditor=CREDITOR, reference=ref, amount=Decimal(amount), on=on, ordered=ordered,
                                  source="ocr", command_id=cid)  # fmt: skip


def test_money_with_an_unknown_reference_waits_in_suspense_oldest_first() -> None:
    app = desk()
    receive(app, "777", "200.00", date(2025, 3, 10), date(2025, 3, 7), "r1")
    receive(app, "555", "50.00", date(2025, 3, 10), date(2025, 3, 5), "r2")
    receive(app, "777", "200.00", date(2025, 3, 10), date(2025, 3, 7), "r1")  # the same command again
    account = app.suspense(CREDITOR)
    assert account is not None
    assert [(i.reference, i.amount, i.ordered) for i in account.open_items()] == [
        ("555", Decimal("50.00"), date(2025, 3, 5)),
        ("777", Decimal("200.00"), date(2025, 3, 7)),
    ]


def test_allocating_places_the_oldest_item_with_that_reference_as_a_payment_ordered_when_the_payer_did() -> None:
    app = desk()
    receive(app, "777", "300.00", date(2025, 3, 20), date(2025, 3, 18), "r1")
    receive(app, "777", "100.00", date(2025, 3, 12), date(2025, 3, 10), "r2")  # older order, received earlier
    app.allocate_suspense(creditor=CREDITOR, reference="777", invoice="A", on=date(2025, 3, 25), command_id="a1")

    claim = app.claim(CREDITOR, "A")
    [payment] = claim.facts.payments
    assert (payment.amount, payment.ordered) == (Decimal("100.00"), date(2025, 3, 10))
    account = app.suspense(CREDITOR)
    assert account is not None
    assert [(i.reference, i.amount) for i in account.open_items()] == [("777", Decimal("300.00"))]
    event = [e for e in app.events.get(claim.id) if type(e).__name__ == "PaymentRegistered"][-1]
    assert (event.source, event.reference) == ("suspense", "777")


def test_allocating_a_reference_not_in_suspense_is_invalid_input_and_changes_nothing() -> None:
    app = desk()
    receive(app, "777", "300.00", date(2025, 3, 20), date(2025, 3, 18), "r1")
    with pytest.raises(CommandRefused) as refused:
        app.allocate_suspense(creditor=CREDITOR, reference="888", invoice="A", on=date(2025, 3, 25), command_id="a")
    assert refused.value.code.value == "invalid_input" and "reference" in refused.value.message
    assert app.claim(CREDITOR, "A").facts.payments == []


def test_allocating_to_an_unknown_invoice_leaves_the_money_in_suspense() -> None:
    app = desk()
    receive(app, "777", "300.00", date(2025, 3, 20), date(2025, 3, 18), "r1")
    with pytest.raises(CommandRefused) as refused:
        app.allocate_suspense(creditor=CREDITOR, reference="777", invoice="Z", on=date(2025, 3, 25), command_id="a")
    assert refused.value.code.value == "unknown_invoice"
    account = app.suspense(CREDITOR)
    assert account is not None and len(account.open_items()) == 1


@pytest.mark.parametrize(
    ("reference", "amount", "ordered", "field"),
    [("", "10.00", date(2025, 3, 1), "reference"), ("7", "0.00", date(2025, 3, 1), "amount"),
     ("7", "10.00", date(2025, 3, 21), "ordered")],
)  # fmt: skip
def test_a_malformed_unmatched_payment_is_invalid_input(reference: str, amount: str, ordered: date, field: str) -> None:
    app = desk()
    with pytest.raises(CommandRefused) as refused:
        receive(app, reference, amount, date(2025, 3, 20), ordered, "r")
    assert refused.value.code.value == "invalid_input" and refused.value.message.startswith(field)
    assert app.suspense(CREDITOR) is None


def test_the_ledger_posts_money_into_suspense_and_out_to_the_bank_when_placed() -> None:
    app = desk()
    receive(app, "777", "300.00", date(2025, 3, 20), date(2025, 3, 18), "r1")
    received = app.suspense(CREDITOR)
    app.allocate_suspense(creditor=CREDITOR, reference="777", invoice="A", on=date(2025, 3, 25), command_id="a1")
    placed = app.suspense(CREDITOR)
    assert received is not None and placed is not None
    into = suspense_postings(None, received)
    out = suspense_postings(received, placed)
    assert [(p.account, p.debit, p.credit) for p in into] == [
        ("bank", Decimal("300.00"), Decimal(0)),
        ("suspense", Decimal(0), Decimal("300.00")),
    ]
    assert [(p.account, p.debit, p.credit) for p in out] == [
        ("suspense", Decimal("300.00"), Decimal(0)),
        ("bank", Decimal(0), Decimal("300.00")),
    ]


def test_the_scenario_report_lists_money_still_in_suspense() -> None:
    app = desk()
    receive(app, "777", "300.00", date(2025, 3, 20), date(2025, 3, 18), "r1")
    scenario = Scenario.parse({"scenario": "s", "creditor": CREDITOR, "steps": []})
    # the runner reads the account of the scenario's creditor from the application it is given
    report = run_scenario(scenario, app)
    assert report["suspense"] == [{"reference": "777", "amount": "300.00", "ordered": "2025-03-18"}]


def test_the_ledger_posts_suspense_paid_back_to_its_payer_out_to_the_bank() -> None:
    app = desk()
    receive(app, "777", "300.00", date(2025, 3, 20), date(2025, 3, 18), "r1")
    ident = app.request_refund(creditor=CREDITOR, on=date(2025, 3, 21), command_id="rf1", by="kari",
                               payee_key="transaction:r1", reference="777")  # fmt: skip
    held = app.suspense(CREDITOR)
    app.approve_refund(refund=ident, by="lead", on=date(2025, 3, 21), command_id="ap1")
    app.pay_out_refunds(refunds=[ident], message_id="M1", execution_date=date(2025, 3, 22), by="lead",
                        on=date(2025, 3, 22))  # fmt: skip
    paid = app.suspense(CREDITOR)
    assert held is not None and paid is not None
    assert [(p.account, p.debit, p.credit, p.kind) for p in suspense_postings(held, paid)] == [
        ("suspense", Decimal("300.00"), Decimal(0), "suspense_refund"),
        ("bank", Decimal(0), Decimal("300.00"), "suspense_refund"),
    ]
