"""Small helpers for the intake tests: fixture paths, and editing a file's lines."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import intake

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "intake"


def lines_of(path: Path, encoding: str = "latin-1") -> list[str]:
    return path.read_bytes().decode(encoding).splitlines()


def write_lines(path: Path, lines: list[str], encoding: str = "latin-1") -> Path:
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def edited(source: Path, target: Path, edit: Callable[[list[str]], list[str]]) -> Path:
    return write_lines(target, edit(lines_of(source)))


def put(line: str, start: int, value: str) -> str:
    """`line` with `value` at 1-based position `start` (same length)."""
    return line[: start - 1] + value + line[start - 1 + len(value) :]


def refusal(path: Path, file_format: str | None = None) -> intake.BankFileError:
    with pytest.raises(intake.BankFileError) as caught:
        intake.check(path, file_format).close()
    return caught.value


def read_all(path: Path, file_format: str | None = None) -> tuple[intake.FileSummary, list[intake.CreditTransaction]]:
    with intake.check(path, file_format) as checked:
        return checked.summary, list(checked.transactions())
