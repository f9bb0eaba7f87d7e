"""The bank files beside the project's own scenarios (``scenarios/own/files/``), made by intake's writers.

    python -m tests.support.scenario_bank_files           # (re)write them
    python -m tests.support.scenario_bank_files --check   # exit 1 when a committed file differs

OCR giro through netsgiro's object model, camt.054 streamed per the XSD (and validated while written),
BgMax from its record classes — the same writers the demo's banks use; the bad files are good ones
broken in one place each (a test of the reader names the place). ``tests/unit/test_scenario_bank_files.py``
holds the committed bytes equal to what this module writes, so a scenario's file is always reproducible.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from intake.write import BankPayment
from intake.write.bgmax import write_bgmax
from intake.write.camt054 import write_camt054
from intake.write.ocr import write_ocr

FILES = Path(__file__).resolve().parents[2] / "scenarios" / "own" / "files"
OCR_ACCOUNT = "15035976237"  # any office account: a scenario's one creditor owns every account in its files
IBAN = "NO8315035976237"
BANKGIRO = "0005001235"


def _p(reference: str, amount: str, ordered: date, booked: date, **extra: str) -> BankPayment:
    return BankPayment(reference, Decimal(amount), ordered, booked=booked, **extra)  # type: ignore[arg-type]


def no35_ocr(path: Path) -> None:
    """NO-38: three payments by KID (one in full, one in part, one beyond the balance), two unknown KIDs."""
    d = date
    write_ocr(
        path,
        [
            _p("9999000012", "1000.00", d(2025, 3, 3), d(2025, 3, 4), payer_account="12345678903"),
            _p("9999000020", "200.00", d(2025, 3, 1), d(2025, 3, 3), payer_account="12345678903"),
            _p("9999000038", "350.00", d(2025, 3, 3), d(2025, 3, 4), payer_account="86011117947"),
            _p("9999000053", "45.00", d(2025, 3, 4), d(2025, 3, 5)),
            _p("9999000069", "20.00", d(2025, 3, 4), d(2025, 3, 5)),
        ],
        transmission_number="0350001",
        account=OCR_ACCOUNT,
    )


def _no36_payments(rest: bool) -> list[BankPayment]:
    d = date
    paid = [
        _p("9999000079", "800.00", d(2025, 5, 2), d(2025, 5, 5), payer_name="Ola Nordmann"),
        _p("9999000087", "100.00", d(2025, 5, 2), d(2025, 5, 5), payer_name="Kari Nordmann"),
    ]
    rest_paid = _p("9999000087", "50.07", d(2025, 5, 6), d(2025, 5, 6), payer_name="Kari Nordmann")
    return paid + ([rest_paid] if rest else [])


def no36_camt08(path: Path) -> None:
    """NO-39: camt.054.001.08, order dates as AccptncDtTm."""
    write_camt054(path, _no36_payments(False), version="08", account=IBAN, message_id="NO36-NOTIFICATION",
                  created=datetime(2025, 5, 5, 7, 0), validate=True)  # fmt: skip


def no36_camt02(path: Path) -> None:
    """NO-39: the bank's next notification, camt.054.001.02 with value dates: the two payments again (the
    same account servicer references) and one new one."""
    write_camt054(path, _no36_payments(True), version="02", account=IBAN, message_id="NO36-NOTIFICATION",
                  created=datetime(2025, 5, 7, 7, 0), order_date_field="ValDt", validate=True)  # fmt: skip


def _no37_good(path: Path) -> None:
    write_ocr(path, [_p("9999000095", "400.00", date(2025, 6, 2), date(2025, 6, 3))], transmission_number="0370001",
              account=OCR_ACCOUNT)  # fmt: skip


def _edit_lines(path: Path, edit: Callable[[list[str]], list[str]]) -> None:
    lines = path.read_text(encoding="latin-1").splitlines()
    path.write_text("\n".join(edit(lines)) + "\n", encoding="latin-1")


def no37_truncated(path: Path) -> None:
    """The transmission's end record (NY000089) is missing."""
    _no37_good(path)
    _edit_lines(path, lambda lines: lines[:-1])


def no37_short_record(path: Path) -> None:
    """The amount item 2 record is 79 characters, not 80."""
    _no37_good(path)
    _edit_lines(path, lambda lines: [line[:79] if line.startswith("NY091031") else line for line in lines])


def no37_wrong_total(path: Path) -> None:
    """The end record's total amount says 400.01."""
    _no37_good(path)
    _edit_lines(path, lambda lines: [*lines[:-1], lines[-1][:24] + f"{40001:017d}" + lines[-1][41:]])


def no37_negative_camt(path: Path) -> None:
    """A camt.054 entry amount with a minus sign: the XSD allows no negative ActiveOrHistoricCurrencyAndAmount."""
    write_camt054(path, [_p("9999000095", "400.00", date(2025, 6, 2), date(2025, 6, 3))], account=IBAN,
                  message_id="NO37-NEGATIVE", created=datetime(2025, 6, 3, 7, 0))  # fmt: skip
    text = path.read_text(encoding="utf-8").replace('Ccy="NOK">400.00<', 'Ccy="NOK">-400.00<', 1)
    path.write_text(text, encoding="utf-8")


def no37_unknown_version(path: Path) -> None:
    """camt.054.001.04: a version kravsak ships no XSD for."""
    write_camt054(path, [_p("9999000095", "400.00", date(2025, 6, 2), date(2025, 6, 3))], account=IBAN,
                  message_id="NO37-VERSION", created=datetime(2025, 6, 3, 7, 0))  # fmt: skip
    text = path.read_text(encoding="utf-8").replace("camt.054.001.08", "camt.054.001.04")
    path.write_text(text, encoding="utf-8")


def no37_ordered_later(path: Path) -> None:
    """A payment whose order (bank) date lies after the day the file is imported."""
    write_ocr(path, [_p("9999000095", "400.00", date(2025, 6, 5), date(2025, 6, 5))], transmission_number="0370002",
              account=OCR_ACCOUNT)  # fmt: skip


def se34_bgmax(path: Path) -> None:
    """SE-35: one deposit: two payments by OCR reference (one beyond the balance), one with a text reference."""
    d = date(2025, 4, 30)
    write_bgmax(
        path,
        [
            _p("99990000129", "1200.00", d, d, payer_name="Anna Svensson"),
            _p("99990000202", "700.00", d, d, payer_name="Erik Svensson", payer_account="0009912346"),
            _p("Faktura april", "250.00", d, d, payer_name="Okänd betalare"),
        ],
        bankgiro=BANKGIRO,
        created=datetime(2025, 5, 2, 6, 0),
    )


WRITERS: dict[str, Callable[[Path], None]] = {
    "no-38-innbetalinger.ocr": no35_ocr,
    "no-39-notification-08.xml": no36_camt08,
    "no-39-notification-02.xml": no36_camt02,
    "no-40-truncated.ocr": no37_truncated,
    "no-40-short-record.ocr": no37_short_record,
    "no-40-wrong-total.ocr": no37_wrong_total,
    "no-40-negative-amount.xml": no37_negative_camt,
    "no-40-unknown-version.xml": no37_unknown_version,
    "no-40-ordered-later.ocr": no37_ordered_later,
    "se-35-inbetalningar.bgmax": se34_bgmax,
}


def write_all(folder: Path = FILES) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, writer in WRITERS.items():
        writer(folder / name)
        written.append(folder / name)
    return written


def differences(folder: Path = FILES) -> list[str]:
    with tempfile.TemporaryDirectory() as scratch:
        fresh = Path(scratch)
        write_all(fresh)
        return [
            name
            for name in WRITERS
            if not (folder / name).is_file() or (folder / name).read_bytes() != (fresh / name).read_bytes()
        ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.scenario_bank_files")
    parser.add_argument("--check", action="store_true", help="fail when a committed file differs")
    args = parser.parse_args(argv)
    if args.check:
        stale = differences()
        for name in stale:
            print(f"{FILES / name}: differs from its writer (run python -m tests.support.scenario_bank_files)")
        return 1 if stale else 0
    for path in write_all():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
