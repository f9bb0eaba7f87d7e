"""Every shared scenario passes in memory: its expectations hold and the report is well-formed."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from domain.scenario import Scenario, check_expectations, run_scenario
from tests.scenario_files import scenario_files, scenario_id


@pytest.mark.parametrize("path", scenario_files(), ids=scenario_id)
def test_shared_scenario_expectations_hold_in_memory(path: Path) -> None:
    scenario = Scenario.load(path)
    report = run_scenario(scenario)
    assert check_expectations(scenario.expect, report) == []


@pytest.mark.parametrize("path", scenario_files(), ids=scenario_id)
def test_every_invoice_balance_is_principal_interest_fees_costs_less_paid(path: Path) -> None:
    report = run_scenario(Scenario.load(path))
    for invoice, r in report["invoices"].items():
        owed = sum(Decimal(r[k]) for k in ("principal", "interest", "fees", "costs")) - Decimal(r["paid"])
        assert Decimal(r["balance"]) == owed, invoice
        assert Decimal(r["balance"]) >= 0, invoice


def test_a_scenario_is_replayed_identically_twice() -> None:
    path = scenario_files()[0]
    assert run_scenario(Scenario.load(path)) == run_scenario(Scenario.load(path))


def test_the_yaml_words_no_and_on_stay_strings() -> None:
    scenario = Scenario.parse_text("scenario: x\njurisdiction: NO\nsteps:\n  - {on: 2024-01-01, do: issue_invoice}\n")
    assert scenario.jurisdiction == "NO"
    assert "on" in scenario.steps[0]
