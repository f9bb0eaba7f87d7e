"""`kravsak trail` with bad input or no server: one line naming the problem and the fix, exit code 2,
no traceback — and no connection attempt when the input alone is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kravsak.cli import app


def one_line(args: list[str]) -> str:
    result = CliRunner().invoke(app, args)
    assert "Traceback" not in result.output
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.fixture(autouse=True)
def no_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A DSN where nothing listens: the tests below must fail before, or cleanly at, the connection."""
    monkeypatch.setenv("KRAVSAK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KRAVSAK_PG_DSN", "postgresql://kravsak@127.0.0.1:9/kravsak")


def test_trail_out_into_a_missing_folder_is_refused_before_anything_runs(tmp_path: Path) -> None:
    line = one_line(["trail", "INV-1", "--format", "html", "--out", str(tmp_path / "no" / "such" / "d.html")])
    missing = tmp_path / "no" / "such"
    assert line == (
        f"error: --out {missing}/d.html: the folder {missing} does not exist — fix: create it first, or write elsewhere"
    )


def test_trail_with_postgres_down_is_one_line_naming_the_server_and_the_fix() -> None:
    line = one_line(["trail", "INV-1"])
    assert line.startswith("error: PostgreSQL does not answer at 127.0.0.1:9/kravsak (")
    assert line.endswith("— fix: start the local stack with `kravsak up`, or point KRAVSAK_PG_DSN at a running server")


def test_trail_with_an_unknown_format_or_date_is_one_line() -> None:
    assert one_line(["trail", "INV-1", "--format", "pdf"]) == (
        "error: --format 'pdf' is neither json nor html — fix: give --format json or --format html"
    )
    assert one_line(["trail", "INV-1", "--on", "2024-02-30"]) == (
        "error: --on: 2024-02-30 is not an ISO date (no such day in the calendar) — fix: give a date such as 2025-04-11"
    )
