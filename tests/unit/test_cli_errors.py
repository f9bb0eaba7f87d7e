"""A problem a person can fix ends as one red line (problem and fix) and exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kravsak.cli import app
from kravsak.errors import PortInUse


def test_an_error_reads_problem_then_fix() -> None:
    error = PortInUse("port 55432 on 127.0.0.1 is in use by pid 7", "stop it")

    assert str(error) == "port 55432 on 127.0.0.1 is in use by pid 7 — fix: stop it"
    assert error.exit_code == 2


def test_a_bad_setting_ends_the_command_with_one_line_and_exit_code_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KRAVSAK_HOME", str(tmp_path))
    monkeypatch.setenv("KRAVSAK_PG_PORT", "not-a-port")

    result = CliRunner().invoke(app, ["status"])

    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith("error: KRAVSAK_PG_PORT='not-a-port' is not a port number")
    assert "— fix: set KRAVSAK_PG_PORT" in lines[0]


def test_reset_without_yes_deletes_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KRAVSAK_HOME", str(tmp_path))
    (tmp_path / "pg").mkdir()

    result = CliRunner().invoke(app, ["reset"])

    assert result.exit_code == 2
    assert "kravsak reset --yes" in result.output
    assert (tmp_path / "pg").is_dir()
