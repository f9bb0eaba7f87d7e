"""Every scenario passes in memory: its expectations hold and the report is well-formed."""

from __future__ import annotations

import hashlib
import os
from decimal import Decimal
from pathlib import Path

import pytest

from domain.scenario import Scenario, check_expectations, run_scenario
from tests.scenario_files import (
    OWN,
    REPO,
    SCENARIOS,
    scenario_files,
    scenario_id,
    scenario_params,
)


@pytest.mark.parametrize("path", scenario_params())
def test_scenario_expectations_hold_in_memory(path: Path) -> None:
    scenario = Scenario.load(path)
    report = run_scenario(scenario)
    assert check_expectations(scenario.expect, report) == []


@pytest.mark.parametrize("path", scenario_params())
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


# --- the repository's own copy --------------------------------------------------------------------

FORMAT_BODY_SHA256 = "360d11ed97176c66735e5d081a02b14553fbe0eb6cb594982d0939caeac4f856"
"""The scenario contract, format 1.1, as published: docs/scenario-format.md after its one-line note."""


def test_the_scenario_files_are_the_published_ones_unchanged() -> None:
    listed = {}
    for line in (SCENARIOS / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        digest, name = line.split(maxsplit=1)
        listed[name] = digest
    present = {p.relative_to(SCENARIOS).as_posix() for p in SCENARIOS.rglob("*.yaml") if not p.is_relative_to(OWN)}
    assert set(listed) == present
    for name, digest in listed.items():
        assert hashlib.sha256((SCENARIOS / name).read_bytes()).hexdigest() == digest, name


def test_the_format_document_is_the_contract_with_a_one_line_note_on_top() -> None:
    note, body = (REPO / "docs" / "scenario-format.md").read_bytes().split(b"\n", 1)
    assert note.startswith(b"> ") and b"scenarios/" in note
    assert body.startswith(b"# Scenario format, version 1.1\n")
    assert hashlib.sha256(body).hexdigest() == FORMAT_BODY_SHA256


def test_kravsak_scenarios_adds_every_file_under_each_folder_it_names(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    (two / "v1.1").mkdir(parents=True)
    one.mkdir()
    (one / "a.yaml").write_text("scenario: a\nsteps: []\n")
    (two / "b.yaml").write_text("scenario: b\nsteps: []\n")
    (two / "v1.1" / "c.yaml").write_text("scenario: c\nsteps: []\n")

    files = scenario_files({"KRAVSAK_SCENARIOS": f"{one}{os.pathsep}{two}"})

    repo_files = scenario_files({})
    assert files[: len(repo_files)] == repo_files
    assert files[len(repo_files) :] == [one / "a.yaml", two / "b.yaml", two / "v1.1" / "c.yaml"]
    assert scenario_id(two / "b.yaml") == "$KRAVSAK_SCENARIOS:two/b"
    assert scenario_id(SCENARIOS / "v1.1" / "no-20-kid-payment-surplus.yaml") == "v1.1/no-20-kid-payment-surplus"


def test_kravsak_scenarios_naming_no_folder_stops_the_run(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="KRAVSAK_SCENARIOS names .*missing, which is not a folder"):
        scenario_files({"KRAVSAK_SCENARIOS": str(tmp_path / "missing")})
    with pytest.raises(FileNotFoundError, match="holds no"):
        scenario_files({"KRAVSAK_SCENARIOS": str(tmp_path)})


def test_every_published_case_and_the_projects_own_run_on_every_path() -> None:
    ids = {p.id for p in scenario_params()}
    assert {f"v1.1/{p.stem}" for p in (SCENARIOS / "v1.1").glob("*.yaml")} <= ids
    assert {f"own/{p.stem}" for p in OWN.glob("*.yaml")} <= ids
    assert not any(p.marks for p in scenario_params())
