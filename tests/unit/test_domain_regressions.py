"""Regressions: domain bugs found while writing the rule, property and use-case tests, now fixed.

Each test states what the law (rules.md, version-1 decisions) or the scenario contract
(docs/scenario-format.md) expects. The expected figures are worked out
by hand in the test.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from domain.application import CollectionApp
from domain.errors import CommandRefused
from domain.rules.parameters import ParameterError, load_parameter
from domain.scenario import Scenario, run_scenario

CREDITOR = "4601"
DEBTOR = "D1"


def open_desk(jurisdiction: str = "NO") -> CollectionApp:
    app = CollectionApp()
    app.register_creditor(
        creditor=CREDITOR,
        name="Testkommune",
        jurisdiction=jurisdiction,
        on=date(2020, 1, 1),
        command_id="register-creditor",
    )
    app.register_debtor(
        office=CREDITOR,
        ref=DEBTOR,
        kind="person",
        jurisdiction=jurisdiction,
        on=date(2020, 1, 1),
        command_id="register-debtor",
    )
    return app


def issue(
    app: CollectionApp,
    invoice: str = "BH-1",
    amount: str = "1000.00",
    due: date = date(2024, 3, 15),
    claim_type: str = "barnehage",
) -> None:
    app.issue_invoice(
        creditor=CREDITOR,
        invoice=invoice,
        amount=Decimal(amount),
        due=due,
        claim_type=claim_type,
        debtor_ref=DEBTOR,
        on=due - timedelta(days=30),
        command_id=f"{invoice}/issue",
    )


def refused_with(command: Any, **kwargs: Any) -> str:
    with pytest.raises(CommandRefused) as refused:
        command(creditor=CREDITOR, invoice="BH-1", **kwargs)
    return refused.value.code.value


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# --- parameter files ------------------------------------------------------------------------------

HEAD = "description: Test parameter\nunit: NOK\nconfirmed_until: 2026-12-31\n"


def test_parameter_file_with_an_empty_values_field_raises_parameter_error_not_type_error(tmp_path: Path) -> None:
    path = tmp_path / "empty_values.yaml"
    path.write_text(HEAD + "values:\n", encoding="utf-8")
    with pytest.raises(ParameterError, match="empty_values"):
        load_parameter(path)


@pytest.mark.parametrize("value", ['"abc"', '"12,25"', "true", '""'])
def test_parameter_value_that_is_not_a_number_raises_parameter_error_naming_the_file(
    tmp_path: Path, value: str
) -> None:
    path = tmp_path / "not_a_number.yaml"
    path.write_text(HEAD + f'values:\n  2020-01-01: {{value: {value}, source: "s", confidence: H}}\n', encoding="utf-8")
    with pytest.raises(ParameterError, match=r"not_a_number\.yaml value 2020-01-01"):
        load_parameter(path)


def test_parameter_value_with_an_empty_source_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "no_source.yaml"
    path.write_text(HEAD + 'values:\n  2020-01-01: {value: "1", source: "  ", confidence: H}\n', encoding="utf-8")
    with pytest.raises(ParameterError, match=r"no_source\.yaml value 2020-01-01.*source"):
        load_parameter(path)


# --- the contract's order of refusals (docs/scenario-format.md) ---------------------------------------------------


def test_too_short_warning_deadline_during_a_deferral_is_refused_deadline_too_short_first() -> None:
    app = open_desk()
    issue(app)
    app.grant_deferral(
        creditor=CREDITOR, invoice="BH-1", until=date(2024, 6, 1), on=date(2024, 4, 10), command_id="deferral"
    )
    # both apply; deadline_too_short comes before deadline_not_expired in the contract's order
    assert (
        refused_with(
            app.send_notice,
            notice="inkassovarsel",
            on=date(2024, 4, 12),
            deadline=date(2024, 4, 17),
            command_id="warning",
        )
        == "deadline_too_short"
    )


def test_demand_without_any_warning_during_a_deferral_is_refused_missing_prerequisite_first() -> None:
    app = open_desk()
    issue(app)
    app.grant_deferral(
        creditor=CREDITOR, invoice="BH-1", until=date(2024, 6, 1), on=date(2024, 4, 10), command_id="deferral"
    )
    assert (
        refused_with(app.send_notice, notice="betalingsoppfordring", on=date(2024, 4, 12), command_id="demand")
        == "missing_prerequisite"
    )


def test_swedish_route_on_a_written_off_norwegian_claim_is_refused_claim_closed_first() -> None:
    app = open_desk()
    issue(app)
    app.write_off(creditor=CREDITOR, invoice="BH-1", reason="uneconomic", on=date(2024, 4, 10), command_id="write-off")
    assert (
        refused_with(
            app.request_enforcement, route="betalningsforelaggande", on=date(2024, 4, 12), command_id="enforce"
        )
        == "claim_closed"
    )


# --- amounts: money is whole øre and positive ------------------------------------------------------


@pytest.mark.parametrize("amount", ["-100.00", "0.00", "0.005"])
def test_payment_of_a_non_positive_or_sub_ore_amount_is_refused_as_invalid_input(amount: str) -> None:
    app = open_desk()
    issue(app)
    assert (
        refused_with(app.register_payment, amount=Decimal(amount), on=date(2024, 3, 1), command_id="pay")
        == "invalid_input"
    )


@pytest.mark.parametrize("amount", ["-500.00", "0.00", "0.001"])
def test_credit_note_of_a_non_positive_or_sub_ore_amount_is_refused_as_invalid_input(amount: str) -> None:
    app = open_desk()
    issue(app)
    assert (
        refused_with(app.credit_invoice, amount=Decimal(amount), on=date(2024, 3, 1), command_id="credit")
        == "invalid_input"
    )


@pytest.mark.parametrize("amount", ["-5.00", "0.00", "10.001"])
def test_invoice_of_a_non_positive_or_sub_ore_amount_is_refused_as_invalid_input(amount: str) -> None:
    app = open_desk()
    with pytest.raises(CommandRefused) as refused:
        issue(app, amount=amount)
    assert refused.value.code.value == "invalid_input"


# --- bitemporal facts -----------------------------------------------------------------------------


def test_payment_registered_after_a_later_ordered_payment_stops_interest_on_its_own_order_day() -> None:
    app = open_desk()
    issue(app)
    app.register_payment(
        creditor=CREDITOR,
        invoice="BH-1",
        amount=Decimal("100.00"),
        on=date(2024, 5, 14),
        ordered=date(2024, 5, 14),
        command_id="pay-may",
    )
    # found in the bank's returns two days later: 500 ordered on 14 April
    app.register_payment(
        creditor=CREDITOR,
        invoice="BH-1",
        amount=Decimal("500.00"),
        on=date(2024, 5, 16),
        ordered=date(2024, 4, 14),
        command_id="pay-april",
    )

    # by hand, on the real timeline at 12.50 %:
    #   16.3–14.4: 30 days on 1000.00 = 10.27 → the 500 pays 10.27 interest and 489.73 principal
    #   15.4–14.5: 30 days on  510.27 =  5.24 → the 100 pays 5.25 interest and 94.75 principal
    #   15.5–13.6: 30 days on  415.52 =  4.27                      total 19.79
    rate = Decimal("0.125")
    exact = (Decimal("1000.00") + Decimal("510.27") + Decimal("415.52")) * rate * 30 / 365
    report = app.claim_report(app.claim(CREDITOR, "BH-1"), date(2024, 6, 13))
    assert abs(Decimal(report["interest"]) - cents(exact)) <= Decimal("0.01"), report["interest"]


def test_upheld_objection_after_the_debtor_paid_under_protest_credits_the_claim_and_refunds() -> None:
    app = open_desk()
    issue(app)
    app.send_notice(
        creditor=CREDITOR,
        invoice="BH-1",
        notice="inkassovarsel",
        on=date(2024, 4, 2),
        deadline=date(2024, 4, 16),
        command_id="warning",
    )
    app.register_objection(
        creditor=CREDITOR,
        invoice="BH-1",
        on=date(2024, 4, 10),
        command_id="objection",
        text="the place was cancelled; I pay only to avoid a payment remark",
    )
    balance = Decimal(app.claim_report(app.claim(CREDITOR, "BH-1"), date(2024, 4, 12))["balance"])
    app.register_payment(
        creditor=CREDITOR, invoice="BH-1", amount=balance, on=date(2024, 4, 12), command_id="paid-under-protest"
    )

    app.resolve_objection(
        creditor=CREDITOR, invoice="BH-1", outcome="upheld", on=date(2024, 4, 20), command_id="upheld"
    )

    report = app.claim_report(app.claim(CREDITOR, "BH-1"), date(2024, 4, 20))
    assert (report["principal"], report["interest"], report["fees"]) == ("0.00", "0.00", "0.00")
    assert report["surplus"] == str(balance)  # everything paid is to be refunded


def test_late_registered_payment_within_purring_deadline_makes_the_inkassovarsel_fee_fall_away() -> None:
    report = run_scenario(
        Scenario.parse(
            {
                "scenario": "timely payment of the purring",
                "steps": [
                    {
                        "on": date(2024, 2, 15),
                        "do": "issue_invoice",
                        "invoice": "BH-1",
                        "amount": "1000.00",
                        "due": date(2024, 3, 15),
                        "claim_type": "barnehage",
                    },
                    {
                        "on": date(2024, 4, 2),
                        "do": "send_notice",
                        "invoice": "BH-1",
                        "notice": "purring",
                    },  # fee 35, 16.4
                    {"on": date(2024, 4, 17), "do": "send_notice", "invoice": "BH-1", "notice": "inkassovarsel"},
                    # the principal was ordered on 10 April, inside the purring's deadline; registered on the 25th
                    {
                        "on": date(2024, 4, 25),
                        "do": "register_payment",
                        "invoice": "BH-1",
                        "amount": "1000.00",
                        "ordered": date(2024, 4, 10),
                    },
                ],
            }
        )
    )
    # "a second fee needs the first purring's deadline to have been missed" and a late fact
    # "re-evaluates the steps taken after its effective date" (rules.md, version-1 decisions)
    codes = {(f["step"], f["code"]) for f in report["findings"]}
    assert (2, "escalated_after_timely_payment") in codes
    assert report["invoices"]["BH-1"]["fees"] == "35.00"


# --- credit notes ---------------------------------------------------------------------------------


def test_credit_note_after_an_early_part_payment_keeps_the_interest_on_the_remaining_principal() -> None:
    app = open_desk()
    issue(app)
    app.register_payment(
        creditor=CREDITOR, invoice="BH-1", amount=Decimal("900.00"), on=date(2024, 3, 25), command_id="pay"
    )
    app.credit_invoice(
        creditor=CREDITOR, invoice="BH-1", amount=Decimal("500.00"), on=date(2024, 6, 23), command_id="credit"
    )

    # the claim was really 500: interest 16.3–25.3 (10 days at 12.50 %) on 500 = 1.71, the rest of the
    # 900 paid is a surplus of 398.29 (the credited 500 never bore interest; the other 500 did)
    report = app.claim_report(app.claim(CREDITOR, "BH-1"), date(2024, 6, 23))
    assert report["interest"] == str(cents(Decimal(500) * Decimal("0.125") * 10 / 365))
    assert report["surplus"] == "398.29"
