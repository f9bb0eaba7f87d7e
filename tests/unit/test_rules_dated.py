"""Dated rules end to end: each fee and rate change, through the real application (in memory).

Every expected figure is worked out by hand in the test from the legal table (rules.md), not read
back from the parameter files: the fee in force on the sending day, the court fee rounded down to
whole kroner, and interest as principal × rate × days / 365 per rate segment, summed, then rounded
half-up to øre.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from domain.application import CollectionApp
from domain.claim import Claim
from domain.records import Jurisdiction
from domain.rules import load_all_rules, rules_for

CREDITOR = "4601"
DEBTOR = "D1"
ONE_DAY = timedelta(days=1)


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def whole_kroner(value: Decimal) -> Decimal:
    return value.quantize(Decimal(1), rounding=ROUND_FLOOR)


@dataclass
class Desk:
    """A municipality's collection desk with one debtor, in memory."""

    app: CollectionApp
    count: int = 0

    @classmethod
    def open(cls, jurisdiction: str = "NO", kind: str = "person") -> Desk:
        app = CollectionApp()
        app.register_creditor(
            creditor=CREDITOR,
            name="Testkommune",
            jurisdiction=jurisdiction,
            on=date(2017, 1, 1),
            command_id="register-creditor",
        )
        app.register_debtor(
            office=CREDITOR,
            ref=DEBTOR,
            kind=kind,
            jurisdiction=jurisdiction,
            on=date(2017, 1, 1),
            command_id="register-debtor",
        )
        return cls(app)

    def invoice(self, amount: str, due: date, claim_type: str = "other") -> str:
        self.count += 1
        invoice = f"INV-{self.count}"
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
        return invoice

    def notice(self, invoice: str, notice: str, on: date, deadline: date | None = None) -> Any:
        cid = f"{invoice}/{notice}/{on}"
        self.app.send_notice(
            creditor=CREDITOR, invoice=invoice, notice=notice, on=on, deadline=deadline, command_id=cid
        )
        return self.event(invoice, cid)

    def enforce(self, invoice: str, route: str, on: date) -> Any:
        cid = f"{invoice}/{route}/{on}"
        self.app.request_enforcement(creditor=CREDITOR, invoice=invoice, route=route, on=on, command_id=cid)
        return self.event(invoice, cid)

    def claim(self, invoice: str) -> Claim:
        return self.app.claim(CREDITOR, invoice)

    def event(self, invoice: str, command_id: str) -> Any:
        """The stored event the command recorded (read back from the event store)."""
        kinds = Claim.NoticeSent | Claim.EnforcementRequested
        stored = [
            e
            for e in self.app.events.get(self.claim(invoice).id)
            if isinstance(e, kinds) and e.command_id == command_id
        ]
        assert len(stored) == 1
        return stored[0]

    def report(self, invoice: str, day: date) -> dict[str, Any]:
        return self.app.claim_report(self.claim(invoice), day)


# --- notice fees: 1/10 → 1/20 of the inkassosats on 2020-10-01; inkassosats 700 → 750 on 2026-01-01 ---


@pytest.mark.parametrize(
    ("notice", "sent_on", "fee"),
    [
        ("purring", date(2020, 9, 30), "70.00"),
        ("purring", date(2020, 10, 1), "35.00"),
        ("inkassovarsel", date(2020, 9, 30), "70.00"),
        ("inkassovarsel", date(2020, 10, 1), "35.00"),
        ("purring", date(2025, 12, 31), "35.00"),
        ("purring", date(2026, 1, 1), "37.50"),
        ("inkassovarsel", date(2025, 12, 31), "35.00"),
        ("inkassovarsel", date(2026, 1, 1), "37.50"),
    ],
)
def test_first_notice_fee_is_the_rate_in_force_on_the_sending_day(notice: str, sent_on: date, fee: str) -> None:
    desk = Desk.open()
    invoice = desk.invoice("1000.00", due=sent_on - timedelta(days=30))

    sent = desk.notice(invoice, notice, on=sent_on)

    assert sent.fee == Decimal(fee)
    assert sent.warnings == []
    assert desk.report(invoice, sent_on)["fees"] == fee


@pytest.mark.parametrize(
    ("sent_on", "fee"),
    [
        (date(2020, 9, 30), "210.00"),  # 3/10 × 700
        (date(2020, 10, 1), "105.00"),  # 3/20 × 700
        (date(2025, 12, 31), "105.00"),  # 3/20 × 700
        (date(2026, 1, 1), "112.50"),  # 3/20 × 750
    ],
)
def test_betalingsoppfordring_fee_is_the_rate_in_force_on_its_sending_day(sent_on: date, fee: str) -> None:
    desk = Desk.open()
    due = sent_on - timedelta(days=60)
    invoice = desk.invoice("1000.00", due=due)
    desk.notice(invoice, "inkassovarsel", on=due + timedelta(days=20), deadline=due + timedelta(days=34))

    demand = desk.notice(invoice, "betalingsoppfordring", on=sent_on)

    assert demand.fee == Decimal(fee)
    assert demand.deadline == sent_on + timedelta(days=14)
    assert demand.warnings == []


def test_inkassosats_750_in_2026_is_confirmed_so_the_2026_fees_carry_no_warning() -> None:
    desk = Desk.open()
    invoice = desk.invoice("1000.00", due=date(2025, 11, 3))
    warning = desk.notice(invoice, "inkassovarsel", on=date(2026, 1, 2))
    demand = desk.notice(invoice, "betalingsoppfordring", on=date(2026, 1, 19))
    assert (warning.fee, demand.fee) == (Decimal("37.50"), Decimal("112.50"))
    assert warning.warnings == demand.warnings == []
    assert desk.report(invoice, date(2026, 1, 19))["fees"] == "150.00"


# --- court fees: floor(multiple × R) by calendar year --------------------------------------------

RETTSGEBYR = {
    2017: 1049,
    2018: 1130,
    2019: 1150,
    2020: 1172,
    2021: 1199,
    2022: 1223,
    2023: 1243,
    2024: 1277,
    2025: 1314,
    2026: 1314,
}  # 2026 not published: the 2025 value, with a warning
UTLEGGSBEGJAERING_R = {
    2017: "1.7",
    2018: "1.7",
    2019: "1.7",
    2020: "1.7",
    2021: "1.25",
    2022: "1.21",
    2023: "1.21",
    2024: "1.21",
    2025: "1.21",
    2026: "1.21",
}
FORLIKSKLAGE_R = {
    2017: "1.15",
    2018: "1.15",
    2019: "1.15",
    2020: "1.15",
    2021: "1.15",
    2022: "1.10",
    2023: "1.10",
    2024: "1.10",  # until 30 June 2024; 1.54 from 1 July 2024 (Prop. 80 L (2023–2024))
    2025: "1.54",
    2026: "1.54",
}
FORLIKSKLAGE_FROM_JULY_2024 = "1.54"
MULTIPLE = {"utleggsbegjaering": UTLEGGSBEGJAERING_R, "forliksklage": FORLIKSKLAGE_R}


def court_fee(route: str, year: int, day: date | None = None) -> Decimal:
    """The court fee in ``year`` (on ``day`` where the multiple changed within the year)."""
    multiple = MULTIPLE[route][year]
    if route == "forliksklage" and day is not None and day >= date(2024, 7, 1):
        multiple = FORLIKSKLAGE_FROM_JULY_2024
    return whole_kroner(Decimal(multiple) * RETTSGEBYR[year])


def demanded_claim(desk: Desk, request_on: date, claim_type: str = "other") -> str:
    """A claim whose betalingsoppfordring deadline has passed by ``request_on``."""
    due = request_on - timedelta(days=90)
    invoice = desk.invoice("1000.00", due=due, claim_type=claim_type)
    desk.notice(invoice, "inkassovarsel", on=due + timedelta(days=5), deadline=due + timedelta(days=20))
    desk.notice(invoice, "betalingsoppfordring", on=due + timedelta(days=25), deadline=due + timedelta(days=40))
    return invoice


def test_court_fee_table_matches_the_figures_in_the_rules_reference() -> None:
    assert court_fee("utleggsbegjaering", 2024) == 1545 and court_fee("forliksklage", 2024) == 1404
    assert court_fee("forliksklage", 2024, date(2024, 7, 1)) == 1966  # 1.54 × 1277 = 1966.58
    assert court_fee("utleggsbegjaering", 2022) == 1479 and court_fee("forliksklage", 2022) == 1345
    assert court_fee("utleggsbegjaering", 2021) == 1498 and court_fee("utleggsbegjaering", 2025) == 1589


@pytest.mark.parametrize("route", ["utleggsbegjaering", "forliksklage"])
@pytest.mark.parametrize("year", range(2018, 2027))
def test_court_fee_on_new_years_eve_and_new_years_day_follows_r_of_each_year(route: str, year: int) -> None:
    desk = Desk.open()
    before = desk.enforce(demanded_claim(desk, date(year - 1, 12, 31)), route, on=date(year - 1, 12, 31))
    after = desk.enforce(demanded_claim(desk, date(year, 1, 1)), route, on=date(year, 1, 1))

    assert before.cost == court_fee(route, year - 1, date(year - 1, 12, 31))
    assert after.cost == court_fee(route, year, date(year, 1, 1))
    assert before.warnings == []
    if year == 2026:  # rettsgebyr is confirmed only until 2025-12-31
        assert len(after.warnings) == 1 and "rettsgebyr" in after.warnings[0]
        assert "2025-12-31" in after.warnings[0]
    else:
        assert after.warnings == []


def test_court_fee_is_added_to_the_claims_costs_in_the_report() -> None:
    desk = Desk.open()
    invoice = demanded_claim(desk, date(2024, 6, 3))
    desk.enforce(invoice, "utleggsbegjaering", on=date(2024, 6, 3))
    assert desk.report(invoice, date(2024, 6, 3))["costs"] == "1545.00"


@pytest.mark.parametrize("route", ["utleggstrekk", "utleggsforretning"])
def test_saernamsmann_step_carries_no_court_fee(route: str) -> None:
    desk = Desk.open()
    invoice = demanded_claim(desk, date(2026, 1, 5), claim_type="eiendomsskatt")
    step = desk.enforce(invoice, route, on=date(2026, 1, 5))
    assert step.cost == Decimal("0.00")
    assert step.warnings == []


# --- Norwegian forsinkelsesrente: split at each half-year change ----------------------------------

NO_RATE_CHANGES = [  # (change day, rate before, rate from, a working-day due date about a month before)
    (date(2019, 7, 1), "8.75", "9.25", date(2019, 5, 31)),
    (date(2020, 1, 1), "9.25", "9.50", date(2019, 12, 2)),
    (date(2020, 7, 1), "9.50", "8.00", date(2020, 5, 29)),
    (date(2022, 1, 1), "8.00", "8.50", date(2021, 12, 2)),
    (date(2022, 7, 1), "8.50", "9.25", date(2022, 6, 1)),
    (date(2023, 1, 1), "9.25", "10.75", date(2022, 12, 2)),
    (date(2023, 7, 1), "10.75", "11.75", date(2023, 6, 1)),
    (date(2024, 1, 1), "11.75", "12.50", date(2023, 12, 1)),
    (date(2024, 7, 1), "12.50", "12.50", date(2024, 5, 31)),
    (date(2025, 1, 1), "12.50", "12.50", date(2024, 12, 2)),
    (date(2025, 7, 1), "12.50", "12.25", date(2025, 5, 30)),
    (date(2026, 1, 1), "12.25", "12.00", date(2025, 12, 2)),
]


def interest_by_hand(principal: str, pieces: list[tuple[str, int]]) -> str:
    """Σ principal × rate % × days / 365 over the pieces, exact, then rounded half-up."""
    exact = sum((Decimal(principal) * Decimal(rate) / 100 * days / 365 for rate, days in pieces), Decimal(0))
    return str(cents(exact))


@pytest.mark.parametrize(
    ("change", "old", "new", "due"), NO_RATE_CHANGES, ids=[c[0].isoformat() for c in NO_RATE_CHANGES]
)
def test_forsinkelsesrente_is_split_at_the_rate_change(change: date, old: str, new: str, due: date) -> None:
    desk = Desk.open("NO")
    invoice = desk.invoice("23456.78", due=due)
    days_before = (change - due).days - 1  # the day after the due date through the day before the change

    on_eve = desk.report(invoice, change - ONE_DAY)
    a_month_on = desk.report(invoice, change + timedelta(days=29))

    assert on_eve["interest"] == interest_by_hand("23456.78", [(old, days_before)])
    assert a_month_on["interest"] == interest_by_hand("23456.78", [(old, days_before), (new, 30)])
    assert "warnings" not in a_month_on


@pytest.mark.parametrize(
    ("change", "old", "new", "due"), NO_RATE_CHANGES, ids=[c[0].isoformat() for c in NO_RATE_CHANGES]
)
def test_payment_after_the_rate_change_records_interest_split_at_it(
    change: date, old: str, new: str, due: date
) -> None:
    desk = Desk.open("NO")
    invoice = desk.invoice("10000.00", due=due)
    paid_on = change + timedelta(days=9)
    expected = interest_by_hand("10000.00", [(old, (change - due).days - 1), (new, 10)])

    desk.app.register_payment(
        creditor=CREDITOR, invoice=invoice, amount=Decimal("10000.00"), on=paid_on, command_id=f"{invoice}/pay"
    )

    stored = desk.app.events.get(desk.claim(invoice).id)
    [payment] = [e for e in stored if isinstance(e, Claim.PaymentRegistered)]
    assert str(cents(payment.interest_accrued)) == expected
    assert payment.allocation["interest"] == Decimal(expected)
    assert payment.allocation["principal"] == Decimal("10000.00") - Decimal(expected)
    report = desk.report(invoice, paid_on)
    assert (report["interest"], report["paid"], report["balance"]) == (expected, "10000.00", expected)


def test_gs06_payment_across_the_2025_rate_cut_matches_the_golden_scenario() -> None:
    desk = Desk.open("NO")
    invoice = desk.invoice("10000.00", due=date(2025, 5, 15), claim_type="kommunale_avgifter")
    desk.app.register_payment(
        creditor=CREDITOR, invoice=invoice, amount=Decimal("10000.00"), on=date(2025, 8, 14), command_id="pay"
    )
    expected = interest_by_hand("10000.00", [("12.50", 46), ("12.25", 45)])
    assert expected == "308.56"
    assert desk.report(invoice, date(2025, 8, 14))["interest"] == expected


def test_interest_spanning_several_changes_sums_every_segment() -> None:
    desk = Desk.open("NO")
    invoice = desk.invoice("5000.00", due=date(2022, 6, 1))
    # 2022-06-02..06-30 at 8.50, H2 2022 at 9.25, H1 2023 at 10.75, 2023-07-01..07-31 at 11.75
    expected = interest_by_hand("5000.00", [("8.50", 29), ("9.25", 184), ("10.75", 181), ("11.75", 31)])
    assert desk.report(invoice, date(2023, 7, 31))["interest"] == expected


def test_interest_past_the_confirmed_rate_carries_a_warning() -> None:
    desk = Desk.open("NO")
    invoice = desk.invoice("1000.00", due=date(2026, 6, 1))
    confirmed = desk.report(invoice, date(2026, 6, 30))
    unconfirmed = desk.report(invoice, date(2026, 7, 1))
    assert "warnings" not in confirmed
    assert any("forsinkelsesrente" in w and "2026-06-30" in w for w in unconfirmed["warnings"])
    assert unconfirmed["interest"] == interest_by_hand("1000.00", [("12.00", 30)])


def test_interest_on_a_due_date_that_falls_on_a_saturday_runs_from_the_next_working_day() -> None:
    desk = Desk.open("NO")
    invoice = desk.invoice("1000.00", due=date(2024, 3, 16))  # Saturday → Monday 18 March
    assert desk.report(invoice, date(2024, 3, 18))["interest"] == "0.00"
    assert desk.report(invoice, date(2024, 4, 18))["interest"] == interest_by_hand("1000.00", [("12.50", 31)])
    assert desk.report(invoice, date(2024, 4, 18))["limitation_date"] == "2027-03-16"


def test_interest_on_a_due_date_on_maundy_thursday_runs_from_after_easter() -> None:
    desk = Desk.open("NO")
    invoice = desk.invoice("1000.00", due=date(2024, 3, 28))  # Maundy Thursday → Tuesday 2 April
    assert desk.report(invoice, date(2024, 4, 2))["interest"] == "0.00"
    assert desk.report(invoice, date(2024, 4, 12))["interest"] == interest_by_hand("1000.00", [("12.50", 10)])


# --- Swedish dröjsmålsränta = referensränta + 8 points, per half-year ----------------------------

SE_RATE_CHANGES = [  # (change day, referensränta before, from, a Swedish working-day due date)
    (date(2019, 7, 1), "-0.50", "0.00", date(2019, 5, 31)),
    (date(2022, 7, 1), "0.00", "0.50", date(2022, 6, 1)),
    (date(2023, 1, 1), "0.50", "2.50", date(2022, 12, 2)),
    (date(2023, 7, 1), "2.50", "3.50", date(2023, 6, 1)),
    (date(2024, 1, 1), "3.50", "4.00", date(2023, 12, 1)),
    (date(2025, 1, 1), "4.00", "3.00", date(2024, 12, 2)),
    (date(2025, 7, 1), "3.00", "2.00", date(2025, 5, 30)),
    (date(2026, 1, 1), "2.00", "2.00", date(2025, 12, 2)),
]


def drojsmalsranta(referensranta: str) -> str:
    return str(Decimal(referensranta) + 8)


@pytest.mark.parametrize(
    ("change", "old_ref", "new_ref", "due"), SE_RATE_CHANGES, ids=[c[0].isoformat() for c in SE_RATE_CHANGES]
)
def test_drojsmalsranta_is_referensranta_plus_eight_split_at_each_half_year(
    change: date, old_ref: str, new_ref: str, due: date
) -> None:
    desk = Desk.open("SE")
    invoice = desk.invoice("12345.67", due=due, claim_type="va")
    days_before = (change - due).days - 1
    old, new = drojsmalsranta(old_ref), drojsmalsranta(new_ref)

    on_eve = desk.report(invoice, change - ONE_DAY)
    a_month_on = desk.report(invoice, change + timedelta(days=29))

    assert on_eve["interest"] == interest_by_hand("12345.67", [(old, days_before)])
    assert a_month_on["interest"] == interest_by_hand("12345.67", [(old, days_before), (new, 30)])
    # the referensränta is confirmed through 2026-06-30
    assert "warnings" not in a_month_on
    assert "warnings" not in on_eve


def test_swedish_rate_with_a_negative_referensranta_is_seven_and_a_half_percent() -> None:
    desk = Desk.open("SE")
    invoice = desk.invoice("1000.00", due=date(2019, 3, 1), claim_type="barnomsorg")
    assert desk.report(invoice, date(2019, 3, 31))["interest"] == interest_by_hand("1000.00", [("7.50", 30)])


def test_swedish_rate_stays_eight_percent_through_half_years_without_a_new_referensranta() -> None:
    desk = Desk.open("SE")
    invoice = desk.invoice("1000.00", due=date(2019, 12, 2), claim_type="barnomsorg")
    # 2019-12-03 .. 2022-06-30 at 0.00 + 8 (the 2020–2022 half-years kept 0.00)
    days = (date(2022, 6, 30) - date(2019, 12, 2)).days
    expected = interest_by_hand("1000.00", [("8.00", days)])
    assert desk.report(invoice, date(2022, 6, 30))["interest"] == expected


def test_swedish_interest_past_the_confirmed_referensranta_carries_a_warning() -> None:
    desk = Desk.open("SE")
    invoice = desk.invoice("1000.00", due=date(2026, 6, 1), claim_type="va")
    assert "warnings" not in desk.report(invoice, date(2026, 6, 30))
    warned = desk.report(invoice, date(2026, 7, 1))
    assert any("referensranta" in w and "2026-06-30" in w for w in warned["warnings"])


def test_load_all_rules_reads_every_jurisdiction_once() -> None:
    """A service's start reads every jurisdiction's rules (``load_all_rules``); its commands then get them from
    ``rules_for``'s keeping, read no more."""
    load_all_rules()
    before = rules_for.cache_info()
    loaded = {j: rules_for(j.value) for j in Jurisdiction}
    after = rules_for.cache_info()
    assert (after.hits - before.hits, after.misses - before.misses) == (len(Jurisdiction), 0)
    assert {j: r.jurisdiction for j, r in loaded.items()} == {j: j for j in Jurisdiction}
