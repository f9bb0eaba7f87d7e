"""The reader: format recognition, the verdict before any transaction, the spool, duplicates."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

import intake
from intake import reader
from intake.write import BankPayment
from intake.write.bgmax import write_bgmax
from intake.write.camt054 import write_camt054
from intake.write.ocr import write_ocr
from tests.unit.intake.helpers import FIXTURES, read_all

PAYMENTS = [BankPayment(f"{1000 + i}7", Decimal("10.00"), date(2025, 3, 1)) for i in range(5)]


@pytest.mark.parametrize(
    ("writer", "expected"),
    [
        (write_ocr, intake.FileFormat.OCR),
        (write_camt054, intake.FileFormat.CAMT054),
        (write_bgmax, intake.FileFormat.BGMAX),
    ],
)
def test_the_format_is_recognised_from_the_first_bytes(tmp_path: Path, writer: object, expected: object) -> None:
    path = tmp_path / "bank-file"
    writer(path, PAYMENTS)  # type: ignore[operator]

    assert intake.detect_format(path) is expected
    summary, _ = read_all(path)
    assert summary.format is expected


def test_a_file_of_no_known_format_is_refused_at_line_1(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("date;amount\n2025-03-01;10.00\n")

    with pytest.raises(intake.UnknownFormat) as caught:
        intake.check(path)
    assert caught.value.line == 1 and caught.value.code == "invalid_input"


def test_a_named_format_that_does_not_fit_the_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f"
    write_bgmax(path, PAYMENTS)

    with pytest.raises(intake.BankFileError) as caught:
        intake.check(path, "ocr")
    assert caught.value.line == 1


def test_transactions_come_from_the_spool_and_can_be_read_again(tmp_path: Path) -> None:
    path = tmp_path / "f.ocr"
    write_ocr(path, PAYMENTS)

    with intake.check(path) as checked:
        first, second = list(checked.transactions()), list(checked.transactions())
    assert first == second and len(first) == 5


def test_progress_is_reported_in_bytes_up_to_the_files_size(tmp_path: Path) -> None:
    path = tmp_path / "f.ocr"
    write_ocr(path, PAYMENTS * 2000)
    seen: list[int] = []

    intake.check(path, progress=seen.append).close()

    assert seen == sorted(seen) and seen[-1] == path.stat().st_size and len(seen) > 2


def test_a_refused_file_yields_nothing(tmp_path: Path) -> None:
    lines = (FIXTURES / "ocr-every-type.ocr").read_text().splitlines()
    path = tmp_path / "f.ocr"
    path.write_text("\n".join(lines[:-1]) + "\n")

    with pytest.raises(intake.BankFileError):
        checked = intake.check(path)
        list(checked.transactions())  # pragma: no cover - never reached


def test_a_bloom_false_positive_is_cleared_by_the_confirming_pass(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(reader._SeenIds, "_BITS", 8)  # a tiny filter: nearly every id looks seen
    path = tmp_path / "f.ocr"
    write_ocr(path, PAYMENTS)

    summary, txs = read_all(path)

    assert summary.credit_count == len({t.transaction_id for t in txs}) == 5


def test_the_duplicate_filter_keeps_its_size_whatever_the_file() -> None:
    seen = reader._SeenIds()
    for i in range(20_000):
        seen.add(f"ocr:1:2:3:{i}")

    assert len(seen._bits) == 2 * 1024 * 1024 and len(seen.suspects) == 0
