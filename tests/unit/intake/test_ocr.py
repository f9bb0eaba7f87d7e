"""Nets OCR giro through netsgiro: a hand-made file with every transaction type, then bad files.

The fixture `ocr-every-type.ocr` (written by hand after Nets' system specification) holds one OCR
giro assignment — a giro payment (type 10), a direct remittance without bank date (12), a terminal
reversal (18), a terminal purchase with free text (21, three amount items), a payment whose MOD11
KID ends in "-" — and one AvtaleGiro agreement assignment, with both end records' totals.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import intake
from intake import SkipReason
from tests.unit.intake.helpers import FIXTURES, edited, lines_of, put, read_all, refusal, write_lines

EXAMPLE = FIXTURES / "ocr-every-type.ocr"


def test_every_credit_transaction_is_read_with_its_kid_amount_and_order_date() -> None:
    summary, txs = read_all(EXAMPLE)

    assert summary.format is intake.FileFormat.OCR
    assert summary.credit_count == 4
    assert summary.credit_amount("NOK") == Decimal("2500.50")
    assert [(t.reference, t.amount, t.ordered, t.line) for t in txs] == [
        ("0000102003", Decimal("1000.00"), date(2025, 3, 1), 3),
        ("0000102011", Decimal("450.50"), date(2025, 3, 3), 5),
        ("", Decimal("750.00"), date(2025, 3, 4), 9),
        ("000010204-", Decimal("300.00"), date(2025, 3, 2), 12),
    ]


def test_the_order_date_is_the_bank_date_else_the_nets_date() -> None:
    _, txs = read_all(EXAMPLE)

    giro, remittance = txs[0], txs[1]
    assert (giro.ordered, giro.booked, giro.ordered_from) == (
        date(2025, 3, 1),
        date(2025, 3, 3),
        "amount item 2 bank date",
    )
    assert remittance.ordered == remittance.booked == date(2025, 3, 3)
    assert remittance.ordered_from == "amount item 1 Nets date (no bank date)"


def test_the_transaction_id_is_the_place_in_nets_numbering_and_the_archive_reference_is_kept() -> None:
    _, txs = read_all(EXAMPLE)

    assert txs[0].transaction_id == "ocr:00012345:0000123:0000001:0000001"
    assert txs[0].bank_reference == "099038562"
    assert txs[0].payer_account == "12345678903"
    assert txs[0].payee_account == "12345678903"
    assert len({t.transaction_id for t in txs}) == len(txs)


def test_reversals_and_avtalegiro_notices_are_counted_not_read() -> None:
    summary, txs = read_all(EXAMPLE)

    assert summary.skipped == {SkipReason.DEBIT: 1, SkipReason.NOT_MONEY: 1}
    assert 7 not in [t.line for t in txs]


def test_free_text_of_a_terminal_purchase_is_kept_and_its_kid_is_none() -> None:
    _, txs = read_all(EXAMPLE)

    purchase = txs[2]
    assert (purchase.text, purchase.structured, purchase.reference) == ("Betaling kulturskole mars", False, "")


def test_a_mod11_kid_ending_in_a_dash_is_read_although_netsgiro_allows_only_digits() -> None:
    _, txs = read_all(EXAMPLE)

    assert txs[3].reference == "000010204-" and txs[3].structured


def test_every_transaction_carries_the_files_sha256(tmp_path: Path) -> None:
    import hashlib

    summary, txs = read_all(EXAMPLE)

    digest = hashlib.sha256(EXAMPLE.read_bytes()).hexdigest()
    assert summary.digest == digest and summary.size == EXAMPLE.stat().st_size
    assert {t.file_digest for t in txs} == {digest}


# ---- bad files: each refused whole, naming the line, the field and the rule ----------------------


def test_a_truncated_file_is_refused(tmp_path: Path) -> None:
    error = refusal(edited(EXAMPLE, tmp_path / "f.ocr", lambda lines: lines[:10]))

    assert error.line == 10
    assert "truncated" in error.rule and "no end record (88)" in error.rule


def test_a_missing_transmission_end_is_refused(tmp_path: Path) -> None:
    error = refusal(edited(EXAMPLE, tmp_path / "f.ocr", lambda lines: lines[:-1]))

    assert "no end record for the transmission (89)" in error.rule


def test_a_record_of_the_wrong_length_is_refused(tmp_path: Path) -> None:
    error = refusal(edited(EXAMPLE, tmp_path / "f.ocr", lambda lines: [*lines[:4], lines[4] + "0", *lines[5:]]))

    assert (error.line, error.field) == (5, "record length")
    assert "80 characters; this one has 81" in error.rule


def test_a_wrong_number_of_transactions_in_the_assignment_end_record_is_refused(tmp_path: Path) -> None:
    error = refusal(edited(EXAMPLE, tmp_path / "f.ocr", lambda ls: [*ls[:13], put(ls[13], 9, "00000004"), *ls[14:]]))

    assert error.line == 14
    assert error.field == "end record for assignment 0000001 number of transactions (positions 9-16)"
    assert error.rule == "says 4 but the records give 5"


def test_a_wrong_total_amount_in_the_transmission_end_record_is_refused(tmp_path: Path) -> None:
    bad = put(lines_of(EXAMPLE)[17], 25, f"{270051:017d}")
    error = refusal(edited(EXAMPLE, tmp_path / "f.ocr", lambda ls: [*ls[:17], bad]))

    assert error.line == 18
    assert error.field == "end record for the transmission total amount (positions 25-41)"
    assert error.rule == "says 270051 but the records give 270050"


def test_a_wrong_number_of_records_is_refused(tmp_path: Path) -> None:
    bad = put(lines_of(EXAMPLE)[17], 17, "00000019")
    error = refusal(edited(EXAMPLE, tmp_path / "f.ocr", lambda ls: [*ls[:17], bad]))

    assert "number of records" in error.field and "says 19 but the records give 18" == error.rule


def test_a_non_numeric_amount_names_the_field_and_its_positions(tmp_path: Path) -> None:
    error = refusal(edited(EXAMPLE, tmp_path / "f.ocr", lambda ls: [*ls[:2], put(ls[2], 40, "1O"), *ls[3:]]))

    assert (error.line, error.field) == (3, "amount item 1 amount (positions 33-49)")
    assert error.rule.startswith("must be digits")


def test_a_payment_with_a_negative_sign_is_refused(tmp_path: Path) -> None:
    error = refusal(edited(EXAMPLE, tmp_path / "f.ocr", lambda ls: [*ls[:2], put(ls[2], 32, "-"), *ls[3:]]))

    assert (error.line, error.field) == (3, "amount item 1 sign (position 32)")
    assert error.rule == "a payment (type 10) cannot be negative"


def test_an_unknown_record_type_is_refused(tmp_path: Path) -> None:
    error = refusal(edited(EXAMPLE, tmp_path / "f.ocr", lambda ls: [*ls[:2], put(ls[2], 7, "33"), *ls[3:]]))

    assert (error.line, error.field, error.rule) == (3, "record type (positions 7-8)", "unknown record type '33'")


def test_an_invalid_date_is_refused(tmp_path: Path) -> None:
    error = refusal(edited(EXAMPLE, tmp_path / "f.ocr", lambda ls: [*ls[:3], put(ls[3], 42, "320325"), *ls[4:]]))

    assert (error.line, error.field) == (4, "amount item 2 bank date (positions 42-47)")


def test_a_kid_with_blanks_inside_is_refused(tmp_path: Path) -> None:
    error = refusal(edited(EXAMPLE, tmp_path / "f.ocr", lambda ls: [*ls[:2], put(ls[2], 68, " "), *ls[3:]]))

    assert (error.line, error.field) == (3, "amount item 1 KID (positions 50-74)")


def test_the_same_transaction_twice_in_an_assignment_is_refused(tmp_path: Path) -> None:
    def twice(ls: list[str]) -> list[str]:
        out = [*ls[:4], ls[2], ls[3], *ls[4:]]
        out[15] = put(out[15], 9, "00000006")  # the assignment end record: 6 transactions, 15 records
        out[15] = put(out[15], 17, "00000015")
        out[15] = put(out[15], 25, f"{370050:017d}")
        out[19] = put(out[19], 9, "00000007")
        out[19] = put(out[19], 17, "00000020")
        out[19] = put(out[19], 25, f"{370050:017d}")
        return out

    error = refusal(edited(EXAMPLE, tmp_path / "f.ocr", twice))

    assert error.line == 5 and error.field == "transaction id"
    assert "appears twice in the file (first at line 3)" in error.rule


def test_a_file_that_is_not_ocr_giro_is_refused_as_ocr(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "f.txt", ["hello"])

    assert refusal(path, "ocr").line == 1


def test_an_empty_line_inside_the_file_is_refused(tmp_path: Path) -> None:
    error = refusal(edited(EXAMPLE, tmp_path / "f.ocr", lambda ls: [*ls[:5], "", *ls[5:]]))

    assert (error.line, error.rule) == (6, "an empty line inside the file")


def test_a_file_paying_another_account_is_refused_when_the_offices_accounts_are_given() -> None:
    with intake.check(EXAMPLE, accounts={"12345678903"}) as checked:
        assert checked.summary.credit_count == 4

    try:
        intake.check(EXAMPLE, accounts={"99999999999"}).close()
    except intake.BankFileError as error:
        assert (error.line, error.field) == (3, "payee account")
    else:
        raise AssertionError("a file for someone else's account was accepted")


def test_every_record_reads_as_netsgiro_reads_it_with_the_dates_parsed_once() -> None:
    from intake.ocr import _RECORD_CLASSES, _ddmmyy, _from_string

    lines = EXAMPLE.read_text(encoding="latin-1").splitlines()
    records = [line for line in lines if line.strip() and line[73] != "-"]  # netsgiro refuses a MOD11 dash
    assert len(records) > 10
    for text in records * 2:  # the second time every date comes from the cache
        cls = _RECORD_CLASSES[text[6:8]]
        assert _from_string(cls, text) == cls.from_string(text)
    assert _ddmmyy.cache_info().hits > 0


def test_an_invalid_date_is_refused_every_time_it_appears(tmp_path: Path) -> None:
    for n in (1, 2):
        error = refusal(edited(EXAMPLE, tmp_path / f"{n}.ocr", lambda ls: [*ls[:3], put(ls[3], 42, "310225"), *ls[4:]]))

        assert (error.line, error.field) == (4, "amount item 2 bank date (positions 42-47)")
