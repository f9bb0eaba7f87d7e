"""The legal corrections of version 1.1, each on the day before and the day of its boundary.

Every expected date and figure is worked out by hand here from the statute (ADR 0012), not read
back from the parameter files.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta
from decimal import Decimal

import holidays
import pytest

from domain.application import CollectionApp
from domain.calendar import SWEDISH_EVES, calendar_for, midsommarafton
from domain.errors import CommandRefused
from domain.rules import rules_for

# --- Sweden: lag (1930:173) 2 § — the three eves ----------------------------------------------


@pytest.mark.parametrize(
    ("year", "eve"),
    [(2024, date(2024, 6, 21)), (2025, date(2025, 6, 20)), (2026, date(2026, 6, 19)), (2027, date(2027, 6, 25))],
)
def test_midsommarafton_is_the_friday_between_19_and_25_june(year: int, eve: date) -> None:
    assert midsommarafton(year) == eve
    assert eve.weekday() == 4


def test_the_three_eves_are_the_ones_the_holidays_library_calls_de_facto_holidays() -> None:
    for year in range(2019, 2031):
        ours = {day_of(year) for day_of in SWEDISH_EVES.values()}
        theirs = set(holidays.country_holidays("SE", years=[year], categories=("de_facto",)))
        assert ours == theirs, year


@pytest.mark.parametrize(
    ("start", "end"),
    [
        # julafton 2027 is a Friday: 25, 26 (weekend + holidays) -> Monday 27 December
        (date(2024, 12, 24), date(2027, 12, 27)),
        # the day before julafton is an ordinary Thursday: it stays
        (date(2024, 12, 23), date(2027, 12, 23)),
        # nyårsafton 2025 is a Wednesday; 1 January is a holiday -> Friday 2 January 2026
        (date(2022, 12, 31), date(2026, 1, 2)),
        (date(2022, 12, 30), date(2025, 12, 30)),
        # midsommarafton 2026 is Friday 19 June; Saturday is midsommardagen -> Monday 22 June
        (date(2023, 6, 19), date(2026, 6, 22)),
        (date(2023, 6, 18), date(2026, 6, 18)),
    ],
)
def test_swedish_three_year_period_ending_on_an_eve_moves_to_the_next_working_day(start: date, end: date) -> None:
    assert rules_for("SE").period_end(start, 3) == end


def test_norway_does_not_move_a_period_off_christmas_eve() -> None:
    # foreldelsesloven § 29 names Saturdays, Sundays and holidays only: 24 December 2027 is a Friday
    assert rules_for("NO").period_end(date(2024, 12, 24), 3) == date(2027, 12, 24)
    assert calendar_for("NO").is_working_day(date(2027, 12, 24))
    assert not calendar_for("SE").is_working_day(date(2027, 12, 24))
    assert calendar_for("SE").holiday_name(date(2027, 12, 24)) == "Julafton"


# --- verified parameters (ADR 0012): the day before and the day of each new value ---------------


def _desk(jurisdiction: str, kind: str = "person") -> CollectionApp:
    app = CollectionApp()
    app.register_creditor(creditor="4601", name="T", jurisdiction=jurisdiction, on=date(2017, 1, 1), command_id="c")
    app.register_debtor(office="4601", ref="D1", kind=kind, jurisdiction=jurisdiction, on=date(2017, 1, 1),
                        command_id="d")  # fmt: skip
    return app


def _forliksklage_cost(on: date) -> Decimal:
    """The court fee of a forliksklage sent on ``on``, after a missed betalingsoppfordring."""
    app, due = _desk("NO"), on - timedelta(days=90)
    inv = {"creditor": "4601", "invoice": f"F-{on}"}
    app.issue_invoice(**inv, amount=Decimal("1000.00"), due=due, claim_type="other", debtor_ref="D1",
                      on=due - timedelta(days=20), command_id="i")  # fmt: skip
    app.send_notice(**inv, notice="inkassovarsel", on=due + timedelta(days=5), deadline=due + timedelta(days=20),
                    command_id="n1")  # fmt: skip
    app.send_notice(**inv, notice="betalingsoppfordring", on=due + timedelta(days=25),
                    deadline=due + timedelta(days=40), command_id="n2")  # fmt: skip
    app.request_enforcement(**inv, route="forliksklage", on=on, command_id="e")
    return app.claim("4601", inv["invoice"]).facts.enforcements[-1].cost


def test_forliksklage_fee_is_1_10_r_on_30_june_2024_and_1_54_r_from_1_july_2024() -> None:
    # R 2024 = 1277: floor(1.10 × 1277) = floor(1404.70) = 1404; floor(1.54 × 1277) = floor(1966.58) = 1966
    assert _forliksklage_cost(date(2024, 6, 30)) == Decimal("1404")
    assert _forliksklage_cost(date(2024, 7, 1)) == Decimal("1966")


@pytest.mark.parametrize(
    ("day", "rate"),
    [
        (date(2024, 12, 31), "12.00"),  # referensränta 4.00 + 8
        (date(2025, 1, 1), "11.00"),  # 3.00 + 8: the policy rate on 31 December 2024 was 2.75
        (date(2025, 6, 30), "11.00"),
        (date(2025, 7, 1), "10.00"),  # 2.00 + 8: 2.00 applied from 25 June 2025
        (date(2025, 12, 31), "10.00"),
        (date(2026, 1, 1), "10.00"),  # 1.75 rounded up to 2.00, + 8
    ],
)
def test_swedish_late_payment_rate_around_the_verified_half_years(day: date, rate: str) -> None:
    [segment] = rules_for("SE").interest_rate_segments(day, day)
    assert segment.value == Decimal(rate)
    assert segment.warning is None


@pytest.mark.parametrize("first", [date(2020, 12, 24), date(2020, 12, 31), date(2021, 1, 1)])
def test_proklama_deadline_is_six_weeks_after_the_last_publication_under_both_laws(first: date) -> None:
    # skifteloven 1930: two publications, six weeks from the last; arveloven 2019 § 102 (from 2021):
    # Norsk lysingsblad once plus the local newspaper, six weeks from the last of them
    app = _desk("NO")
    app.register_death(office="4601", debtor_ref="D1", died=first - timedelta(days=20), on=first, command_id="x")
    second = first + timedelta(days=7)
    app.register_proklama(office="4601", debtor_ref="D1", published=first, on=second, command_id="p1")
    deadline = app.register_proklama(office="4601", debtor_ref="D1", published=second, on=second, command_id="p2")
    assert deadline == second + timedelta(weeks=6)


# --- Sweden: limitation from the claim's coming into being (arose) -----------------------------


def _invoice(app: CollectionApp, invoice: str, due: date, claim_type: str, **extra: object) -> None:
    app.issue_invoice(creditor="4601", invoice=invoice, amount=Decimal("900.00"), due=due, claim_type=claim_type,
                      debtor_ref="D1", on=due - timedelta(days=10), command_id=f"issue-{invoice}",
                      **extra)  # type: ignore[arg-type]  # fmt: skip


def test_swedish_limitation_runs_from_the_day_the_claim_arose_not_the_due_date() -> None:
    app = _desk("SE")
    # VA for the period ending Friday 2024-03-15, due Friday 2024-04-26: three years from 15 March (a Monday
    # in 2027); from the due date it would be Monday 2027-04-26
    _invoice(app, "VA-1", date(2024, 4, 26), "va", arose=date(2024, 3, 15))
    _invoice(app, "VA-2", date(2024, 4, 26), "va")  # arose defaults to the due date
    assert app.claim("4601", "VA-1").limitation_date == date(2027, 3, 15)
    assert app.claim("4601", "VA-2").limitation_date == date(2027, 4, 26)


def test_norwegian_limitation_ignores_arose_and_runs_from_the_due_date() -> None:
    app = _desk("NO")
    _invoice(app, "KA-1", date(2024, 4, 26), "kommunale_avgifter", arose=date(2024, 3, 26))
    assert app.claim("4601", "KA-1").limitation_date == date(2027, 4, 26)
    assert app.claim("4601", "KA-1").facts.arose == date(2024, 3, 26)


def test_arose_more_than_a_year_after_the_due_date_is_invalid_input() -> None:
    app = _desk("SE")
    with pytest.raises(CommandRefused) as refused:
        _invoice(app, "VA-3", date(2024, 4, 26), "va", arose=date(2025, 4, 28))
    assert refused.value.code.value == "invalid_input" and "arose" in refused.value.message


# --- Sweden: a consumer claim keeps three years after dom or utslag (NJA 2022 s. 150) ----------


@pytest.mark.parametrize(("kind", "until"), [("person", date(2029, 10, 5)), ("organisation", date(2036, 10, 6))])
def test_utslag_starts_three_years_for_a_consumer_and_ten_for_an_organisation(kind: str, until: date) -> None:
    app = _desk("SE", kind)
    _invoice(app, "BO-1", date(2026, 5, 29), "barnomsorg")
    # utslag Friday 2026-10-05 -> person: 2029-10-05 (Friday); organisation: 2036-10-05 is a Sunday -> Monday 6th
    app.register_judgment(creditor="4601", invoice="BO-1", on=date(2026, 10, 5), command_id="utslag")
    claim = app.claim("4601", "BO-1")
    assert claim.limitation_date == until
    assert claim.facts.interruptions[-1].ground == "judgment"


# --- Norway: enforcement on a judgment only after two weeks from service (tvisteloven § 19-7) --


def _judgment(served: date | None, decided: date = date(2025, 3, 3)) -> CollectionApp:
    app = _desk("NO")
    _invoice(app, "S-1", date(2024, 11, 1), "helse_omsorg")
    app.register_judgment(creditor="4601", invoice="S-1", on=served or decided, decided=decided, served=served,
                          command_id="dom")  # fmt: skip
    return app


def _enforce(app: CollectionApp, on: date) -> str | None:
    try:
        app.request_enforcement(creditor="4601", invoice="S-1", route="utleggsbegjaering", on=on, command_id=f"u{on}")
    except CommandRefused as refused:
        return refused.code.value
    return None


def test_enforcement_on_a_judgment_waits_until_two_weeks_after_service() -> None:
    # served Wednesday 2025-03-12: the compliance period ends Wednesday 2025-03-26
    app = _judgment(served=date(2025, 3, 12))
    assert _enforce(app, date(2025, 3, 26)) == "deadline_not_expired"
    assert _enforce(app, date(2025, 3, 27)) is None


def test_without_served_the_compliance_period_runs_from_the_decision() -> None:
    app = _judgment(served=None, decided=date(2025, 3, 3))  # + 14 = Monday 2025-03-17
    assert _enforce(app, date(2025, 3, 17)) == "deadline_not_expired"
    assert _enforce(app, date(2025, 3, 18)) is None


def test_compliance_period_ending_on_a_saturday_runs_to_monday() -> None:
    app = _judgment(served=date(2025, 3, 8), decided=date(2025, 3, 3))  # + 14 = Saturday 22 March -> Monday 24th
    assert _enforce(app, date(2025, 3, 24)) == "deadline_not_expired"
    assert _enforce(app, date(2025, 3, 25)) is None


def test_service_before_the_decision_or_after_registration_is_invalid_input() -> None:
    app = _desk("NO")
    _invoice(app, "S-1", date(2024, 11, 1), "helse_omsorg")
    for served in (date(2025, 3, 2), date(2025, 3, 11)):
        with pytest.raises(CommandRefused) as refused:
            app.register_judgment(creditor="4601", invoice="S-1", on=date(2025, 3, 10), decided=date(2025, 3, 3),
                                  served=served, command_id=f"dom-{served}")  # fmt: skip
        assert refused.value.code.value == "invalid_input" and "served" in refused.value.message


# --- contract: invalid_input is reported before unknown_invoice ------------------------------


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("send_notice", {"notice": "brev", "on": date(2025, 3, 1)}),
        ("send_notice", {"notice": "purring", "on": date(2025, 3, 1), "deadline": date(2025, 3, 1)}),
        ("register_payment", {"amount": Decimal("-5.00"), "on": date(2025, 3, 1)}),
        ("register_payment", {"amount": Decimal("5.00"), "on": date(2025, 3, 1), "ordered": date(2025, 3, 2)}),
        ("credit_invoice", {"amount": Decimal("0.001"), "on": date(2025, 3, 1)}),
        ("resolve_objection", {"outcome": "maybe", "on": date(2025, 3, 1)}),
        ("grant_deferral", {"until": date(2025, 3, 1), "on": date(2025, 3, 1)}),
        ("register_judgment", {"on": date(2025, 3, 1), "decided": date(2025, 3, 2)}),
        ("write_off", {"reason": "bored", "on": date(2025, 3, 1)}),
        ("decide_complaint", {"outcome": "maybe", "on": date(2025, 3, 1)}),
    ],
)
def test_a_bad_argument_on_an_unknown_invoice_is_invalid_input(command: str, args: dict[str, object]) -> None:
    app = _desk("NO")
    with pytest.raises(CommandRefused) as refused:
        getattr(app, command)(creditor="4601", invoice="NO-SUCH", command_id="x", **args)
    assert refused.value.code.value == "invalid_input"


def test_good_arguments_on_an_unknown_invoice_are_unknown_invoice() -> None:
    app = _desk("NO")
    with pytest.raises(CommandRefused) as refused:
        app.send_notice(creditor="4601", invoice="NO-SUCH", notice="purring", on=date(2025, 3, 1), command_id="x")
    assert refused.value.code.value == "unknown_invoice"


# --- KID / OCR references on invoices (format 1.1) ---------------------------------------------


def _kid_desk(jurisdiction: str = "NO") -> CollectionApp:
    return _desk(jurisdiction)


def _issue(app: CollectionApp, invoice: str, kid: str | None) -> str:
    try:
        app.issue_invoice(creditor="4601", invoice=invoice, amount=Decimal("100.00"), due=date(2025, 9, 15),
                          claim_type="other", debtor_ref="D1", on=date(2025, 8, 15), command_id=f"i-{invoice}",
                          kid=kid)  # fmt: skip
    except CommandRefused as refused:
        return refused.code.value
    return app.claim("4601", invoice).kid


def test_a_norwegian_kid_is_accepted_under_mod10_or_mod11() -> None:
    app = _kid_desk()
    assert _issue(app, "A", "12344") == "12344"  # 1234 + MOD10 check 4
    assert _issue(app, "B", "12343") == "12343"  # 1234 + MOD11 check 3
    assert _issue(app, "C", "12345") == "invalid_input"  # neither


def test_a_kid_in_use_by_another_claim_of_the_creditor_is_invalid_input() -> None:
    app = _kid_desk()
    assert _issue(app, "A", "12344") == "12344"
    assert _issue(app, "B", "12344") == "invalid_input"
    assert _issue(app, "A", "12344") == "12344"  # the same invoice again: idempotent


def test_a_swedish_ocr_reference_needs_a_luhn_check_digit() -> None:
    app = _kid_desk("SE")
    assert _issue(app, "A", "12344") == "12344"
    assert _issue(app, "B", "12343") == "invalid_input"  # a MOD11 digit is no OCR reference


def test_an_assigned_kid_steps_past_a_printed_one_that_took_its_serial() -> None:
    app = _kid_desk()
    natural = _issue(app, "900", None)  # the scheme's KID for invoice 900
    app2 = _kid_desk()
    assert _issue(app2, "X", natural) == natural  # printed first on another invoice
    assigned = _issue(app2, "900", None)
    assert assigned != natural and len(assigned) == len(natural)
    assert app2.claim_by_reference("4601", assigned).invoice == "900"


def test_a_payment_by_kid_lands_on_its_claim_and_records_the_reference() -> None:
    app = _kid_desk()
    _issue(app, "A", "12344")
    invoice = app.register_payment_by_reference(
        creditor="4601", reference="12344", amount=Decimal("40.00"), on=date(2025, 9, 1), command_id="p"
    )
    claim = app.claim("4601", "A")
    assert invoice == "A" and claim.account.total_paid == Decimal("40.00")
    event = [e for e in app.events.get(claim.id) if type(e).__name__ == "PaymentRegistered"][-1]
    assert (event.source, event.reference) == ("reference", "12344")


@pytest.mark.parametrize(("reference", "code"), [("12345", "invalid_input"), ("99996", "unknown_invoice")])
def test_a_payment_by_an_unusable_reference_is_refused(reference: str, code: str) -> None:
    app = _kid_desk()
    _issue(app, "A", "12344")
    with pytest.raises(CommandRefused) as refused:
        app.register_payment_by_reference(
            creditor="4601", reference=reference, amount=Decimal("40.00"), on=date(2025, 9, 1), command_id="p"
        )
    assert refused.value.code.value == code


# --- events stored before 1.1 still load (upcast to class version 2) ----------------------------


@pytest.mark.parametrize(
    ("event_name", "version", "new_fields"),
    [
        ("Invoiced", 2, ("arose",)),
        ("PaymentRegistered", 3, ("source", "reference", "file_digest", "file_format", "transaction")),
        ("NoticeSent", 2, ("letter_invoices", "carry_out_by")),
    ],
)
def test_a_version_1_event_in_the_store_loads_with_the_new_fields_empty(
    event_name: str, version: int, new_fields: tuple[str, ...]
) -> None:
    app = _desk("NO")
    _invoice(app, "V1", date(2025, 1, 20), "sfo")
    app.send_notice(creditor="4601", invoice="V1", notice="purring", on=date(2025, 2, 5), command_id="n")
    app.register_payment(creditor="4601", invoice="V1", amount=Decimal("10.00"), on=date(2025, 2, 6), command_id="p")
    claim = app.claim("4601", "V1")
    event = next(e for e in app.events.get(claim.id) if type(e).__name__ == event_name)
    stored = app.mapper.to_stored_event(event)
    state = json.loads(stored.state)
    assert state.pop("class_version") == version
    for name in new_fields:
        del state[name]
    old = dataclasses.replace(stored, state=json.dumps(state).encode())
    loaded = app.mapper.to_domain_event(old)
    assert all(getattr(loaded, name) is None for name in new_fields)
    assert loaded.command_id == event.command_id
