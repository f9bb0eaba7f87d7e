"""The three read models, applied straight from the domain's events into PostgreSQL, agree with
the domain on every scenario: the ledger's balances, the limitation dates, the findings."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from domain.application import CollectionApp
from domain.scenario import Scenario, run_scenario
from projections import audit_trail, dossier, ledger, limitation
from projections.base import schema_name
from projections.casefold import CaseFolder
from tests.scenario_files import scenario_files, scenario_params
from tests.unit.test_casefold import all_projected
from web.dossier import render_html

pytestmark = pytest.mark.integration
PROJECTIONS = (ledger.Ledger(), limitation.LimitationWatch(), audit_trail.AuditTrail())


@pytest.fixture
def schemas(pg_dsn: str) -> Iterator[tuple[psycopg.Connection[Any], dict[str, str]]]:
    suffix = f"_t{uuid4().hex[:10]}"
    names = {p.name: schema_name(p.name, suffix=suffix) for p in PROJECTIONS}
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        for p in PROJECTIONS:
            conn.execute(f'CREATE SCHEMA "{names[p.name]}"')
            with conn.cursor() as cur:
                p.create_tables(cur, names[p.name])
        yield conn, names
        for name in names.values():
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


def project(conn: psycopg.Connection[Any], names: dict[str, str], app: CollectionApp) -> None:
    folder = CaseFolder()
    with conn.transaction(), conn.cursor() as cur:
        for event in all_projected(app):
            before, after = folder.advance(event)
            for p in PROJECTIONS:
                p.apply(cur, event, names[p.name], before, after)


@pytest.mark.parametrize("path", scenario_params())
def test_read_models_agree_with_the_domain(path: Path, schemas: Any) -> None:
    conn, names = schemas
    scenario = Scenario.load(path)
    app = CollectionApp()
    report = run_scenario(scenario, app)
    project(conn, names, app)
    day = date.fromisoformat(report["report_on"])
    with conn.cursor() as cur:
        debit, credit = ledger.trial_balance(cur, names["ledger"])
        assert debit == credit
        for invoice, expected in report["invoices"].items():
            case = str(app.claim(scenario.creditor, invoice).id)
            view = ledger.claim_view(cur, names["ledger"], case, day)
            assert view == {k: expected[k] for k in view}
            lines = limitation.explain(cur, names["limitation"], case, day)
            assert any(expected["limitation_date"] in line for line in lines)
            got = {(f["code"], f["command_id"]) for f in audit_trail.findings(cur, names["audit"], case_id=case)}
            want = {(f.code, f.command_id) for f in app.claim(scenario.creditor, invoice).audit().findings}
            assert got == want
            assert len(audit_trail.trail(cur, names["audit"], case)) >= 1


def test_the_worklist_lists_claims_dying_soon_and_not_others(schemas: Any) -> None:
    conn, names = schemas
    app = CollectionApp()
    scenario = Scenario.parse_text("""
scenario: worklist
steps:
  - {on: 2023-01-02, do: issue_invoice, invoice: OLD, amount: "500.00", due: 2023-02-01}
  - {on: 2025-01-02, do: issue_invoice, invoice: NEW, amount: "500.00", due: 2025-02-03}
""")
    run_scenario(scenario, app)
    project(conn, names, app)
    with conn.cursor() as cur:
        rows = limitation.worklist(cur, names["limitation"], date(2025, 12, 15), 60)
    assert [r["invoice"] for r in rows] == ["OLD"]
    assert rows[0]["limitation_date"] == date(2026, 2, 2)


def test_settlement_splits_what_was_collected_into_principal_interest_and_fees(schemas: Any) -> None:
    conn, names = schemas
    app = CollectionApp()
    run_scenario(Scenario.load(next(p for p in scenario_files() if "no-06" in p.name)), app)
    project(conn, names, app)
    with conn.cursor() as cur:
        rows = ledger.settlement(cur, names["ledger"], date(2025, 1, 1), date(2025, 12, 31))
    assert len(rows) == 1
    assert rows[0]["interest"] == Decimal("308.56")
    assert rows[0]["principal"] == Decimal("9691.44")
    assert rows[0]["total"] == Decimal("10000.00")


def build_dossiers(schemas: Any, text: str) -> dict[str, dict[str, Any]]:
    conn, names = schemas
    app = CollectionApp()
    scenario = Scenario.parse_text(text)
    report = run_scenario(scenario, app)
    project(conn, names, app)
    suffix = names["ledger"].removeprefix("kravsak_ledger")
    built = {}
    with conn.cursor() as cur:
        for invoice in report["invoices"]:
            case = str(app.claim(scenario.creditor, invoice).id)
            d = dossier.build(cur, case, date.fromisoformat(report["report_on"]), suffix=suffix)
            assert d is not None
            built[invoice] = d
    return built


def test_the_dossier_shows_the_steps_the_findings_and_the_costs_that_fell_away(schemas: Any) -> None:
    d = build_dossiers(schemas, next(p for p in scenario_files() if "no-18" in p.name).read_text())["SFO-22"]
    assert d["claim"]["invoice"] == "SFO-22" and d["figures"]["fees"] == "0.00"
    assert [s["step"] for s in d["steps"]] == [
        "Invoice issued",
        "Notice sent",
        "Objection received",
        "Objection decided",
    ]
    assert d["steps"][3]["costs_fell_away"] == [
        {"kind": "fee", "amount": "35.00", "reason": d["costs_fallen_away"][0]["reason"], "step": 2}
    ]
    assert any(f["code"] == "costs_not_recoverable" and f["step"] == 2 for f in d["findings"])
    assert d["costs_fallen_away"] and d["costs_fallen_away"][0]["amount"] == "35.00"
    assert d["objections"][0]["outcome"] == "maintained"
    page = render_html(d)
    assert "costs_not_recoverable" in page and "SFO-22" in page and "inkassovarsel" in page
    assert "maintained — the claim stays disputed: only the court route remains" in page


SWEDISH_OBJECTION_LATE = """
scenario: an inkassokrav (which interrupts limitation) sent while an objection was already received
jurisdiction: SE
steps:
  - {on: 2025-03-01, do: issue_invoice, invoice: BO-2, amount: "1500.00", due: 2025-03-31, claim_type: barnomsorg}
  - {on: 2025-04-10, do: send_notice, invoice: BO-2, notice: inkassokrav, deadline: 2025-04-20}
  - {on: 2025-04-14, do: register_objection, invoice: BO-2, received: 2025-04-08}
  - {on: 2025-05-02, do: resolve_objection, invoice: BO-2, outcome: maintained}
report_on: 2025-05-05
"""


def test_one_row_per_step_and_each_finding_points_at_the_step_that_caused_it(schemas: Any) -> None:
    d = build_dossiers(schemas, SWEDISH_OBJECTION_LATE)["BO-2"]

    assert [(s["n"], s["step"]) for s in d["steps"]] == [
        (1, "Invoice issued"),
        (2, "Notice sent"),
        (3, "Objection received"),
        (4, "Objection decided"),
    ]
    notice = d["steps"][1]
    assert notice["event_types"] == ["ClaimNoticeSent", "ClaimLimitationInterrupted"]
    assert notice["limitation"]["until"] == "2028-04-10"  # shown with its step, not as a row of its own
    assert [(f["code"], f["step"]) for f in d["findings"]] == [
        ("escalated_during_objection", 2),
        ("costs_not_recoverable", 2),
    ]
    assert [f["code"] for f in notice["findings"]] == ["escalated_during_objection", "costs_not_recoverable"]
    assert d["headline"] == {"breach": 1, "warning": 0, "info": 1}
    assert d["findings"][0]["severity"] == "breach"  # breaches first
    assert "deadline 2025-04-20 (passed)" in notice["what"]
    page = render_html(d)
    assert "1 breach" in page and "0 warnings" in page and "1 info" in page
    assert page.count('id="step-') == 4
    assert 'at <a href="#step-2">step 2</a>' in page


OBJECTION_PLAN_WRITE_OFF = """
scenario: an objection partly upheld, a payment plan broken, a write-off; a second invoice overpaid
steps:
  - {on: 2024-01-15, do: issue_invoice, invoice: BH-7, amount: "3000.00", due: 2024-02-15, claim_type: barnehage}
  - {on: 2024-03-01, do: send_notice, invoice: BH-7, notice: purring}
  - {on: 2024-03-20, do: send_notice, invoice: BH-7, notice: inkassovarsel}
  - {on: 2024-03-25, do: register_objection, invoice: BH-7, received: 2024-03-18, text: "I never had a place there"}
  - {on: 2024-04-10, do: resolve_objection, invoice: BH-7, outcome: upheld, amount: "1000.00"}
  - on: 2024-04-20
    do: agree_payment_plan
    invoice: BH-7
    installments:
      - {due: 2024-05-20, amount: "700.00"}
      - {due: 2024-06-20, amount: "700.00"}
      - {due: 2024-07-20, amount: "700.00"}
  - {on: 2024-05-21, do: register_payment, invoice: BH-7, amount: "700.00", ordered: 2024-05-18}
  - {on: 2024-06-25, do: run_policies, until: 2024-07-10}
  - {on: 2024-09-30, do: write_off, invoice: BH-7, reason: uneconomic}
  - {on: 2024-01-15, do: issue_invoice, invoice: BH-8, amount: "500.00", due: 2024-02-15, claim_type: barnehage}
  - {on: 2024-02-20, do: register_payment, invoice: BH-8, amount: "600.00", ordered: 2024-02-19}
report_on: 2024-07-01
"""


def test_the_dossier_shows_objection_outcome_instalments_write_off_and_surplus(schemas: Any) -> None:
    built = build_dossiers(schemas, OBJECTION_PLAN_WRITE_OFF)
    d = built["BH-7"]

    assert d["objections"] == [
        {
            "step": 4,
            "received": "2024-03-18",
            "registered": "2024-03-25",
            "outcome": "upheld",
            "meaning": "upheld — the debtor is right: the amount is credited and the collection costs fall away",
            "decided": "2024-04-10",
            "decided_step": 5,
            "credited": "1000.00",
        }
    ]
    (plan,) = d["plans"]
    assert [(i["due"], i["status"]) for i in plan["installments"]] == [
        ("2024-05-20", "paid"),
        ("2024-06-20", "missed"),
        ("2024-07-20", "falls due"),  # as of 2024-07-01
    ]
    assert plan["broken"] == {"step": 8, "on": "2024-06-25", "missed_due": "2024-06-20", "shortfall": "700.00"}
    assert d["write_off"] is not None and d["write_off"]["reason"] == "uneconomic"
    assert d["steps"][-1]["after_as_of"] is True  # written off after the as-of date
    assert d["surplus"] is None
    page = render_html(d)
    for text in ("upheld — the debtor is right", "falls due", "missed", "uneconomic: the remnant is not worth"):
        assert text in page, text

    overpaid = built["BH-8"]
    assert overpaid["surplus"] == {"amount": "99.32", "currency": "NOK"}
    assert "beyond the balance is owed back to the debtor" in overpaid["steps"][1]["what"]
    assert "99.32 NOK was paid beyond what was owed and is owed back to the debtor" in render_html(overpaid)


def test_the_dossier_shows_one_letter_for_several_claims_and_the_monitoring_step_with_its_ground(
    schemas: Any,
) -> None:
    text = next(p for p in scenario_files() if "no-37" in p.name).read_text()
    d = build_dossiers(schemas, text)["BH-2"]

    letter = next(s for s in d["steps"] if "betalingsoppfordring" in s["what"])
    assert "one letter for invoices BH-1, BH-2 (samlesak)" in letter["what"]
    assert "one fee per combined letter, charged on invoice BH-1" in letter["what"]
    request = d["steps"][-1]
    assert request["step"] == "Enforcement / court step" and request["effective"] == "2025-06-23"
    assert "one request for invoices BH-1, BH-2 (samlesak)" in request["what"]
    assert request["limitation"]["ground"] == "long-term monitoring: utleggsbegjaering"
    assert request["limitation"]["until"] == "2028-06-23"
    assert "long-term monitoring of the claim written down on 2025-02-10" in request["limitation"]["legal_basis"]
    page = render_html(d)
    assert "limitation interrupted (long-term monitoring: utleggsbegjaering)" in page
    assert "taken before the limitation date 2025-08-22" in page


def test_ageing_counts_only_open_claims_by_days_past_due(schemas: Any) -> None:
    conn, names = schemas
    app = CollectionApp()
    scenario = Scenario.parse_text("""
scenario: ageing
steps:
  - {on: 2025-01-02, do: issue_invoice, invoice: PAID, amount: "500.00", due: 2025-02-03}
  - {on: 2025-01-02, do: issue_invoice, invoice: LATE, amount: "700.00", due: 2025-02-03}
  - {on: 2025-02-03, do: register_payment, invoice: PAID, amount: "500.00"}
""")
    run_scenario(scenario, app)
    project(conn, names, app)
    with conn.cursor() as cur:
        rows = ledger.ageing(cur, names["ledger"], date(2025, 3, 20))
    assert [(bucket, count, amount) for _, bucket, count, amount in rows] == [("31-60", 1, Decimal("700.00"))]


def test_the_ledger_keeps_no_index_of_postings_by_debtor(schemas: Any) -> None:
    """No query reads postings by debtor (ADR 0043): a schema made before loses the index when its tables are
    ensured again, and the indexes the queries use stay."""
    conn, names = schemas
    schema = names["ledger"]

    def indexes() -> set[str]:
        rows = conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = 'postings'",
                            (schema,)).fetchall()  # fmt: skip
        return {str(name) for (name,) in rows}

    assert indexes() == {"postings_pkey", "postings_case", "postings_creditor"}
    conn.execute(f'CREATE INDEX postings_debtor ON "{schema}".postings (debtor_id)')  # as schemas before it had
    with conn.cursor() as cur:
        ledger.Ledger().create_tables(cur, schema)
    assert indexes() == {"postings_pkey", "postings_case", "postings_creditor"}
