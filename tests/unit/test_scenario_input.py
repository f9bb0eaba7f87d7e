"""Bad scenario input on the CLI: one line naming the file, step, field and rule, exit code 2, no
traceback, and nothing run. The domain's own refusals stay refused steps in the report."""

from __future__ import annotations

import inspect
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from domain.scenario import COMMAND_ARGUMENTS, Scenario, ScenarioError, ScenarioRunner, run_scenario
from kravsak.cli import app

ISSUE = '{on: 2024-02-15, do: issue_invoice, invoice: INV-1, amount: "1000.00", due: 2024-03-15}'


def run_cli(tmp_path: Path, text: str, *args: str) -> tuple[int, list[str], str]:
    path = tmp_path / "case.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["scenario", "run", *args, str(path)])
    lines = [line for line in result.output.splitlines() if line.strip()]
    return result.exit_code, lines, result.output


def refused(tmp_path: Path, text: str) -> str:
    """The one error line for a scenario the CLI must refuse before running anything."""
    code, lines, output = run_cli(tmp_path, text, "--check")
    assert "Traceback" not in output
    assert code == 2, output
    assert len(lines) == 1, output
    assert lines[0].startswith(f"error: {tmp_path / 'case.yaml'}")
    return lines[0]


def test_an_unknown_jurisdiction_is_refused_naming_jurisdiction(tmp_path: Path) -> None:
    line = refused(tmp_path, f"scenario: x\njurisdiction: DK\nsteps:\n  - {ISSUE}\n")
    assert line.endswith("invalid_input: jurisdiction: 'DK' is not NO or SE")


def test_a_date_that_is_no_calendar_day_is_refused_naming_the_step_and_field(tmp_path: Path) -> None:
    line = refused(
        tmp_path,
        f"scenario: x\nsteps:\n  - {ISSUE}\n  - {{on: 2024-02-30, do: credit_invoice, invoice: INV-1, amount: '1'}}\n",
    )
    assert line.endswith("step 1: invalid_input: on: '2024-02-30' is not a calendar date")


def test_an_unknown_command_fails_the_run_listing_the_known_ones(tmp_path: Path) -> None:
    line = refused(
        tmp_path, f"scenario: x\nsteps:\n  - {ISSUE}\n  - {ISSUE.replace('issue_invoice', 'issue_invoce')}\n"
    )
    assert "step 1: invalid_input: do: 'issue_invoce' is not a scenario command (known: agree_payment_plan," in line
    assert all(command in line for command in COMMAND_ARGUMENTS)


def test_unknown_keys_in_a_step_are_named(tmp_path: Path) -> None:
    step = ISSUE.replace("}", ", claimtype: sfo, colour: red}")
    line = refused(tmp_path, f"scenario: x\nsteps:\n  - {step}\n")
    assert "step 0: invalid_input: claimtype, colour: unknown keys of the issue_invoice step (known: amount," in line


def test_an_amount_with_a_decimal_comma_is_refused_naming_amount(tmp_path: Path) -> None:
    block = "scenario: x\nsteps:\n  - on: 2024-02-15\n    do: issue_invoice\n    invoice: INV-1\n"
    line = refused(tmp_path, block + "    amount: 1000,5\n    due: 2024-03-15\n")
    assert line.endswith(
        "step 0: invalid_input: amount: '1000,5' is not an exact decimal amount "
        '(digits, a point, decimals: "1000.50")'
    )


def test_an_unquoted_decimal_comma_in_a_flow_mapping_is_refused_naming_amount(tmp_path: Path) -> None:
    line = refused(
        tmp_path,
        "scenario: x\nsteps:\n  - {on: 2024-02-15, do: issue_invoice, invoice: I, amount: 1000,5, due: 2024-03-15}\n",
    )
    assert "step 0: invalid_input: amount: 1000,5 is not an amount: a decimal comma splits the step" in line


def test_a_yaml_float_amount_is_refused_money_is_never_a_float(tmp_path: Path) -> None:
    line = refused(tmp_path, f"scenario: x\nsteps:\n  - {ISSUE.replace(chr(34) + '1000.00' + chr(34), '1000.50')}\n")
    assert line.endswith(
        'step 0: invalid_input: amount: 1000.5 is a YAML float and money is never a float: quote it, "1000.50"'
    )


def test_a_whole_number_amount_is_exact_and_accepted(tmp_path: Path) -> None:
    code, _, output = run_cli(
        tmp_path, f"scenario: x\nsteps:\n  - {ISSUE.replace(chr(34) + '1000.00' + chr(34), '1000')}\n"
    )
    assert code == 0, output
    assert '"principal": "1000.00"' in output


def test_unknown_top_level_keys_and_bad_debtors_are_refused(tmp_path: Path) -> None:
    assert refused(tmp_path, f"scenario: x\nreprot_on: 2024-04-01\nsteps:\n  - {ISSUE}\n").endswith(
        "invalid_input: reprot_on: unknown key of a scenario (known: creditor, debtors, expect, jurisdiction, "
        "policy, report_on, scenario, steps)"
    )
    assert refused(tmp_path, f"scenario: x\ndebtors: {{D1: {{kind: alien}}}}\nsteps:\n  - {ISSUE}\n").endswith(
        "invalid_input: debtors.D1.kind: 'alien' is not person or organisation"
    )


def test_broken_yaml_is_one_line_with_its_place(tmp_path: Path) -> None:
    assert "invalid_input: not valid YAML at line 3, column 1" in refused(tmp_path, "scenario: x\nsteps: [\n")


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["scenario", "run", str(tmp_path / "nope.yaml")])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and "cannot read the scenario file" in lines[0]
    assert "Traceback" not in result.output


def test_a_bad_file_among_several_stops_the_command_before_any_file_runs(tmp_path: Path) -> None:
    good = tmp_path / "a-good.yaml"
    good.write_text(f"scenario: good\nsteps:\n  - {ISSUE}\n", encoding="utf-8")
    bad = tmp_path / "b-bad.yaml"
    bad.write_text("scenario: bad\njurisdiction: DK\nsteps: []\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["scenario", "run", "--check", str(good), str(bad)])
    assert result.exit_code == 2
    assert [line for line in result.output.splitlines() if line.strip()] == [
        f"error: {bad}: invalid_input: jurisdiction: 'DK' is not NO or SE"
    ]


def test_postgres_that_does_not_answer_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRAVSAK_PG_DSN", "postgresql://kravsak@127.0.0.1:9/kravsak")
    code, lines, output = run_cli(tmp_path, f"scenario: x\nsteps:\n  - {ISSUE}\n", "--store", "postgres")
    assert code == 2 and len(lines) == 1 and "Traceback" not in output
    assert lines[0].startswith("error: PostgreSQL does not answer at 127.0.0.1:9/kravsak")
    assert "fix: start the local stack with `kravsak up`" in lines[0]


# --- the same rules in the domain ---------------------------------------------------------------------


def test_the_command_table_names_exactly_the_runners_commands() -> None:
    handlers = {name.removeprefix("_do_") for name, _ in inspect.getmembers(ScenarioRunner) if name.startswith("_do_")}
    assert handlers == set(COMMAND_ARGUMENTS)


def test_a_malformed_step_in_a_scenario_built_in_code_is_a_refused_step() -> None:
    scenario = Scenario.parse({"scenario": "x", "steps": []})
    scenario.steps = [{"on": date(2024, 2, 15), "do": "issue_invoce"}]
    report = run_scenario(scenario)
    assert report["steps"][0]["accepted"] is False
    assert report["steps"][0]["error"]["code"] == "invalid_input"
    assert report["steps"][0]["error"]["message"].startswith("do: 'issue_invoce' is not a scenario command (known:")


def test_a_domain_refusal_stays_a_refused_step_not_a_file_error() -> None:
    scenario = Scenario.parse_text(f"scenario: x\nsteps:\n  - {ISSUE.replace('1000.00', '-5.00')}\n")
    report = run_scenario(scenario)
    assert report["steps"][0]["error"]["code"] == "invalid_input"
    assert "amount" in report["steps"][0]["error"]["message"]


def test_a_scenario_error_reads_where_step_code_field_and_rule() -> None:
    with pytest.raises(ScenarioError) as raised:
        Scenario.parse_text(
            f"scenario: x\nsteps:\n  - {ISSUE}\n  - {{on: 2024-03-01, do: write_off, invoice: INV-1, why: x}}\n",
            where="f.yaml",
        )
    assert str(raised.value) == (
        "f.yaml, step 1: invalid_input: why: unknown key of the write_off step (known: do, invoice, on, reason)"
    )
    assert raised.value.step == 1
