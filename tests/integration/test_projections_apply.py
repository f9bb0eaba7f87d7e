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


def test_the_dossier_shows_the_steps_the_findings_and_the_costs_that_fell_away(schemas: Any) -> None:
    conn, names = schemas
    app = CollectionApp()
    scenario = Scenario.load(next(p for p in scenario_files() if "no-18" in p.name))
    report = run_scenario(scenario, app)
    project(conn, names, app)
    suffix = names["ledger"].removeprefix("kravsak_ledger")
    case = str(app.claim(scenario.creditor, "SFO-22").id)
    with conn.cursor() as cur:
        d = dossier.build(cur, case, date.fromisoformat(report["report_on"]), suffix=suffix)
    assert d is not None
    assert d["claim"]["invoice"] == "SFO-22" and d["figures"]["fees"] == "0.00"
    assert [s["step"] for s in d["steps"]] == [
        "Invoice issued",
        "Notice sent",
        "Objection received",
        "Objection resolved",
        "Costs fell away",
    ]
    assert any(f["code"] == "costs_not_recoverable" and f["step"] == "Notice sent" for f in d["findings"])
    assert d["costs_fallen_away"] and d["costs_fallen_away"][0]["amount"] == "35.00"
    page = dossier.render_html(d)
    assert "costs_not_recoverable" in page and "SFO-22" in page and "inkassovarsel" in page


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
