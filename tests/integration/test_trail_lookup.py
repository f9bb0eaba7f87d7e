"""`kravsak trail` finds a case by invoice number, by KID (OCR reference) or by case id, in the live
read models the pipeline built; an invoice number two creditors use needs --creditor."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import uuid4

import pytest
from typer.testing import CliRunner

from domain.scenario import Scenario
from kravsak.cli import app
from kravsak.pipeline import run_through_kafka
from kravsak.settings import Settings

pytestmark = pytest.mark.integration


def scenario(creditor: str, invoice: str) -> Scenario:
    return Scenario.parse_text(f"""
scenario: trail lookup
creditor: "{creditor}"
steps:
  - {{on: 2025-01-10, do: issue_invoice, invoice: {invoice}, amount: "900.00", due: 2025-02-10, claim_type: sfo}}
  - {{on: 2025-02-25, do: send_notice, invoice: {invoice}, notice: purring}}
report_on: 2025-03-01
""")


def trail(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["trail", *args])
    return result.exit_code, result.output


def test_trail_finds_a_case_by_invoice_kid_or_case_id(settings: Settings, stack: object, tmp_path: Path) -> None:
    invoice = f"TL-{uuid4().hex[:10]}"
    report = run_through_kafka(scenario("4601", invoice), settings)
    kid = report["invoices"][invoice]["kid"]

    code, output = trail(invoice, "--on", "2025-03-01")
    assert code == 0, output
    by_invoice = json.loads(output)
    assert by_invoice["claim"]["kid"] == kid
    for reference in (kid, by_invoice["case_id"]):
        code, output = trail(reference, "--on", "2025-03-01")
        assert code == 0, output
        assert json.loads(output)["case_id"] == by_invoice["case_id"]

    page = tmp_path / "dossier.html"
    code, output = trail(kid, "--format", "html", "--out", str(page))
    assert code == 0 and page.read_text(encoding="utf-8").startswith("<!doctype html>")

    code, output = trail(f"NO-SUCH-{uuid4().hex[:8]}")
    assert code == 2 and "Traceback" not in output
    assert "no case with invoice number, KID or case id" in output


def test_an_invoice_number_two_creditors_use_needs_the_creditor(settings: Settings, stack: object) -> None:
    invoice = f"TL-{uuid4().hex[:10]}"
    run_through_kafka(scenario("4601", invoice), settings)
    run_through_kafka(scenario("4602", invoice), settings)

    code, output = trail(invoice)
    lines = [line for line in output.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1
    assert f"'{invoice}' names 2 cases (several creditors use it)" in lines[0]
    code, output = trail(invoice, "--creditor", "4602")
    assert code == 0 and json.loads(output)["creditor"] == "4602"
