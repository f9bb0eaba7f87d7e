"""Use cases, one story per test, through the real application (in memory) or a scenario.

Each test reads as a caseworker's day: what happened, in which order, and what the claim, the
trail and the audit say afterwards. Norway first, Sweden second.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

import domain.application
import domain.rules
from domain.application import CollectionApp
from domain.claim import Claim
from domain.errors import CommandRefused
from domain.kid import KidAlgorithm, is_valid_kid
from domain.records import Installment
from domain.rules import rules_for
from domain.rules.norway import NorwegianRules
from domain.rules.parameters import ParameterSet
from domain.scenario import Scenario, run_scenario

CREDITOR = "4601"
DEBTOR = "D1"


@dataclass
class Desk:
    """A municipality's collection desk with one debtor, in memory."""

    app: CollectionApp

    @classmethod
    def open(cls, jurisdiction: str = "NO", kind: str = "person", **creditor: Any) -> Desk:
        app = CollectionApp()
        app.register_creditor(
            creditor=CREDITOR,
            name="Testkommune",
            jurisdiction=jurisdiction,
            on=date(2020, 1, 1),
            command_id="register-creditor",
            **creditor,
        )
        app.register_debtor(
            office=CREDITOR,
            ref=DEBTOR,
            kind=kind,
            jurisdiction=jurisdiction,
            on=date(2020, 1, 1),
            command_id="register-debtor",
        )
        return cls(app)

    def invoice(self, invoice: str, amount: str, due: date, claim_type: str = "other") -> None:
        self.app.issue_invoice(
            creditor=CREDITOR,
            invoice=invoice,
            amount=Decimal(amount),
            due=due,
            claim_type=claim_type,
            debtor_ref=DEBTOR,
            on=due - timedelta(days=30),
            command_id=f"{invoice}/issue",
        )

    def notice(self, invoice: str, notice: str, on: date, deadline: date | None = None) -> None:
        self.app.send_notice(
            creditor=CREDITOR,
            invoice=invoice,
            notice=notice,
            on=on,
            deadline=deadline,
            command_id=f"{invoice}/{notice}/{on}",
        )

    def pay(self, invoice: str, amount: str, on: date, ordered: date | None = None) -> None:
        self.app.register_payment(
            creditor=CREDITOR,
            invoice=invoice,
            amount=Decimal(amount),
            on=on,
            ordered=ordered,
            command_id=f"{invoice}/pay/{on}/{amount}",
        )

    def enforce(self, invoice: str, route: str, on: date) -> None:
        self.app.request_enforcement(
            creditor=CREDITOR, invoice=invoice, route=route, on=on, command_id=f"{invoice}/{route}/{on}"
        )

    def object(self, invoice: str, on: date, text: str = "") -> None:
        self.app.register_objection(
            creditor=CREDITOR, invoice=invoice, on=on, text=text, command_id=f"{invoice}/objection/{on}"
        )

    def resolve(self, invoice: str, outcome: str, on: date, amount: str | None = None) -> None:
        self.app.resolve_objection(
            creditor=CREDITOR,
            invoice=invoice,
            outcome=outcome,
            on=on,
            amount=Decimal(amount) if amount else None,
            command_id=f"{invoice}/resolution/{on}",
        )

    def refusal(self, command: Any, **kwargs: Any) -> str:
        """The error code a command is refused with (the claim's version must not change)."""
        version = self.claim(kwargs["invoice"]).version
        with pytest.raises(CommandRefused) as refused:
            command(creditor=CREDITOR, command_id=f"refused/{len(kwargs)}/{kwargs}", **kwargs)
        assert self.claim(kwargs["invoice"]).version == version
        return refused.value.code.value

    def claim(self, invoice: str) -> Claim:
        return self.app.claim(CREDITOR, invoice)

    def report(self, invoice: str, day: date) -> dict[str, Any]:
        return self.app.claim_report(self.claim(invoice), day)

    def findings(self, invoice: str) -> list[tuple[str, str]]:
        """(code, step's command id) for every finding of the audit."""
        return [(f.code, f.command_id) for f in self.claim(invoice).audit().findings]


def scenario(steps: list[dict[str, Any]], **doc: Any) -> dict[str, Any]:
    return run_scenario(Scenario.parse({"scenario": "use case", "steps": steps, **doc}))


def findings_of(report: dict[str, Any], code: str) -> list[int]:
    return [f["step"] for f in report["findings"] if f["code"] == code]


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# --- Norwegian notices ---------------------------------------------------------------------------


def test_purring_sent_13_days_after_due_carries_no_fee() -> None:
    report = scenario(
        [
            {
                "on": date(2024, 8, 2),
                "do": "issue_invoice",
                "invoice": "SFO-1",
                "amount": "800.00",
                "due": date(2024, 9, 2),
                "claim_type": "sfo",
            },
            {"on": date(2024, 9, 15), "do": "send_notice", "invoice": "SFO-1", "notice": "purring"},
        ]
    )
    assert (report["steps"][1]["fee"], report["steps"][1]["deadline"]) == ("0.00", "2024-09-29")
    assert report["findings"] == []  # no fee where the law allows none is the law applied, not a finding
    assert report["invoices"]["SFO-1"]["fees"] == "0.00"


def test_purring_sent_14_days_after_due_carries_the_fee_and_a_14_day_deadline() -> None:
    report = scenario(
        [
            {
                "on": date(2024, 8, 2),
                "do": "issue_invoice",
                "invoice": "SFO-1",
                "amount": "800.00",
                "due": date(2024, 9, 2),
                "claim_type": "sfo",
            },
            {"on": date(2024, 9, 16), "do": "send_notice", "invoice": "SFO-1", "notice": "purring"},
        ]
    )
    assert report["steps"][1] | {"channel": None} == {
        "index": 1,
        "do": "send_notice",
        "accepted": True,
        "fee": "35.00",
        "deadline": "2024-09-30",
        "channel": None,
    }


def test_fee_cap_allows_purring_and_inkassovarsel_then_only_the_demand_fee() -> None:
    report = scenario(
        [
            {
                "on": date(2024, 8, 2),
                "do": "issue_invoice",
                "invoice": "BH-1",
                "amount": "2000.00",
                "due": date(2024, 9, 2),
                "claim_type": "barnehage",
            },
            {"on": date(2024, 9, 16), "do": "send_notice", "invoice": "BH-1", "notice": "purring"},
            {"on": date(2024, 10, 1), "do": "send_notice", "invoice": "BH-1", "notice": "inkassovarsel"},
            {"on": date(2024, 10, 16), "do": "send_notice", "invoice": "BH-1", "notice": "purring"},
            {"on": date(2024, 10, 31), "do": "send_notice", "invoice": "BH-1", "notice": "betalingsoppfordring"},
        ]
    )
    assert [s["fee"] for s in report["steps"][1:]] == ["35.00", "35.00", "0.00", "105.00"]
    assert report["invoices"]["BH-1"]["fees"] == "175.00"


def test_betalingsoppfordring_without_a_missed_warning_is_refused() -> None:
    report = scenario(
        [
            {
                "on": date(2024, 8, 2),
                "do": "issue_invoice",
                "invoice": "BH-1",
                "amount": "2000.00",
                "due": date(2024, 9, 2),
            },
            {"on": date(2024, 9, 16), "do": "send_notice", "invoice": "BH-1", "notice": "betalingsoppfordring"},
            {
                "on": date(2024, 9, 17),
                "do": "send_notice",
                "invoice": "BH-1",
                "notice": "inkassovarsel",
                "deadline": date(2024, 9, 30),
            },
            {"on": date(2024, 9, 17), "do": "send_notice", "invoice": "BH-1", "notice": "inkassovarsel"},
            {"on": date(2024, 9, 30), "do": "send_notice", "invoice": "BH-1", "notice": "betalingsoppfordring"},
            {"on": date(2024, 10, 2), "do": "send_notice", "invoice": "BH-1", "notice": "betalingsoppfordring"},
        ]
    )
    outcomes = [(s["accepted"], s.get("error", {}).get("code")) for s in report["steps"][1:]]
    assert outcomes == [
        (False, "missing_prerequisite"),
        (False, "deadline_too_short"),
        (True, None),
        (False, "deadline_not_expired"),
        (True, None),
    ]


# --- late-registered facts re-evaluate the trail ----------------------------------------------------


def test_objection_registered_late_makes_the_demand_sent_after_it_a_breach_and_its_fee_fall_away() -> None:
    report = scenario(
        [
            {
                "on": date(2024, 2, 15),
                "do": "issue_invoice",
                "invoice": "BH-7",
                "amount": "1000.00",
                "due": date(2024, 3, 15),
                "claim_type": "barnehage",
            },
            {
                "on": date(2024, 4, 2),
                "do": "send_notice",
                "invoice": "BH-7",
                "notice": "inkassovarsel",
                "deadline": date(2024, 4, 16),
            },
            {"on": date(2024, 4, 17), "do": "send_notice", "invoice": "BH-7", "notice": "betalingsoppfordring"},
            # the debtor's letter of 10 April is found in the post room on 25 April
            {
                "on": date(2024, 4, 25),
                "do": "register_objection",
                "invoice": "BH-7",
                "received": date(2024, 4, 10),
                "text": "the child did not attend in February",
            },
        ]
    )
    assert report["steps"][2]["fee"] == "105.00"  # the step stays in the trail
    assert findings_of(report, "escalated_during_objection") == [2]
    assert findings_of(report, "costs_not_recoverable") == [2]
    invoice = report["invoices"]["BH-7"]
    assert (invoice["fees"], invoice["disputed"], invoice["stage"]) == ("35.00", True, "demanded")
    assert Decimal(invoice["balance"]) == Decimal("1035.00") + Decimal(invoice["interest"])


def test_payment_registered_late_but_ordered_by_the_warning_deadline_makes_the_demand_a_breach() -> None:
    report = scenario(
        [
            {
                "on": date(2024, 2, 15),
                "do": "issue_invoice",
                "invoice": "BH-8",
                "amount": "1000.00",
                "due": date(2024, 3, 15),
                "claim_type": "barnehage",
            },
            {
                "on": date(2024, 4, 2),
                "do": "send_notice",
                "invoice": "BH-8",
                "notice": "inkassovarsel",
                "deadline": date(2024, 4, 16),
            },
            {"on": date(2024, 4, 17), "do": "send_notice", "invoice": "BH-8", "notice": "betalingsoppfordring"},
            # the bank booked it on the 19th; the payer's bank had the order on the deadline day
            {
                "on": date(2024, 4, 19),
                "do": "register_payment",
                "invoice": "BH-8",
                "amount": "1000.00",
                "ordered": date(2024, 4, 16),
            },
        ],
        report_on=date(2024, 4, 19),
    )
    assert findings_of(report, "escalated_after_timely_payment") == [2]
    assert findings_of(report, "costs_not_recoverable") == [2]
    invoice = report["invoices"]["BH-8"]
    assert (invoice["fees"], invoice["paid"]) == ("35.00", "1000.00")
    # the payment covered the principal; the inkassovarsel fee and the interest remain
    assert Decimal(invoice["balance"]) == Decimal("35.00") + Decimal(invoice["interest"])


def test_payment_ordered_after_the_warning_deadline_leaves_the_demand_standing() -> None:
    report = scenario(
        [
            {
                "on": date(2024, 2, 15),
                "do": "issue_invoice",
                "invoice": "BH-9",
                "amount": "1000.00",
                "due": date(2024, 3, 15),
                "claim_type": "barnehage",
            },
            {
                "on": date(2024, 4, 2),
                "do": "send_notice",
                "invoice": "BH-9",
                "notice": "inkassovarsel",
                "deadline": date(2024, 4, 16),
            },
            {"on": date(2024, 4, 17), "do": "send_notice", "invoice": "BH-9", "notice": "betalingsoppfordring"},
            {
                "on": date(2024, 4, 19),
                "do": "register_payment",
                "invoice": "BH-9",
                "amount": "1000.00",
                "ordered": date(2024, 4, 17),
            },
        ]
    )
    assert findings_of(report, "escalated_after_timely_payment") == []
    assert report["invoices"]["BH-9"]["fees"] == "140.00"


def test_death_registered_late_flags_notices_sent_after_it_and_stops_all_further_collection() -> None:
    report = scenario(
        [
            {
                "on": date(2024, 2, 15),
                "do": "issue_invoice",
                "invoice": "HO-1",
                "amount": "1000.00",
                "due": date(2024, 3, 15),
                "claim_type": "helse_omsorg",
            },
            {"on": date(2024, 4, 2), "do": "send_notice", "invoice": "HO-1", "notice": "purring"},
            {
                "on": date(2024, 4, 20),
                "do": "send_notice",
                "invoice": "HO-1",
                "notice": "inkassovarsel",
                "deadline": date(2024, 5, 6),
            },
            # the population register reports on 2 May that the debtor died on 10 April
            {"on": date(2024, 5, 2), "do": "register_death", "debtor": "D1", "died": date(2024, 4, 10)},
            {"on": date(2024, 5, 10), "do": "send_notice", "invoice": "HO-1", "notice": "betalingsoppfordring"},
            {"on": date(2024, 5, 10), "do": "send_notice", "invoice": "HO-1", "notice": "purring"},
            {"on": date(2024, 5, 10), "do": "request_enforcement", "invoice": "HO-1", "route": "forliksklage"},
        ]
    )
    assert findings_of(report, "contact_after_death") == [2]  # not the purring of 2 April
    assert findings_of(report, "costs_not_recoverable") == [2]
    assert [s["error"]["code"] for s in report["steps"][4:]] == ["debtor_deceased"] * 3
    assert report["invoices"]["HO-1"]["fees"] == "35.00"
    assert report["debtors"]["D1"]["deceased"] == "2024-04-10"


def test_two_proklama_publications_set_the_estate_deadline_six_weeks_after_the_last() -> None:
    report = scenario(
        [
            {
                "on": date(2024, 2, 15),
                "do": "issue_invoice",
                "invoice": "BH-1",
                "amount": "1000.00",
                "due": date(2024, 3, 15),
                "claim_type": "barnehage",
            },
            {
                "on": date(2024, 2, 15),
                "do": "issue_invoice",
                "invoice": "VA-1",
                "amount": "3000.00",
                "due": date(2024, 3, 15),
                "claim_type": "kommunale_avgifter",
            },
            {"on": date(2024, 5, 2), "do": "register_death", "debtor": "D1", "died": date(2024, 4, 10)},
            {"on": date(2024, 5, 16), "do": "register_proklama", "debtor": "D1", "published": date(2024, 5, 15)},
            {"on": date(2024, 5, 23), "do": "register_proklama", "debtor": "D1", "published": date(2024, 5, 22)},
        ],
        report_on=date(2024, 7, 4),
    )
    assert report["steps"][3]["estate_report_deadline"] == "2024-06-26"
    assert report["steps"][4]["estate_report_deadline"] == "2024-07-03"
    assert report["debtors"]["D1"]["estate_report_deadline"] == "2024-07-03"
    assert report["invoices"]["BH-1"]["estate_report_deadline"] == "2024-07-03"
    # not reported by the deadline: the barnehage claim lapses, the lien-secured water fee survives
    assert report["invoices"]["BH-1"]["estate_status"] == "precluded"
    assert report["invoices"]["VA-1"]["estate_status"] == "lien_survives"


def test_proklama_registered_out_of_order_keeps_the_deadline_from_the_last_publication() -> None:
    desk = Desk.open()
    desk.invoice("BH-1", "1000.00", due=date(2024, 3, 15))
    desk.app.register_death(
        office=CREDITOR, debtor_ref=DEBTOR, died=date(2024, 4, 10), on=date(2024, 5, 2), command_id="death"
    )
    second = desk.app.register_proklama(
        office=CREDITOR, debtor_ref=DEBTOR, published=date(2024, 5, 22), on=date(2024, 5, 23), command_id="proklama-2"
    )
    first = desk.app.register_proklama(
        office=CREDITOR, debtor_ref=DEBTOR, published=date(2024, 5, 15), on=date(2024, 5, 24), command_id="proklama-1"
    )
    assert second == first == date(2024, 7, 3)
    assert desk.app.debtor(CREDITOR, DEBTOR).estate_report_deadline == date(2024, 7, 3)
    assert desk.report("BH-1", date(2024, 5, 24))["estate_report_deadline"] == "2024-07-03"


def test_claim_reported_to_the_estate_in_time_is_reported_not_precluded() -> None:
    desk = Desk.open()
    desk.invoice("BH-1", "1000.00", due=date(2024, 3, 15), claim_type="barnehage")
    desk.app.register_death(
        office=CREDITOR, debtor_ref=DEBTOR, died=date(2024, 4, 10), on=date(2024, 5, 2), command_id="death"
    )
    desk.app.register_proklama(
        office=CREDITOR, debtor_ref=DEBTOR, published=date(2024, 5, 15), on=date(2024, 5, 16), command_id="proklama-1"
    )
    assert desk.report("BH-1", date(2024, 5, 16))["estate_status"] == "to_report"
    desk.app.report_to_estate(creditor=CREDITOR, invoice="BH-1", on=date(2024, 6, 1), command_id="report")
    assert desk.report("BH-1", date(2024, 7, 1))["estate_status"] == "reported"


# --- objections and complaints --------------------------------------------------------------------


def escalated_to_enforcement(desk: Desk, invoice: str) -> None:
    desk.invoice(invoice, "1000.00", due=date(2024, 3, 15), claim_type="barnehage")
    desk.notice(invoice, "inkassovarsel", on=date(2024, 4, 2), deadline=date(2024, 4, 16))
    desk.notice(invoice, "betalingsoppfordring", on=date(2024, 4, 17), deadline=date(2024, 5, 1))
    desk.enforce(invoice, "utleggsbegjaering", on=date(2024, 5, 2))


def test_complaint_decided_as_breach_removes_all_fees_and_costs_but_keeps_principal_and_interest() -> None:
    desk = Desk.open()
    escalated_to_enforcement(desk, "BH-1")
    before = desk.report("BH-1", date(2024, 6, 10))
    assert (before["fees"], before["costs"]) == ("140.00", "1545.00")

    desk.app.file_complaint(creditor=CREDITOR, invoice="BH-1", on=date(2024, 5, 10), command_id="complaint")
    desk.app.decide_complaint(
        creditor=CREDITOR, invoice="BH-1", outcome="breach", on=date(2024, 6, 10), command_id="decision"
    )

    after = desk.report("BH-1", date(2024, 6, 10))
    assert (after["fees"], after["costs"]) == ("0.00", "0.00")
    assert (after["principal"], after["interest"]) == (before["principal"], before["interest"])
    assert Decimal(after["balance"]) == Decimal("1000.00") + Decimal(after["interest"])
    assert ("complaint_breach", "complaint") in desk.findings("BH-1")


def test_complaint_decided_as_no_breach_keeps_the_costs() -> None:
    desk = Desk.open()
    escalated_to_enforcement(desk, "BH-1")
    desk.app.file_complaint(creditor=CREDITOR, invoice="BH-1", on=date(2024, 5, 10), command_id="complaint")
    desk.app.decide_complaint(
        creditor=CREDITOR, invoice="BH-1", outcome="no_breach", on=date(2024, 6, 10), command_id="decision"
    )
    report = desk.report("BH-1", date(2024, 6, 10))
    assert (report["fees"], report["costs"]) == ("140.00", "1545.00")


def test_complaint_breach_after_the_debtor_paid_everything_turns_the_costs_into_a_surplus() -> None:
    desk = Desk.open()
    escalated_to_enforcement(desk, "BH-1")
    owed = Decimal(desk.report("BH-1", date(2024, 5, 6))["balance"])
    desk.pay("BH-1", str(owed), on=date(2024, 5, 6))
    desk.app.file_complaint(creditor=CREDITOR, invoice="BH-1", on=date(2024, 5, 10), command_id="complaint")
    desk.app.decide_complaint(
        creditor=CREDITOR, invoice="BH-1", outcome="breach", on=date(2024, 6, 10), command_id="decision"
    )
    report = desk.report("BH-1", date(2024, 6, 10))
    assert report["surplus"] == "1685.00"  # 140 in fees + 1545 in court fees, to be refunded
    assert (report["balance"], report["status"]) == ("0.00", "paid")


def test_objection_upheld_credits_the_whole_principal_and_removes_the_costs() -> None:
    desk = Desk.open()
    desk.invoice("BH-2", "1000.00", due=date(2024, 3, 15), claim_type="barnehage")
    desk.notice("BH-2", "inkassovarsel", on=date(2024, 4, 2), deadline=date(2024, 4, 16))
    desk.object("BH-2", on=date(2024, 4, 10), text="the place was cancelled in January")
    assert (
        desk.refusal(desk.app.send_notice, invoice="BH-2", notice="betalingsoppfordring", on=date(2024, 4, 17))
        == "objection_pending"
    )

    desk.resolve("BH-2", "upheld", on=date(2024, 4, 20))

    report = desk.report("BH-2", date(2024, 4, 20))
    assert {k: report[k] for k in ("principal", "interest", "fees", "costs", "balance")} == {
        "principal": "0.00",
        "interest": "0.00",
        "fees": "0.00",
        "costs": "0.00",
        "balance": "0.00",
    }
    assert ("costs_not_recoverable", "BH-2/inkassovarsel/2024-04-02") in desk.findings("BH-2")


def test_objection_upheld_in_part_credits_that_amount_and_removes_the_costs() -> None:
    desk = Desk.open()
    desk.invoice("BH-3", "1000.00", due=date(2024, 3, 15), claim_type="barnehage")
    desk.notice("BH-3", "inkassovarsel", on=date(2024, 4, 2), deadline=date(2024, 4, 16))
    desk.object("BH-3", on=date(2024, 4, 10))
    desk.resolve("BH-3", "upheld", on=date(2024, 4, 20), amount="400.00")
    report = desk.report("BH-3", date(2024, 4, 20))
    assert (report["principal"], report["fees"], report["disputed"]) == ("600.00", "0.00", False)
    # the credited 400 never bore interest: 36 days of 12.50 % on the remaining 600
    assert report["interest"] == str(cents(Decimal(600) * Decimal("0.125") * 36 / 365))


def test_objection_found_unfounded_lets_collection_resume_with_its_costs() -> None:
    desk = Desk.open()
    desk.invoice("BH-4", "1000.00", due=date(2024, 3, 15), claim_type="barnehage")
    desk.notice("BH-4", "inkassovarsel", on=date(2024, 4, 2), deadline=date(2024, 4, 16))
    desk.object("BH-4", on=date(2024, 4, 10))
    desk.resolve("BH-4", "unfounded", on=date(2024, 4, 20))

    desk.notice("BH-4", "betalingsoppfordring", on=date(2024, 4, 22))

    report = desk.report("BH-4", date(2024, 4, 22))
    assert (report["fees"], report["disputed"], report["stage"]) == ("140.00", False, "demanded")
    assert desk.findings("BH-4") == []


def test_objection_maintained_leaves_only_the_court_route_and_the_earlier_fees_fall_away() -> None:
    desk = Desk.open()
    desk.invoice("BH-5", "1000.00", due=date(2024, 3, 15), claim_type="barnehage")
    desk.notice("BH-5", "inkassovarsel", on=date(2024, 4, 2), deadline=date(2024, 4, 16))
    desk.object("BH-5", on=date(2024, 4, 10))
    desk.resolve("BH-5", "maintained", on=date(2024, 4, 20))

    assert (
        desk.refusal(desk.app.send_notice, invoice="BH-5", notice="betalingsoppfordring", on=date(2024, 4, 22))
        == "claim_disputed"
    )
    assert (
        desk.refusal(desk.app.request_enforcement, invoice="BH-5", route="utleggsbegjaering", on=date(2024, 4, 22))
        == "claim_disputed"
    )
    desk.enforce("BH-5", "forliksklage", on=date(2024, 4, 22))

    report = desk.report("BH-5", date(2024, 4, 22))
    assert (report["fees"], report["costs"], report["disputed"]) == ("0.00", "1404.00", True)


# --- deferrals, plans and limitation ----------------------------------------------------------------


def test_deferral_asked_for_by_the_debtor_starts_three_new_years_and_pauses_escalation() -> None:
    desk = Desk.open()
    desk.invoice("BH-1", "1000.00", due=date(2024, 3, 15), claim_type="barnehage")
    desk.notice("BH-1", "inkassovarsel", on=date(2024, 4, 2), deadline=date(2024, 4, 16))
    assert desk.report("BH-1", date(2024, 4, 2))["limitation_date"] == "2027-03-15"

    desk.app.grant_deferral(
        creditor=CREDITOR, invoice="BH-1", until=date(2024, 6, 1), on=date(2024, 4, 10), command_id="deferral"
    )

    # 10 April 2027 is a Saturday: the period runs to Monday 12 April
    assert desk.report("BH-1", date(2024, 4, 10))["limitation_date"] == "2027-04-12"
    for day in (date(2024, 5, 2), date(2024, 6, 1)):
        assert (
            desk.refusal(desk.app.send_notice, invoice="BH-1", notice="betalingsoppfordring", on=day)
            == "deadline_not_expired"
        )
    desk.notice("BH-1", "betalingsoppfordring", on=date(2024, 6, 3))
    assert desk.report("BH-1", date(2024, 6, 3))["stage"] == "demanded"


def test_deferral_granted_on_the_municipalitys_own_motion_does_not_interrupt_limitation() -> None:
    desk = Desk.open()
    desk.invoice("BH-1", "1000.00", due=date(2024, 3, 15), claim_type="barnehage")
    desk.app.grant_deferral(
        creditor=CREDITOR,
        invoice="BH-1",
        until=date(2024, 6, 1),
        on=date(2024, 4, 10),
        requested_by_debtor=False,
        command_id="deferral",
    )
    assert desk.report("BH-1", date(2024, 4, 10))["limitation_date"] == "2027-03-15"


def test_payment_plan_interrupts_limitation_pauses_escalation_and_a_missed_instalment_resumes_it() -> None:
    desk = Desk.open()
    desk.invoice("BH-1", "1000.00", due=date(2024, 3, 15), claim_type="barnehage")
    desk.notice("BH-1", "inkassovarsel", on=date(2024, 4, 2), deadline=date(2024, 4, 16))
    desk.app.agree_payment_plan(
        creditor=CREDITOR,
        invoice="BH-1",
        on=date(2024, 4, 20),
        command_id="plan",
        installments=[
            Installment(date(2024, 5, 2), Decimal("400.00")),
            Installment(date(2024, 6, 3), Decimal("400.00")),
            Installment(date(2024, 7, 1), Decimal("300.00")),
        ],
    )
    assert desk.report("BH-1", date(2024, 4, 20))["limitation_date"] == "2027-04-20"

    desk.pay("BH-1", "400.00", on=date(2024, 5, 2))
    assert (
        desk.refusal(desk.app.send_notice, invoice="BH-1", notice="betalingsoppfordring", on=date(2024, 5, 10))
        == "deadline_not_expired"
    )

    # the second instalment (3 June) is not paid; the case flow notices it the next day
    runs = desk.app.run_policies(
        creditor=CREDITOR, invoices=["BH-1"], start=date(2024, 5, 3), until=date(2024, 6, 30), command_id="flow"
    )

    assert [(r.day, r.action.name, r.accepted) for r in runs] == [
        (date(2024, 6, 4), "betalingsoppfordring", True),
        (date(2024, 6, 19), "utleggsbegjaering", True),
    ]
    assert desk.claim("BH-1").plan_breached


def test_kept_payment_plan_lets_the_case_flow_send_nothing() -> None:
    desk = Desk.open()
    desk.invoice("BH-1", "1000.00", due=date(2024, 3, 15), claim_type="barnehage")
    desk.notice("BH-1", "inkassovarsel", on=date(2024, 4, 2), deadline=date(2024, 4, 16))
    desk.app.agree_payment_plan(
        creditor=CREDITOR,
        invoice="BH-1",
        on=date(2024, 4, 20),
        command_id="plan",
        installments=[
            Installment(date(2024, 5, 2), Decimal("500.00")),
            Installment(date(2024, 6, 3), Decimal("600.00")),
        ],
    )
    desk.pay("BH-1", "500.00", on=date(2024, 5, 2))
    desk.pay("BH-1", "600.00", on=date(2024, 6, 3))
    runs = desk.app.run_policies(
        creditor=CREDITOR, invoices=["BH-1"], start=date(2024, 4, 20), until=date(2024, 6, 30), command_id="flow"
    )
    assert runs == []
    assert not desk.claim("BH-1").plan_breached


def test_part_payment_is_an_acknowledgement_that_starts_three_new_years() -> None:
    desk = Desk.open()
    desk.invoice("BH-1", "1000.00", due=date(2024, 3, 15))
    desk.pay("BH-1", "300.00", on=date(2025, 6, 2))
    assert desk.report("BH-1", date(2025, 6, 2))["limitation_date"] == "2028-06-02"


def test_notices_never_interrupt_norwegian_limitation() -> None:
    desk = Desk.open()
    desk.invoice("BH-1", "1000.00", due=date(2024, 3, 15))
    desk.notice("BH-1", "purring", on=date(2024, 4, 2))
    desk.notice("BH-1", "inkassovarsel", on=date(2024, 4, 17))
    desk.notice("BH-1", "betalingsoppfordring", on=date(2024, 5, 2))
    assert desk.report("BH-1", date(2024, 5, 2))["limitation_date"] == "2027-03-15"


@pytest.mark.parametrize("route", ["utleggstrekk", "utleggsforretning"])
def test_saernamsmann_step_on_a_water_fee_starts_a_ten_year_period(route: str) -> None:
    desk = Desk.open()
    desk.invoice("VA-1", "3000.00", due=date(2024, 3, 15), claim_type="kommunale_avgifter")
    desk.notice("VA-1", "inkassovarsel", on=date(2024, 4, 2), deadline=date(2024, 4, 16))
    desk.notice("VA-1", "betalingsoppfordring", on=date(2024, 4, 17), deadline=date(2024, 5, 1))

    desk.enforce("VA-1", route, on=date(2024, 5, 2))

    report = desk.report("VA-1", date(2024, 5, 2))
    assert (report["limitation_date"], report["costs"]) == ("2034-05-02", "0.00")
    assert report["stage"] == "enforcement"


def test_utleggsbegjaering_to_the_namsmann_starts_only_three_new_years() -> None:
    desk = Desk.open()
    escalated_to_enforcement(desk, "BH-1")
    # 2 May 2027 is a Sunday
    assert desk.report("BH-1", date(2024, 5, 2))["limitation_date"] == "2027-05-03"


def test_saernamsmann_route_is_not_available_for_a_kindergarten_claim() -> None:
    desk = Desk.open()
    desk.invoice("BH-1", "1000.00", due=date(2024, 3, 15), claim_type="barnehage")
    desk.notice("BH-1", "inkassovarsel", on=date(2024, 4, 2), deadline=date(2024, 4, 16))
    desk.notice("BH-1", "betalingsoppfordring", on=date(2024, 4, 17), deadline=date(2024, 5, 1))
    assert (
        desk.refusal(desk.app.request_enforcement, invoice="BH-1", route="utleggstrekk", on=date(2024, 5, 2))
        == "route_not_available"
    )


def test_judgment_starts_ten_years_from_the_day_it_was_given() -> None:
    desk = Desk.open()
    escalated_to_enforcement(desk, "BH-1")
    desk.app.register_judgment(
        creditor=CREDITOR, invoice="BH-1", on=date(2024, 9, 2), decided=date(2024, 8, 30), command_id="judgment"
    )
    report = desk.report("BH-1", date(2024, 9, 2))
    assert (report["limitation_date"], report["stage"]) == ("2034-08-30", "judgment")


# --- Sweden -------------------------------------------------------------------------------------------


def test_swedish_inkassokrav_interrupts_limitation_with_a_new_three_year_period_for_a_person() -> None:
    desk = Desk.open("SE")
    desk.invoice("VA-1", "1000.00", due=date(2024, 3, 15), claim_type="va")
    assert desk.report("VA-1", date(2024, 3, 15))["limitation_date"] == "2027-03-15"

    desk.notice("VA-1", "inkassokrav", on=date(2024, 4, 2))

    report = desk.report("VA-1", date(2024, 4, 2))
    assert (report["limitation_date"], report["fees"], report["stage"]) == ("2027-04-02", "180.00", "warned")


def test_swedish_claim_against_an_organisation_has_ten_years_and_an_inkassokrav_starts_ten_new() -> None:
    desk = Desk.open("SE", kind="organisation")
    desk.invoice("LH-1", "25000.00", due=date(2024, 3, 15), claim_type="lokalhyra")
    assert desk.report("LH-1", date(2024, 3, 15))["limitation_date"] == "2034-03-15"

    desk.notice("LH-1", "inkassokrav", on=date(2024, 4, 2))

    # 2 April 2034 is a Sunday
    assert desk.report("LH-1", date(2024, 4, 2))["limitation_date"] == "2034-04-03"


def test_swedish_paminnelse_also_interrupts_limitation_and_carries_no_fee_without_an_agreement() -> None:
    desk = Desk.open("SE")
    desk.invoice("BO-1", "1000.00", due=date(2024, 3, 15), claim_type="barnomsorg")
    desk.notice("BO-1", "paminnelse", on=date(2024, 3, 25))
    report = desk.report("BO-1", date(2024, 3, 25))
    assert (report["limitation_date"], report["fees"], report["stage"]) == ("2027-03-25", "0.00", "reminded")


def test_swedish_paminnelse_carries_sixty_kronor_where_the_creditor_has_the_agreement() -> None:
    report = scenario(
        [
            {
                "on": date(2024, 2, 15),
                "do": "issue_invoice",
                "invoice": "BO-1",
                "amount": "1000.00",
                "due": date(2024, 3, 15),
                "claim_type": "barnomsorg",
            },
            {"on": date(2024, 3, 25), "do": "send_notice", "invoice": "BO-1", "notice": "paminnelse"},
            {"on": date(2024, 4, 5), "do": "send_notice", "invoice": "BO-1", "notice": "paminnelse"},
        ],
        jurisdiction="SE",
        policy={"reminder_fee_agreed": True},
    )
    assert [s["fee"] for s in report["steps"][1:]] == ["60.00", "0.00"]


def test_swedish_payment_interrupts_limitation() -> None:
    desk = Desk.open("SE")
    desk.invoice("VA-1", "1000.00", due=date(2024, 3, 15), claim_type="va")
    desk.pay("VA-1", "100.00", on=date(2025, 1, 10))
    assert desk.report("VA-1", date(2025, 1, 10))["limitation_date"] == "2028-01-10"


def test_swedish_betalningsforelaggande_needs_the_inkassokrav_deadline_to_have_passed() -> None:
    desk = Desk.open("SE")
    desk.invoice("VA-1", "1000.00", due=date(2024, 3, 15), claim_type="va")
    assert (
        desk.refusal(
            desk.app.send_notice, invoice="VA-1", notice="inkassokrav", on=date(2024, 4, 2), deadline=date(2024, 4, 9)
        )
        == "deadline_too_short"
    )
    desk.notice("VA-1", "inkassokrav", on=date(2024, 4, 2))  # eight days: 10 April
    assert (
        desk.refusal(desk.app.request_enforcement, invoice="VA-1", route="betalningsforelaggande", on=date(2024, 4, 10))
        == "deadline_not_expired"
    )
    desk.enforce("VA-1", "betalningsforelaggande", on=date(2024, 4, 11))
    assert desk.report("VA-1", date(2024, 4, 11))["costs"] == "300.00"


# --- the default case flows ---------------------------------------------------------------------------


def test_norwegian_default_flow_escalates_to_the_demand_about_45_days_after_due_and_then_enforces() -> None:
    desk = Desk.open()
    desk.invoice("BH-1", "1000.00", due=date(2024, 9, 2), claim_type="barnehage")

    runs = desk.app.run_policies(
        creditor=CREDITOR, invoices=["BH-1"], start=date(2024, 9, 2), until=date(2024, 12, 31), command_id="flow"
    )

    assert [(r.day, r.action.name, r.action.deadline, r.accepted) for r in runs] == [
        (date(2024, 9, 16), "purring", date(2024, 9, 30), True),
        (date(2024, 10, 1), "inkassovarsel", date(2024, 10, 15), True),
        (date(2024, 10, 16), "betalingsoppfordring", date(2024, 10, 30), True),
        (date(2024, 10, 31), "utleggsbegjaering", None, True),
    ]
    assert (date(2024, 10, 16) - date(2024, 9, 2)).days == 44
    report = desk.report("BH-1", date(2024, 12, 31))
    assert (report["fees"], report["costs"], report["stage"]) == ("175.00", "1545.00", "enforcement")


def test_norwegian_default_flow_skips_weekends_and_easter() -> None:
    desk = Desk.open()
    desk.invoice("BH-1", "1000.00", due=date(2024, 3, 15), claim_type="barnehage")
    runs = desk.app.run_policies(
        creditor=CREDITOR, invoices=["BH-1"], start=date(2024, 3, 15), until=date(2024, 6, 30), command_id="flow"
    )
    # 29 March is Good Friday and 1 April Easter Monday; 17 and 20 May are public holidays
    assert [(r.day, r.action.name) for r in runs] == [
        (date(2024, 4, 2), "purring"),
        (date(2024, 4, 17), "inkassovarsel"),
        (date(2024, 5, 2), "betalingsoppfordring"),
        (date(2024, 5, 21), "utleggsbegjaering"),
    ]


def test_norwegian_default_flow_uses_utleggstrekk_for_a_lien_secured_claim() -> None:
    desk = Desk.open()
    desk.invoice("VA-1", "3000.00", due=date(2024, 9, 2), claim_type="kommunale_avgifter")
    runs = desk.app.run_policies(
        creditor=CREDITOR, invoices=["VA-1"], start=date(2024, 9, 2), until=date(2024, 12, 31), command_id="flow"
    )
    assert runs[-1].action.name == "utleggstrekk" and runs[-1].accepted
    assert desk.report("VA-1", date(2024, 12, 31))["limitation_date"] == "2034-10-31"


def test_swedish_default_flow_reminds_without_fee_then_sends_an_inkassokrav_and_skips_small_claims() -> None:
    desk = Desk.open("SE")
    desk.invoice("BO-1", "1000.00", due=date(2024, 9, 2), claim_type="barnomsorg")
    desk.invoice("BO-2", "40.00", due=date(2024, 9, 2), claim_type="barnomsorg")

    runs = desk.app.run_policies(
        creditor=CREDITOR,
        invoices=["BO-1", "BO-2"],
        start=date(2024, 9, 2),
        until=date(2024, 11, 30),
        command_id="flow",
    )

    assert [(r.day, r.invoice, r.action.name, r.action.deadline, r.accepted) for r in runs] == [
        (date(2024, 9, 9), "BO-1", "paminnelse", date(2024, 9, 19), True),
        (date(2024, 9, 20), "BO-1", "inkassokrav", date(2024, 9, 30), True),
        (date(2024, 10, 1), "BO-1", "betalningsforelaggande", None, True),
    ]
    notices = desk.claim("BO-1").facts.notices
    assert [(n.notice, n.fee) for n in notices] == [("paminnelse", Decimal("0.00")), ("inkassokrav", Decimal("180.00"))]
    assert desk.claim("BO-2").facts.notices == []
    assert desk.report("BO-1", date(2024, 11, 30))["costs"] == "300.00"


def test_case_flow_sends_nothing_to_a_paid_claim() -> None:
    desk = Desk.open()
    desk.invoice("BH-1", "1000.00", due=date(2024, 9, 2))
    desk.pay("BH-1", "1000.00", on=date(2024, 9, 2))
    runs = desk.app.run_policies(
        creditor=CREDITOR, invoices=["BH-1"], start=date(2024, 9, 2), until=date(2024, 12, 31), command_id="flow"
    )
    assert runs == []
    assert desk.report("BH-1", date(2024, 12, 31))["status"] == "paid"


# --- closing, idempotency, history ----------------------------------------------------------------------


def test_written_off_claim_refuses_every_further_collection_command_as_closed() -> None:
    desk = Desk.open()
    desk.invoice("BH-1", "1000.00", due=date(2024, 3, 15), claim_type="barnehage")
    desk.notice("BH-1", "inkassovarsel", on=date(2024, 4, 2), deadline=date(2024, 4, 16))
    desk.app.write_off(
        creditor=CREDITOR, invoice="BH-1", reason="uneconomic", on=date(2024, 5, 3), command_id="write-off"
    )

    report = desk.report("BH-1", date(2024, 5, 3))
    assert report["status"] == "written_off"
    assert report["written_off"] == report["balance"]
    day = date(2024, 5, 6)
    refusals = {
        "notice": desk.refusal(desk.app.send_notice, invoice="BH-1", notice="betalingsoppfordring", on=day),
        "enforcement": desk.refusal(desk.app.request_enforcement, invoice="BH-1", route="forliksklage", on=day),
        "objection": desk.refusal(desk.app.register_objection, invoice="BH-1", on=day),
        "credit": desk.refusal(desk.app.credit_invoice, invoice="BH-1", amount=Decimal("10.00"), on=day),
        "deferral": desk.refusal(desk.app.grant_deferral, invoice="BH-1", until=date(2024, 6, 6), on=day),
        "plan": desk.refusal(
            desk.app.agree_payment_plan,
            invoice="BH-1",
            on=day,
            installments=[Installment(date(2024, 6, 6), Decimal("100.00"))],
        ),
        "judgment": desk.refusal(desk.app.register_judgment, invoice="BH-1", on=day),
        "write-off": desk.refusal(desk.app.write_off, invoice="BH-1", reason="other", on=day),
    }
    assert set(refusals.values()) == {"claim_closed"}, refusals
    assert (
        desk.app.run_policies(
            creditor=CREDITOR, invoices=["BH-1"], start=day, until=date(2024, 8, 1), command_id="flow"
        )
        == []
    )


def test_repeating_a_command_with_the_same_command_id_changes_nothing() -> None:
    desk = Desk.open()
    desk.invoice("BH-1", "1000.00", due=date(2024, 3, 15), claim_type="barnehage")
    commands = [
        lambda: desk.app.register_payment(
            creditor=CREDITOR, invoice="BH-1", amount=Decimal("100.00"), on=date(2024, 4, 1), command_id="pay-1"
        ),
        lambda: desk.app.send_notice(
            creditor=CREDITOR, invoice="BH-1", notice="inkassovarsel", on=date(2024, 4, 2), command_id="warn-1"
        ),
        lambda: desk.app.send_notice(
            creditor=CREDITOR,
            invoice="BH-1",
            notice="betalingsoppfordring",
            on=date(2024, 4, 17),
            command_id="demand-1",
        ),
        lambda: desk.app.request_enforcement(
            creditor=CREDITOR, invoice="BH-1", route="utleggsbegjaering", on=date(2024, 5, 2), command_id="enforce-1"
        ),
        lambda: desk.app.issue_invoice(
            creditor=CREDITOR,
            invoice="BH-1",
            amount=Decimal("1000.00"),
            due=date(2024, 3, 15),
            claim_type="barnehage",
            debtor_ref=DEBTOR,
            on=date(2024, 2, 14),
            command_id="BH-1/issue",
        ),
    ]
    for command in commands:
        command()
        done = desk.claim("BH-1")
        command()  # redelivered
        again = desk.claim("BH-1")
        assert again.version == done.version
        assert desk.app.claim_report(again, date(2024, 6, 1)) == desk.app.claim_report(done, date(2024, 6, 1))
    assert desk.report("BH-1", date(2024, 6, 1))["paid"] == "100.00"


def test_repeating_a_registered_death_changes_nothing() -> None:
    desk = Desk.open()
    desk.invoice("BH-1", "1000.00", due=date(2024, 3, 15))
    for _ in range(2):
        desk.app.register_death(
            office=CREDITOR, debtor_ref=DEBTOR, died=date(2024, 4, 10), on=date(2024, 5, 2), command_id="death"
        )
    assert desk.claim("BH-1").version == 2
    assert desk.app.debtor(CREDITOR, DEBTOR).died == date(2024, 4, 10)


def test_later_change_of_the_interest_rate_file_does_not_rewrite_a_recorded_payment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = Desk.open()
    desk.invoice("VA-1", "10000.00", due=date(2025, 5, 15), claim_type="kommunale_avgifter")
    desk.pay("VA-1", "5000.00", on=date(2025, 8, 14))
    recorded = desk.report("VA-1", date(2025, 8, 14))
    assert recorded["interest"] == "308.56"  # 46 days at 12.50 % and 45 at 12.25 % on 10 000

    # An operator later corrects the 2025 H2 rate from 12.25 to 14.00 percent.
    shutil.copytree(Path(domain.rules.__file__).parent / "no" / "parameters", tmp_path / "parameters")
    rate_file = tmp_path / "parameters" / "forsinkelsesrente.yaml"
    corrected_text = rate_file.read_text(encoding="utf-8").replace('"12.25"', '"14.00"')
    rate_file.write_text(corrected_text, encoding="utf-8")
    corrected = NorwegianRules(ParameterSet(tmp_path / "parameters"))
    original = rules_for("NO")
    monkeypatch.setattr(domain.application, "rules_for", lambda j: corrected if j == "NO" else rules_for(j))
    assert corrected.version != original.version
    assert corrected.params.value("forsinkelsesrente", date(2025, 8, 14)) == Decimal("14.00")

    replayed = desk.claim("VA-1")  # loaded fresh from the event store
    assert desk.app.claim_report(replayed, date(2025, 8, 14)) == recorded
    [payment] = [e for e in desk.app.events.get(replayed.id) if isinstance(e, Claim.PaymentRegistered)]
    assert payment.allocation["interest"] == Decimal("308.56")
    assert payment.allocation["principal"] == Decimal("4691.44")
    assert payment.rule_version == original.version
    # only days after the recorded payment use the corrected rate: 30 days of 14 % on 5308.56, added
    # to the exact interest recorded with the payment
    recorded_exact = Decimal(10000) * (Decimal("0.125") * 46 + Decimal("0.1225") * 45) / 365
    later = desk.app.claim_report(replayed, date(2025, 9, 13))
    assert later["interest"] == str(cents(recorded_exact + Decimal("5308.56") * Decimal("0.14") * 30 / 365))


def test_issued_claim_carries_a_valid_mod10_kid_starting_with_the_municipality_number() -> None:
    desk = Desk.open()
    desk.invoice("100234", "1000.00", due=date(2024, 3, 15))
    kid = desk.claim("100234").kid
    assert is_valid_kid(kid, KidAlgorithm.MOD10)
    assert (len(kid), kid[:4]) == (15, CREDITOR)
    assert desk.report("100234", date(2024, 3, 15))["kid"] == kid


def test_creditor_with_a_mod11_agreement_gets_valid_mod11_kids() -> None:
    desk = Desk.open(kid_algorithm="MOD11", kid_length=12)
    for n in range(20):
        desk.invoice(f"INV-{n}", "100.00", due=date(2024, 3, 15))
        kid = desk.claim(f"INV-{n}").kid
        assert is_valid_kid(kid, KidAlgorithm.MOD11) and len(kid) == 12 and not kid.endswith("-")


def test_a_lawful_paminnelse_without_a_fee_is_not_a_finding() -> None:
    report = scenario(
        [
            {
                "on": date(2025, 3, 1),
                "do": "issue_invoice",
                "invoice": "BO-1",
                "amount": "1500.00",
                "due": date(2025, 3, 31),
                "claim_type": "barnomsorg",
            },
            {"on": date(2025, 4, 1), "do": "send_notice", "invoice": "BO-1", "notice": "paminnelse"},
        ],
        jurisdiction="SE",
    )
    assert (report["steps"][1]["accepted"], report["steps"][1]["fee"]) == (True, "0.00")
    assert report["findings"] == []
