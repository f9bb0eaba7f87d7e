"""The inputs issue 16 found stopping the pipeline are refused at every edge with ``invalid_input``, naming the
field, and nothing is stored: the application, a scenario step, a scenario file, the HTTP API's bodies, the
command line (ADR 0023)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from domain.application import CollectionApp
from domain.errors import CommandRefused, ErrorCode
from domain.inputs import MAX_AMOUNT, parse_amount, parse_day, require_identifier, require_text
from domain.scenario import Scenario, ScenarioError, run_command, run_scenario
from kravsak.errors import KravsakError, option_day
from web.api.commands import IssueInvoice, RegisterCreditor, RegisterObjection

ON = date(2025, 1, 2)
HUGE = "99999999999999999999999999.99"
TOO_BIG = "100000000000000.00"


def office() -> CollectionApp:
    app = CollectionApp()
    app.register_creditor(creditor="4601", name="Alta", jurisdiction="NO", on=ON, command_id="c")
    app.register_debtor(office="4601", ref="D1", kind="person", jurisdiction="NO", on=ON, command_id="d")
    return app


def refused(call: Any) -> CommandRefused:
    with pytest.raises(CommandRefused) as caught:
        call()
    assert caught.value.code is ErrorCode.INVALID_INPUT
    return caught.value


def issue(app: CollectionApp, **change: Any) -> Any:
    args: dict[str, Any] = {
        "creditor": "4601", "invoice": "INV-1", "amount": Decimal("100.00"), "due": date(2025, 2, 1),
        "claim_type": "other", "debtor_ref": "D1", "on": ON, "command_id": "i1",
    }  # fmt: skip
    return lambda: app.issue_invoice(**{**args, **change})


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("amount", Decimal(HUGE), "at most 9999999999.99"),
        ("amount", Decimal(TOO_BIG), "at most 9999999999.99"),
        ("amount", Decimal("NaN"), "finite"),
        ("amount", Decimal("Infinity"), "finite"),
        ("amount", Decimal("1.001"), "whole øre"),
        ("invoice", "INV\x001", "U+0000"),
        ("invoice", "INV\u202e1", "U+202E"),
        ("invoice", "x" * 65, "at most 64"),
        ("command_id", "i\x00", "U+0000"),
        ("due", date(2300, 1, 1), "outside"),
    ],
)
def test_the_application_refuses_a_bad_invoice_and_stores_nothing(field: str, value: Any, rule: str) -> None:
    app = office()
    before = app.recorder.max_notification_id()

    refusal = refused(issue(app, **{field: value}))

    assert refusal.message.startswith(f"{field}: ") and rule in refusal.message
    assert app.recorder.max_notification_id() == before


def test_the_largest_amount_is_accepted_and_one_øre_more_is_not() -> None:
    app = office()
    issue(app, amount=MAX_AMOUNT)()
    assert app.claim("4601", "INV-1").account.principal == MAX_AMOUNT
    refused(issue(app, invoice="INV-2", amount=MAX_AMOUNT + Decimal("0.01"), command_id="i2"))


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        (HUGE, "at most"),
        (TOO_BIG, "at most"),
        ("1E+5", "exact decimal"),
        ("NaN", "exact decimal"),
        ("Infinity", "exact decimal"),
        ("10.005", "two decimals"),
        ("12,50", "exact decimal"),
    ],
)
def test_a_typed_amount_is_exact_with_two_decimals_and_no_exponent(raw: str, rule: str) -> None:
    assert rule in refused(lambda: parse_amount("amount", raw)).message
    assert parse_amount("amount", "9999999999.99") == MAX_AMOUNT
    assert parse_amount("amount", "10.50") == Decimal("10.50")


@pytest.mark.parametrize(
    ("raw", "rule"), [("2024-02-30", "no such day in the calendar"), ("20250111", "not an ISO date")]
)
def test_a_day_is_strict_iso_and_a_calendar_day(raw: str, rule: str) -> None:
    assert rule in refused(lambda: parse_day("due", raw)).message
    assert parse_day("due", "2024-02-29") == date(2024, 2, 29)


@pytest.mark.parametrize("value", ["a\x00b", "a\u202eb", "a\u2066b", "a\u200bb", "\ud800"])
def test_identifiers_and_free_text_hold_no_control_or_bidi_characters(value: str) -> None:
    refused(lambda: require_identifier("kid", value))
    refused(lambda: require_text("reason", value))
    assert require_text("reason", "two\nlines\tand a tab") == "two\nlines\tand a tab"


def test_a_refusal_never_echoes_the_free_text() -> None:
    secret = "Ola Nordmann 01017012345 has diabetes\x00"
    assert "Nordmann" not in refused(lambda: require_text("reason", secret)).message


@pytest.mark.parametrize(
    ("step", "field"),
    [
        ({"amount": HUGE}, "amount"),
        ({"amount": TOO_BIG}, "amount"),
        ({"invoice": "INV\x001"}, "invoice"),
        ({"invoice": "INV\u202e1"}, "invoice"),
        ({"due": "2024-02-30"}, "due"),
        ({"due": "20250111"}, "due"),
        ({"due": 20250111}, "due"),
    ],
)
def test_a_scenario_step_refuses_the_issues_examples_with_invalid_input(step: dict[str, Any], field: str) -> None:
    app = office()
    before = app.recorder.max_notification_id()
    args = {"on": ON, "invoice": "INV-1", "amount": "100.00", "due": "2025-02-01", "debtor": "D1", **step}

    refusal = refused(
        lambda: run_command(app, creditor="4601", do="issue_invoice", step=args, command_id="s1", debtors=("D1",))
    )

    assert refusal.message.startswith(f"{field}: ")
    assert app.recorder.max_notification_id() == before


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("jurisdiction: DK", "jurisdiction: 'DK' is not NO or SE"),
        ("debtors: {D1: {kind: company}}", "debtors.D1.kind"),
        ("report_on: 2024-02-30", "report_on: '2024-02-30' is not a calendar date"),
        ("report_on: 20250111", "report_on: is not an ISO date"),
    ],
)
def test_a_scenario_file_with_a_bad_header_is_refused_whole(header: str, problem: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        Scenario.parse_text(f"scenario: x\n{header}\nsteps: []\n")
    assert "invalid_input" in str(caught.value) and problem in str(caught.value)


def test_a_refused_debtor_leaves_no_creditor_behind() -> None:
    """Issue 16: a scenario whose debtor has an invalid national id stored the creditor all the same."""
    app = CollectionApp()
    scenario = Scenario.parse_text(
        "scenario: x\ndebtors: {D1: {kind: person, national_id: '01017012345'}}\n"
        "steps:\n  - {on: 2025-01-02, do: run_policies, until: 2025-01-02}\n"
    )

    with pytest.raises(ScenarioError, match="national_id"):
        run_scenario(scenario, app)

    assert app.recorder.max_notification_id() in (None, 0)


CREDITOR = {"creditor": "4602", "name": "A", "jurisdiction": "NO", "on": ON, "command_id": "x"}
DEBTOR = {"office": "4601", "ref": "D2", "kind": "person", "jurisdiction": "NO", "on": ON, "command_id": "x"}


@pytest.mark.parametrize(
    ("command", "change", "field"),
    [
        ("register_creditor", {"jurisdiction": "DK"}, "jurisdiction"),
        ("register_creditor", {"name": "A\u202e"}, "name"),
        ("register_creditor", {"kid_algorithm": "LUHN"}, "kid_algorithm"),
        ("register_debtor", {"kind": "company"}, "kind"),
        ("register_debtor", {"jurisdiction": "DK"}, "jurisdiction"),
        ("register_debtor", {"national_id": "01017012345"}, "national_id"),
    ],
)
def test_unknown_jurisdictions_kinds_and_bad_national_ids_are_invalid_input(
    command: str, change: dict[str, Any], field: str
) -> None:
    app = office()
    before = app.recorder.max_notification_id()
    base = CREDITOR if command == "register_creditor" else DEBTOR

    assert refused(lambda: getattr(app, command)(**{**base, **change})).message.startswith(f"{field}: ")
    assert app.recorder.max_notification_id() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": HUGE}, "amount"),
        ({"amount": TOO_BIG}, "amount"),
        ({"amount": "1E+5"}, "amount"),
        ({"invoice": "INV\x001"}, "invoice"),
        ({"invoice": "INV\u202e1"}, "invoice"),
        ({"due": "2024-02-30"}, "due"),
        ({"due": "20250111"}, "due"),
        ({"kid": "1234\u202e"}, "kid"),
    ],
)
def test_the_http_api_refuses_them_naming_the_field(body: dict[str, Any], field: str) -> None:
    good = {"creditor": "4601", "invoice": "INV-1", "amount": "100.00", "due": "2025-02-01", "debtor": "D1"}
    IssueInvoice.model_validate(good)

    with pytest.raises(ValidationError) as caught:
        IssueInvoice.model_validate({**good, **body})

    assert [e["loc"][0] for e in caught.value.errors()] == [field]


def test_the_http_api_refuses_control_characters_in_free_text_and_names() -> None:
    with pytest.raises(ValidationError):
        RegisterObjection.model_validate({"creditor": "4601", "invoice": "INV-1", "text": "ok\u202e"})
    with pytest.raises(ValidationError):
        RegisterCreditor.model_validate({"creditor": "4601", "name": "Alta\x00", "jurisdiction": "NO", "office": "vf"})
    RegisterObjection.model_validate({"creditor": "4601", "invoice": "INV-1", "text": "line one\nline two"})


def test_the_command_line_reads_days_strictly() -> None:
    assert option_day("--on", "2025-04-11") == date(2025, 4, 11)
    for raw in ("20250411", "2024-02-30"):
        with pytest.raises(KravsakError):
            option_day("--on", raw)
