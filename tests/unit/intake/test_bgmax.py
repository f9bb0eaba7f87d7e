"""Bankgirot BgMax: one test per record type (TK01 … TK70), then the file: deposits, controls, bad files.

`bgmax-every-record.bgmax` is hand-made after Bankgirot's layout: two deposits; a checked OCR
payment with name, address and organisation number; a deduction; a payment with two extra
references and a minus reference; a payment without reference and one with a failed reference.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

import intake
from intake import bgmax
from intake.model import ExtraReference, SkipReason
from tests.unit.intake.helpers import FIXTURES, edited, lines_of, put, read_all, refusal

EXAMPLE = FIXTURES / "bgmax-every-record.bgmax"
LINES = lines_of(EXAMPLE)


def record(number: int) -> str:
    return LINES[number - 1]


def test_tk01_start_record() -> None:
    start = bgmax.parse_record(record(1), 1)

    assert start == bgmax.Start(version="01", timestamp="20250303061500123456", test=False)
    assert start.line() == record(1)


def test_tk01_marks_a_test_file_and_refuses_another_layout() -> None:
    assert bgmax.Start.parse(put(record(1), 45, "T")).test
    with pytest.raises(intake.BankFileError, match="must be BGMAX"):
        bgmax.parse_record(put(record(1), 3, "BGMIN"), 1)


def test_tk05_opening_record() -> None:
    opening = bgmax.parse_record(record(2), 2)

    assert opening == bgmax.Opening(bankgiro="0009912346", plusgiro="", currency="SEK")
    assert opening.line() == record(2)


def test_tk20_payment_record() -> None:
    payment = bgmax.parse_record(record(3), 3)

    assert isinstance(payment, bgmax.Payment)
    assert (payment.sender_bankgiro, payment.reference.strip(), payment.amount) == ("0003783511", "12345678903", 125000)
    assert (payment.reference_code, payment.channel, payment.serial, payment.image) == (2, 1, "000000000101", 0)
    assert not payment.is_deduction and payment.line() == record(3)


def test_tk21_deduction_record() -> None:
    deduction = bgmax.parse_record(record(8), 8)

    assert isinstance(deduction, bgmax.Payment)
    assert deduction.is_deduction and deduction.deduction_code == 1 and deduction.amount == 20000
    assert deduction.line() == record(8)


def test_tk22_and_tk23_extra_reference_records() -> None:
    plus, minus = bgmax.parse_record(record(10), 10), bgmax.parse_record(record(12), 12)

    assert isinstance(plus, bgmax.ExtraReferenceRecord) and isinstance(minus, bgmax.ExtraReferenceRecord)
    assert (plus.reference.strip(), plus.amount, plus.negative) == ("98765", 50000, False)
    assert (minus.reference.strip(), minus.amount, minus.negative) == ("98781", 10000, True)
    assert plus.line() == record(10) and minus.line() == record(12)


def test_tk25_information_record() -> None:
    info = bgmax.parse_record(record(13), 13)

    assert info == bgmax.Information("Två fakturor, avdrag för kreditnota 98781")
    assert info.line() == record(13)


def test_tk26_name_record() -> None:
    name = bgmax.parse_record(record(4), 4)

    assert name == bgmax.Name("Kalles Plåt AB", "c/o Lisa Larsson")
    assert name.line() == record(4)


def test_tk27_address_record() -> None:
    address = bgmax.parse_record(record(5), 5)

    assert address == bgmax.Address("Storgatan 2", "123 45")
    assert address.line() == record(5)


def test_tk28_address_record_2() -> None:
    address = bgmax.parse_record(record(6), 6)

    assert address == bgmax.Address2("Storåker", "Sverige", "SE")
    assert address.line() == record(6)


def test_tk29_organisation_number_record() -> None:
    number = bgmax.parse_record(record(7), 7)

    assert number == bgmax.OrganisationNumber("005500001234")
    assert number.line() == record(7)
    with pytest.raises(intake.BankFileError, match=r"organisation number \(positions 3-14\)"):
        bgmax.parse_record(put(record(7), 5, "X"), 7)


def test_tk15_deposit_record() -> None:
    deposit = bgmax.parse_record(record(15), 15)

    assert deposit == bgmax.Deposit("0" * 21 + "58410000010098", date(2025, 3, 3), "00071", 185000, "SEK", 3, " ")
    assert deposit.line() == record(15)


def test_tk70_end_record() -> None:
    end = bgmax.parse_record(record(20), 20)

    assert end == bgmax.End(payments=4, deductions=1, extra_references=3, deposits=2)
    assert end.line() == record(20)


# ---- the file -------------------------------------------------------------------------------------


def test_payments_are_read_with_the_deposit_day_as_order_date() -> None:
    summary, txs = read_all(EXAMPLE)

    assert summary.version == "BgMax 01" and not summary.test_file
    assert summary.credit_amount("SEK") == Decimal("2199.00")
    assert [(t.line, t.amount, t.ordered, t.ordered_from) for t in txs] == [
        (3, Decimal("1250.00"), date(2025, 3, 3), "TK15 payment day"),
        (9, Decimal("800.00"), date(2025, 3, 3), "TK15 payment day"),
        (17, Decimal("99.00"), date(2025, 3, 4), "TK15 payment day"),
        (18, Decimal("50.00"), date(2025, 3, 4), "TK15 payment day"),
    ]


def test_only_a_checked_ocr_reference_is_structured() -> None:
    _, txs = read_all(EXAMPLE)

    assert [(t.reference, t.structured) for t in txs] == [
        ("12345678903", True),
        ("98765 98773", False),
        ("", False),
        ("4711", False),
    ]


def test_a_payments_extra_records_belong_to_it() -> None:
    _, txs = read_all(EXAMPLE)

    first, second = txs[0], txs[1]
    assert (first.payer_name, first.payer_id, first.payer_account) == (
        "Kalles Plåt AB c/o Lisa Larsson",
        "005500001234",
        "0003783511",
    )
    assert second.extra_references == (
        ExtraReference("98765", Decimal("500.00")),
        ExtraReference("98773", Decimal("400.00")),
        ExtraReference("98781", Decimal("-100.00")),
    )
    assert second.text == "Två fakturor, avdrag för kreditnota 98781"


def test_the_transaction_id_is_bankgiro_day_deposit_and_ordinal_and_the_bgc_serial_is_kept() -> None:
    summary, txs = read_all(EXAMPLE)

    assert [t.transaction_id for t in txs] == [
        "bgmax:0009912346:20250303:00071:00001",
        "bgmax:0009912346:20250303:00071:00003",
        "bgmax:0009912346:20250304:00072:00001",
        "bgmax:0009912346:20250304:00072:00002",
    ]
    assert txs[0].bank_reference == "000000000101"
    assert summary.payee_accounts == {"0009912346"}


def test_a_deduction_is_counted_and_skipped() -> None:
    summary, _ = read_all(EXAMPLE)

    assert summary.skipped == {SkipReason.DEBIT: 1}


def test_a_wrong_deposit_amount_is_refused(tmp_path: Path) -> None:
    error = refusal(edited(EXAMPLE, tmp_path / "f", lambda ls: [*ls[:14], put(ls[14], 51, f"{185001:018d}"), *ls[15:]]))

    assert (error.line, error.field) == (15, "TK15 deposit record deposit amount (positions 51-68)")
    assert error.rule == "says 1850.01 but the payments less deductions give 1850.00"


def test_a_wrong_number_of_payments_in_a_deposit_is_refused(tmp_path: Path) -> None:
    error = refusal(edited(EXAMPLE, tmp_path / "f", lambda ls: [*ls[:14], put(ls[14], 72, "00000004"), *ls[15:]]))

    assert error.line == 15 and "says 4 but the deposit has 3" in error.rule


def test_a_wrong_count_in_the_end_record_is_refused(tmp_path: Path) -> None:
    error = refusal(edited(EXAMPLE, tmp_path / "f", lambda ls: [*ls[:19], put(ls[19], 19, "00000002")]))

    assert error.line == 20
    assert error.field == "TK70 end record number of extra reference records (positions 19-26)"


def test_an_unknown_version_is_refused(tmp_path: Path) -> None:
    error = refusal(edited(EXAMPLE, tmp_path / "f", lambda ls: [put(ls[0], 23, "02"), *ls[1:]]))

    assert isinstance(error, intake.UnknownFormat)
    assert error.line == 1 and "version 02 is not supported" in error.rule


def test_a_record_of_the_wrong_length_is_refused(tmp_path: Path) -> None:
    error = refusal(edited(EXAMPLE, tmp_path / "f", lambda ls: [*ls[:3], ls[3].rstrip(), *ls[4:]]))

    assert (error.line, error.field) == (4, "record length")


def test_a_utf8_file_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(EXAMPLE.read_bytes().decode("latin-1").encode("utf-8"))

    error = refusal(path, "bgmax")

    assert error.line == 4 and "looks UTF-8 encoded" in error.rule


def test_an_unknown_record_type_is_refused(tmp_path: Path) -> None:
    error = refusal(edited(EXAMPLE, tmp_path / "f", lambda ls: [*ls[:5], "24" + ls[5][2:], *ls[6:]]))

    assert (error.line, error.field) == (6, "transaction code (positions 1-2)")


def test_a_non_numeric_amount_is_refused(tmp_path: Path) -> None:
    error = refusal(edited(EXAMPLE, tmp_path / "f", lambda ls: [*ls[:2], put(ls[2], 50, "-"), *ls[3:]]))

    assert (error.line, error.field) == (3, "TK20 payment record amount (positions 38-55)")


def test_a_truncated_file_is_refused(tmp_path: Path) -> None:
    error = refusal(edited(EXAMPLE, tmp_path / "f", lambda ls: ls[:16]))

    assert error.line == 16 and "truncated" in error.rule


def test_a_deposit_without_its_tk15_is_refused(tmp_path: Path) -> None:
    error = refusal(edited(EXAMPLE, tmp_path / "f", lambda ls: [*ls[:14], *ls[15:]]))

    assert error.line == 15 and "has no TK15" in error.rule


def test_a_detail_record_before_any_payment_is_refused(tmp_path: Path) -> None:
    error = refusal(edited(EXAMPLE, tmp_path / "f", lambda ls: [*ls[:2], ls[3], *ls[2:]]))

    assert error.line == 3 and "follows no TK20/TK21" in error.rule


def test_a_record_after_the_end_record_is_refused(tmp_path: Path) -> None:
    error = refusal(edited(EXAMPLE, tmp_path / "f", lambda ls: [*ls, ls[1]]))

    assert error.line == 21 and "no record may follow the TK70 end record" in error.rule


def test_the_same_deposit_twice_in_a_file_is_refused(tmp_path: Path) -> None:
    def twice(ls: list[str]) -> list[str]:
        return [*ls[:19], *ls[15:19], put(ls[19], 27, "00000003")[:2] + "00000006" + put(ls[19], 27, "00000003")[10:]]

    error = refusal(edited(EXAMPLE, tmp_path / "f", twice))

    assert error.field == "transaction id" and error.line == 21
