"""The bank files beside the own scenarios are exactly what intake's writers make (reproducible), and
each bad one is refused by the reader naming its place."""

from __future__ import annotations

from pathlib import Path

import pytest

from intake import check
from intake.errors import BankFileError
from tests.support.scenario_bank_files import FILES, WRITERS, differences


def test_committed_files_equal_their_writers() -> None:
    assert differences() == []


@pytest.mark.parametrize(
    ("name", "place"),
    [
        ("no-40-truncated.ocr", "line 5: file: truncated"),
        ("no-40-short-record.ocr", "line 4: record length"),
        ("no-40-wrong-total.ocr", "line 6: end record for the transmission total amount"),
        ("no-40-negative-amount.xml", "element /Document/BkToCstmrDbtCdtNtfctn/Ntfctn[1]/Ntry[1]/Amt"),
        ("no-40-unknown-version.xml", "camt.054.001.04 is not supported"),
    ],
)
def test_bad_files_are_refused_naming_the_place(name: str, place: str) -> None:
    assert name in WRITERS
    with pytest.raises(BankFileError) as refused:
        with check(FILES / name):
            pass
    assert place in str(refused.value)


def test_good_files_pass_the_reader() -> None:
    for name in WRITERS:
        if "no-40" in name:
            continue
        with check(Path(FILES / name)) as checked:
            assert checked.summary.credit_count > 0
