"""Nets OCR giro (Norway), read through the `netsgiro` library, one transaction at a time.

Layout: Nets' "System specification OCR giro" (shipped in the netsgiro distribution). A transmission
(start record 10 … end record 89) holds assignments (20 … 88) of transactions; a transaction is amount
item 1 (30: KID, amount, Nets date), amount item 2 (31: archive reference, bank date, debit account)
and, for the terminal types 20/21, amount item 3 (32: free text). Every record is 80 characters.

- **Streaming**: `netsgiro.parse()` reads a whole transmission into objects. Here every line goes
  through netsgiro's own record classes (`Record.from_string`'s patterns, converters and validators;
  netsgiro is pinned) as it is read, and only the current transaction's records are held: memory stays
  flat however large an assignment is. (`netsgiro.Transaction.from_records` would only copy the records'
  fields once more, at a third of the parsing time; the writer uses the object model.) The DDMMYY dates
  are parsed once per distinct date, not per record (a file holds a few dozen; `strptime` was a fifth of
  the reading).
- **Totals**: netsgiro does not check the end records. Here every assignment end record (88) and the
  transmission end record (89) are checked against the records: number of transactions, number of
  records and total amount (øre; the terminal reversals 18/20 are added, not deducted, per the spec).
- **Order date**: amount item 2's bank date, the day the payer's bank took the order (ADR 0018);
  amount item 1's Nets date is when Nets processed it (`booked`). Electronic payments often have no
  bank date (000000, as in the spec's own example); then the Nets date, the earliest date left.
- **Transaction id**: `ocr:<data recipient>:<transmission no>:<assignment no>:<transaction no>`, the
  transaction's place in Nets' numbering of what it delivered to this recipient (ADR 0018).
- **Debits**: the terminal reversals (types 18 and 20) are counted and skipped. A payment type whose
  sign field says negative is refused: Nets sends credit notes only as reversals.
- **netsgiro 2.0.1 quirk**: its amount item 1 pattern allows only digits and blanks in the KID, but a
  MOD11 KID may end in "-" (the spec's check value 10). Such a line is given to netsgiro with a "0" in
  that place and the KID is put back on the record afterwards.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import attrs
import netsgiro
from netsgiro import converters
from netsgiro import records as nr

from intake.errors import BankFileError
from intake.model import CreditTransaction, FileFormat, Skipped, SkipReason
from intake.parsing import FileInfo, Item, minor_units
from intake.source import Source

SIGNATURE = b"NY000010"
CURRENCY = "NOK"

_RECORD_CLASSES: dict[str, type[nr.Record]] = {
    "10": nr.TransmissionStart,
    "20": nr.AssignmentStart,
    "30": nr.TransactionAmountItem1,
    "31": nr.TransactionAmountItem2,
    "32": nr.TransactionAmountItem3,
    "49": nr.TransactionSpecification,
    "70": nr.AvtaleGiroAgreement,
    "88": nr.AssignmentEnd,
    "89": nr.TransmissionEnd,
}
_RECORD_NAMES = {
    "10": "start record for the transmission",
    "20": "start record for the assignment",
    "30": "amount item 1",
    "31": "amount item 2",
    "32": "amount item 3",
    "49": "AvtaleGiro specification record",
    "70": "AvtaleGiro agreement record",
    "88": "end record for the assignment",
    "89": "end record for the transmission",
}
_DATE_FIELDS: dict[type[nr.Record], tuple[str, ...]] = {
    cls: tuple(f.name for f in attrs.fields(cls) if f.converter in (converters.to_date, converters.to_date_or_none))
    for cls in _RECORD_CLASSES.values()
}
"""The fields netsgiro converts from DDMMYY text to a date, per record class (its converters pass a date through)."""
_PAYMENT_TYPES = frozenset(range(10, 18)) | {19, 21}
_REVERSAL_TYPES = frozenset({18, 20})
_TEXT_TYPES = frozenset({20, 21})


@dataclass(frozen=True)
class _Field:
    name: str
    start: int  # 1-based, inclusive, as in the spec
    end: int
    kind: str  # digits | date | date0 | zeros | sign | kid | literal:<value> | any

    def check(self, text: str) -> str | None:
        value = text[self.start - 1 : self.end]
        kind = self.kind
        if kind.startswith("literal:"):
            options = kind.removeprefix("literal:").split("|")
            return None if value in options else f"must be {' or '.join(options)}, got {value!r}"
        if kind == "digits":
            return None if value.isdigit() else f"must be digits, got {value!r}"
        if kind == "zeros":
            return None if set(value) <= {"0"} else f"filler must be zeros, got {value!r}"
        if kind == "sign":
            return None if value in ("0", "-") else f"must be '-' or '0', got {value!r}"
        if kind == "kid":
            stripped = value.lstrip(" ")
            if stripped and not (stripped.isdigit() or (stripped[:-1].isdigit() and stripped[-1] == "-")):
                return f"must be digits right-aligned with leading blanks, got {value!r}"
            return None
        if kind in ("date", "date0"):
            if kind == "date0" and value == "000000":
                return None
            try:
                datetime.strptime(value, "%d%m%y")
            except ValueError:
                return f"must be a date DDMMYY, got {value!r}"
            return None
        return None


_F = _Field
_HEAD = [_F("format code", 1, 2, "literal:NY"), _F("service code", 3, 4, "digits"), _F("type", 5, 6, "digits")]
_LAYOUT: dict[str, list[_Field]] = {
    "10": [
        _F("service code", 3, 4, "literal:00"),
        _F("transmission type", 5, 6, "literal:00"),
        _F("data transmitter", 9, 16, "digits"),
        _F("transmission number", 17, 23, "digits"),
        _F("data recipient", 24, 31, "digits"),
        _F("filler", 32, 80, "zeros"),
    ],
    "20": [
        _F("service code", 3, 4, "literal:09|21"),
        _F("agreement ID", 9, 17, "digits"),
        _F("assignment number", 18, 24, "digits"),
        _F("assignment account", 25, 35, "digits"),
        _F("filler", 36, 80, "zeros"),
    ],
    "30": [
        _F("transaction number", 9, 15, "digits"),
        _F("Nets date", 16, 21, "date"),
        _F("centre ID", 22, 23, "digits"),
        _F("day code", 24, 25, "digits"),
        _F("partial settlement number", 26, 26, "digits"),
        _F("serial number", 27, 31, "digits"),
        _F("sign", 32, 32, "sign"),
        _F("amount", 33, 49, "digits"),
        _F("KID", 50, 74, "kid"),
        _F("filler", 75, 80, "zeros"),
    ],
    "31": [
        _F("transaction number", 9, 15, "digits"),
        _F("form number", 16, 25, "digits"),
        _F("archive reference", 26, 34, "digits"),
        _F("bank date", 42, 47, "date0"),
        _F("debit account", 48, 58, "digits"),
        _F("filler", 59, 80, "zeros"),
    ],
    "32": [_F("transaction number", 9, 15, "digits"), _F("filler", 56, 80, "zeros")],
    "88": [
        _F("number of transactions", 9, 16, "digits"),
        _F("number of records", 17, 24, "digits"),
        _F("total amount", 25, 41, "digits"),
        _F("Nets date", 42, 47, "date0"),
        _F("earliest Nets date", 48, 53, "date0"),
        _F("latest Nets date", 54, 59, "date0"),
    ],
    "89": [
        _F("service code", 3, 4, "literal:00"),
        _F("number of transactions", 9, 16, "digits"),
        _F("number of records", 17, 24, "digits"),
        _F("total amount", 25, 41, "digits"),
        _F("Nets date", 42, 47, "date0"),
        _F("filler", 48, 80, "zeros"),
    ],
}


def _refuse(line: int, field: str, rule: str) -> BankFileError:
    return BankFileError(rule, field=field, line=line, file_format=FileFormat.OCR.value)


@functools.lru_cache(maxsize=4096)
def _ddmmyy(text: str) -> date:
    """A DDMMYY date as netsgiro reads it (``strptime``), once per distinct text: a file holds a few dozen dates
    and a date per record; a text that is no date raises ``ValueError`` every time."""
    return datetime.strptime(text, "%d%m%y").date()


def _from_string(cls: type[nr.Record], text: str) -> nr.Record:
    """``cls.from_string(text)`` — netsgiro's patterns, converters and validators — with the dates parsed once
    (``_ddmmyy``) instead of by its converters on every record."""
    for pattern in cls._PATTERNS:
        matches = pattern.match(text)
        if matches is not None:
            values: dict[str, Any] = matches.groupdict()
            for name in _DATE_FIELDS[cls]:
                value = values.get(name)
                if value is not None and value != "000000":  # 000000: "no date", netsgiro's converter says None
                    values[name] = _ddmmyy(value)
            return cls(**values)
    raise ValueError(f"{text!r} did not match {cls.__name__} record formats")


def _parse_record(line: int, text: str) -> nr.Record:
    record_type = text[6:8]
    name = _RECORD_NAMES.get(record_type)
    cls = _RECORD_CLASSES.get(record_type)
    if cls is None or name is None:
        raise _refuse(line, "record type (positions 7-8)", f"unknown record type {record_type!r}")
    kid_dash = record_type == "30" and text[73] == "-"
    try:
        record = _from_string(cls, text[:73] + "0" + text[74:] if kid_dash else text)
    except ValueError as e:
        for f in _HEAD + _LAYOUT.get(record_type, []):  # say which field, not just that the line is wrong
            problem = f.check(text)
            if problem:
                raise _refuse(line, f"{name} {f.name} (positions {f.start}-{f.end})", problem) from None
        raise _refuse(line, name, f"does not match the layout: {e}") from None
    if isinstance(record, nr.TransactionAmountItem1) and record.kid:
        if kid_dash:
            record.kid = text[49:74].strip()
        elif not record.kid.isdigit():
            raise _refuse(line, f"{name} KID (positions 50-74)", f"must be digits right-aligned, got {record.kid!r}")
    return record


@dataclass
class _Assignment:
    start: nr.AssignmentStart
    line: int
    records: int = 1
    transactions: int = 0
    total: int = 0


@dataclass
class _Pending:
    items: list[Any] = field(default_factory=list)
    line: int = 0


class _Reader:
    def __init__(self) -> None:
        self.transmission: nr.TransmissionStart | None = None
        self.ended = False
        self.assignment: _Assignment | None = None
        self.assignment_numbers: set[str] = set()
        self.pending = _Pending()
        self.records = 0
        self.transactions = 0
        self.total = 0

    def feed(self, line: int, record: nr.Record) -> Iterator[Item]:
        self.records += 1
        if self.transmission is None:
            if not isinstance(record, nr.TransmissionStart):
                raise _refuse(line, "record type", "the first record must be the transmission's start record (10)")
            self.transmission = record
            return
        if self.ended:
            raise _refuse(line, "record type", "no record may follow the end record for the transmission (89)")
        if isinstance(record, nr.TransmissionStart):
            raise _refuse(line, "record type", "a file holds one transmission: a second start record (10)")
        if self.assignment is None:
            if isinstance(record, nr.AssignmentStart):
                if record.assignment_number in self.assignment_numbers:
                    raise _refuse(line, "assignment number", f"assignment {record.assignment_number} appears twice")
                self.assignment_numbers.add(record.assignment_number)
                self.assignment = _Assignment(record, line)
            elif isinstance(record, nr.TransmissionEnd):
                self._end_transmission(line, record)
            else:
                raise _refuse(line, "record type", "a transaction record outside an assignment (no start record 20)")
            return
        assignment = self.assignment
        assignment.records += 1
        if isinstance(record, nr.AssignmentEnd):
            yield from self._flush()
            self._end_assignment(line, record)
            return
        if isinstance(record, nr.AssignmentStart | nr.TransmissionEnd):
            number = assignment.start.assignment_number
            raise _refuse(line, "record type", f"assignment {number} has no end record (88)")
        if not isinstance(record, nr.TransactionRecord):
            raise _refuse(line, "record type", "unexpected record inside an assignment")
        if record.service_code != assignment.start.service_code:
            raise _refuse(line, "service code", "differs from the assignment's start record")
        if isinstance(record, nr.TransactionAmountItem1 | nr.AvtaleGiroAgreement):
            yield from self._flush()
            self.pending = _Pending([record], line)
            assignment.transactions += 1
            assignment.total += getattr(record, "amount", 0)
            return
        first = self.pending.items[0] if self.pending.items else None
        if first is None or first.transaction_number != record.transaction_number:
            raise _refuse(line, "transaction number", "this record belongs to no amount item 1 before it")
        if record.transaction_type != first.transaction_type:
            raise _refuse(line, "transaction type", "differs from the transaction's amount item 1")
        self.pending.items.append(record)

    def _flush(self) -> Iterator[Item]:
        items, line = self.pending.items, self.pending.line
        self.pending = _Pending()
        if not items:
            return
        assert self.assignment is not None
        if self.assignment.start.service_code != netsgiro.ServiceCode.OCR_GIRO:
            yield Skipped(SkipReason.NOT_MONEY, minor_units(getattr(items[0], "amount", 0)), CURRENCY, line)
            return
        yield self._transaction(items, line)

    def _transaction(self, items: list[Any], line: int) -> Item:
        kinds = [type(r) for r in items]
        type_code = int(items[0].transaction_type)
        expected: list[type[nr.Record]] = [nr.TransactionAmountItem1, nr.TransactionAmountItem2]
        if type_code in _TEXT_TYPES:
            expected.append(nr.TransactionAmountItem3)
        if kinds != expected:
            names = ", ".join(_RECORD_NAMES[str(k.RECORD_TYPE.value)] for k in expected)
            raise _refuse(line, f"transaction {items[0].transaction_number}", f"type {type_code} has exactly {names}")
        item1, item2 = items[0], items[1]
        amount = minor_units(item1.amount)
        if type_code in _REVERSAL_TYPES:
            return Skipped(SkipReason.DEBIT, amount, CURRENCY, line)
        if type_code not in _PAYMENT_TYPES:
            raise _refuse(line, "amount item 1 transaction type (positions 5-6)", f"{type_code} is no OCR giro type")
        if item1.sign == "-":
            raise _refuse(line, "amount item 1 sign (position 32)", f"a payment (type {type_code}) cannot be negative")
        if amount <= 0:
            raise _refuse(line, "amount item 1 amount (positions 33-49)", "a payment must be more than zero")
        ordered, ordered_from = item2.bank_date, "amount item 2 bank date"
        if ordered is None:  # electronic payments (types 12, 13, ...) often carry none: the earliest date left
            ordered, ordered_from = item1.nets_date, "amount item 1 Nets date (no bank date)"
        assert self.transmission is not None and self.assignment is not None
        transaction_id = ":".join(
            (
                "ocr",
                self.transmission.data_recipient,
                self.transmission.transmission_number,
                self.assignment.start.assignment_number,
                f"{item1.transaction_number:07d}",
            )
        )
        account = item2.debit_account if item2.debit_account and item2.debit_account.strip("0") else None
        return CreditTransaction(
            format=FileFormat.OCR,
            file_digest="",
            transaction_id=transaction_id,
            payee_account=self.assignment.start.assignment_account,
            reference=item1.kid or "",
            structured=bool(item1.kid),
            amount=amount,
            currency=CURRENCY,
            ordered=ordered,
            ordered_from=ordered_from,
            booked=item1.nets_date,
            line=line,
            bank_reference=item2.reference,
            payer_account=account,
            text=items[2].text if len(items) > 2 else None,
        )

    def _end_assignment(self, line: int, end: nr.AssignmentEnd) -> None:
        assignment = self.assignment
        assert assignment is not None
        number = assignment.start.assignment_number
        if end.service_code != assignment.start.service_code:
            raise _refuse(line, "service code", f"the end record of assignment {number} names another service")
        self._check_totals(line, f"end record for assignment {number}", end, assignment)
        self.transactions += assignment.transactions
        self.total += assignment.total
        self.assignment = None

    def _end_transmission(self, line: int, end: nr.TransmissionEnd) -> None:
        self._check_totals(line, "end record for the transmission", end, self)
        self.ended = True

    @staticmethod
    def _check_totals(line: int, name: str, end: nr.AssignmentEnd | nr.TransmissionEnd, counted: Any) -> None:
        checks = (
            ("number of transactions (positions 9-16)", end.num_transactions, counted.transactions),
            ("number of records (positions 17-24)", end.num_records, counted.records),
            ("total amount (positions 25-41)", end.total_amount or 0, counted.total),
        )
        for what, declared, actual in checks:
            if declared != actual:
                raise _refuse(line, f"{name} {what}", f"says {declared} but the records give {actual}")

    def finish(self, last_line: int) -> None:
        if self.transmission is None:
            raise _refuse(last_line, "file", "empty: no start record for the transmission (10)")
        if self.assignment is not None:
            number = self.assignment.start.assignment_number
            raise _refuse(last_line, "file", f"truncated: assignment {number} has no end record (88)")
        if not self.ended:
            raise _refuse(last_line, "file", "truncated: no end record for the transmission (89)")


def read(source: Source, info: FileInfo) -> Iterator[Item]:
    """The file's items in order; raises BankFileError at the first record that breaks a rule."""
    info.controls = "OCR end records for each assignment (88) and the transmission (89)"
    reader = _Reader()
    last = 0
    blank_since: int | None = None
    for line, raw in source.lines():
        last = line
        if not raw.strip():
            blank_since = blank_since or line
            continue
        if blank_since is not None:
            raise _refuse(blank_since, "record", "an empty line inside the file")
        text = raw.decode("latin-1")
        if len(text) != 80:
            raise _refuse(line, "record length", f"every record is 80 characters; this one has {len(text)}")
        if line == 1 and not raw.startswith(SIGNATURE):
            raise _refuse(line, "start record", "an OCR giro file starts with NY000010")
        yield from reader.feed(line, _parse_record(line, text))
    reader.finish(max(last, 1))
