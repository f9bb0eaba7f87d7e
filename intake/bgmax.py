"""Bankgirot BgMax (Bankgiro Inbetalningar, Sweden): records, and reading a file one payment at a time.

Layout after Bankgirot's technical manual for BgMax, version 01: every record ("post", transaction
code TK in positions 1-2) is 80 characters of ISO 8859-1.

    TK01 start  (BGMAX, version, timestamp, test mark)
      TK05 opening (payee bankgiro, currency)             } one deposit ("insättning"),
        TK20 payment | TK21 deduction                     } repeated
          TK22/TK23 extra reference (+/-), TK25 information, TK26 name,
          TK27 address, TK28 address 2, TK29 organisation number (belong to the payment above)
      TK15 deposit (account, payment day, serial, amount, count)
    TK70 end (counts of TK20, TK21, TK22+23 and TK15)

- Checks: record length, known record type, version 01, every field's form; each TK15 against its
  payments (amount = TK20 − TK21, count = TK20 + TK21, currency as in TK05); TK70 against the file.
- A TK20 payment is a credit transaction; a TK21 deduction is counted and skipped (money out).
- Reference: reference code 2 means a checked OCR reference (structured); 3, 4, 5 an unchecked
  text, references in TK22/TK23 or a reference that failed the check; 0 and 1 none.
- Order date (ADR 0018): the payment day of the deposit record TK15 (BgMax carries no other date).
  The TK15 closes its deposit, so a look-ahead reader finds it first: payments are yielded as they
  are read and memory stays flat however large a deposit is.
- Transaction id: `bgmax:<payee bankgiro>:<payment day>:<deposit serial>:<payment's ordinal in the
  deposit>`; Bankgirot's own serial number (BGC-löpnummer) is kept as `bank_reference`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import ClassVar, Self

from intake.errors import BankFileError, UnknownFormat
from intake.model import CreditTransaction, ExtraReference, FileFormat, Skipped, SkipReason
from intake.parsing import FileInfo, Item, minor_units
from intake.source import Source

SIGNATURE = b"01BGMAX"
VERSIONS = ("01",)
RECORD_LENGTH = 80


class FieldError(ValueError):
    def __init__(self, name: str, start: int, end: int, rule: str) -> None:
        super().__init__(f"{name} (positions {start}-{end}): {rule}")
        self.field = f"{name} (positions {start}-{end})"
        self.rule = rule


def _cut(line: str, name: str, start: int, end: int, kind: str) -> str:
    """Positions start..end (1-based, inclusive) of `line`, checked: digits | text | date | blankdigits."""
    value = line[start - 1 : end]
    if kind == "digits" and not value.isdigit():
        raise FieldError(name, start, end, f"must be digits, got {value!r}")
    if kind == "blankdigits" and value.strip() and not value.strip().isdigit():
        raise FieldError(name, start, end, f"must be digits or blank, got {value!r}")
    if kind == "date":
        try:
            date(int(value[:4]), int(value[4:6]), int(value[6:8]))
        except ValueError:
            raise FieldError(name, start, end, f"must be a date YYYYMMDD, got {value!r}") from None
    return value


def _blank(line: str, start: int) -> None:
    if line[start - 1 :].strip():
        raise FieldError("reserve", start, RECORD_LENGTH, f"must be blank, got {line[start - 1 :]!r}")


def _date(value: str) -> date:
    return date(int(value[:4]), int(value[4:6]), int(value[6:8]))


def _num(value: int, width: int) -> str:
    text = f"{value:0{width}d}"
    if len(text) != width:
        raise ValueError(f"{value} does not fit {width} digits")
    return text


def _text(value: str, width: int, align: str = "<") -> str:
    if len(value) > width:
        raise ValueError(f"{value!r} does not fit {width} characters")
    return f"{value:{align}{width}}"


@dataclass(frozen=True)
class Record:
    CODE: ClassVar[str] = ""

    @classmethod
    def parse(cls, line: str) -> Self:
        raise NotImplementedError

    def line(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Start(Record):
    """TK01 Startpost."""

    CODE: ClassVar[str] = "01"
    version: str
    timestamp: str  # YYYYMMDDHHMMSSmmmmmm
    test: bool

    @classmethod
    def parse(cls, line: str) -> Start:
        layout = _cut(line, "layout name", 3, 22, "text")
        if layout.strip() != "BGMAX":
            raise FieldError("layout name", 3, 22, f"must be BGMAX, got {layout.strip()!r}")
        version = _cut(line, "version", 23, 24, "digits")
        stamp = _cut(line, "timestamp", 25, 44, "digits")
        _cut(stamp, "timestamp", 1, 8, "date")
        mark = _cut(line, "test mark", 45, 45, "text")
        if mark not in ("T", "P"):
            raise FieldError("test mark", 45, 45, f"must be T (test) or P (production), got {mark!r}")
        _blank(line, 46)
        return cls(version, stamp, mark == "T")

    def line(self) -> str:
        return f"01{_text('BGMAX', 20)}{self.version}{self.timestamp}{'T' if self.test else 'P'}".ljust(80)


@dataclass(frozen=True)
class Opening(Record):
    """TK05 Öppningspost: the start of one deposit to the payee's bankgiro."""

    CODE: ClassVar[str] = "05"
    bankgiro: str  # 10 digits
    plusgiro: str  # 10 digits or blank
    currency: str

    @classmethod
    def parse(cls, line: str) -> Opening:
        bankgiro = _cut(line, "payee bankgiro number", 3, 12, "digits")
        plusgiro = _cut(line, "payee plusgiro number", 13, 22, "blankdigits").strip()
        currency = _cut(line, "currency", 23, 25, "text")
        if not (currency.isalpha() and currency.isupper()):
            raise FieldError("currency", 23, 25, f"must be a currency code such as SEK, got {currency!r}")
        _blank(line, 26)
        return cls(bankgiro, plusgiro, currency)

    def line(self) -> str:
        return f"05{self.bankgiro}{_text(self.plusgiro, 10)}{self.currency}".ljust(80)


@dataclass(frozen=True)
class Payment(Record):
    """TK20 Betalningspost (money in); as TK21 Avdragspost (`deduction_code` set) money out."""

    CODE: ClassVar[str] = "20"
    sender_bankgiro: str
    reference: str  # the 25 positions as they stand
    amount: int  # öre
    reference_code: int
    channel: int
    serial: str  # BGC-löpnummer, 12 digits
    image: int
    deduction_code: int | None = None

    @property
    def is_deduction(self) -> bool:
        return self.deduction_code is not None

    @classmethod
    def parse(cls, line: str) -> Payment:
        code = line[:2]
        sender = _cut(line, "sender bankgiro number", 3, 12, "digits")
        reference = _cut(line, "reference", 13, 37, "text")
        amount = int(_cut(line, "amount", 38, 55, "digits"))
        reference_code = int(_cut(line, "reference code", 56, 56, "digits"))
        if reference_code > 5:
            raise FieldError("reference code", 56, 56, f"must be 0-5, got {reference_code}")
        channel = int(_cut(line, "payment channel code", 57, 57, "digits"))
        if not 1 <= channel <= 4:
            raise FieldError("payment channel code", 57, 57, f"must be 1-4, got {channel}")
        serial = _cut(line, "BGC serial number", 58, 69, "digits")
        image = int(_cut(line, "image mark", 70, 70, "digits"))
        deduction: int | None = None
        if code == "21":
            deduction = int(_cut(line, "deduction code", 71, 71, "digits"))
            _blank(line, 72)
        else:
            _blank(line, 71)
        return cls(sender, reference, amount, reference_code, channel, serial, image, deduction)

    def line(self) -> str:
        code = "21" if self.is_deduction else "20"
        text = (
            f"{code}{self.sender_bankgiro}{_text(self.reference, 25)}{_num(self.amount, 18)}"
            f"{self.reference_code}{self.channel}{self.serial}{self.image}"
        )
        if self.deduction_code is not None:
            text += str(self.deduction_code)
        return text.ljust(80)


@dataclass(frozen=True)
class ExtraReferenceRecord(Record):
    """TK22 Extra referensnummerpost (TK23: the same, with a negative amount)."""

    CODE: ClassVar[str] = "22"
    sender_bankgiro: str
    reference: str
    amount: int
    reference_code: int
    channel: int
    serial: str
    image: int
    negative: bool = False

    @classmethod
    def parse(cls, line: str) -> ExtraReferenceRecord:
        payment = Payment.parse("20" + line[2:])
        return cls(
            payment.sender_bankgiro,
            payment.reference,
            payment.amount,
            payment.reference_code,
            payment.channel,
            payment.serial,
            payment.image,
            negative=line[:2] == "23",
        )

    def line(self) -> str:
        payment = Payment(
            self.sender_bankgiro,
            self.reference,
            self.amount,
            self.reference_code,
            self.channel,
            self.serial,
            self.image,
        )
        return ("23" if self.negative else "22") + payment.line()[2:]


@dataclass(frozen=True)
class Information(Record):
    """TK25 Informationspost: free text from the payer."""

    CODE: ClassVar[str] = "25"
    text: str

    @classmethod
    def parse(cls, line: str) -> Information:
        text = _cut(line, "information text", 3, 52, "text")
        _blank(line, 53)
        return cls(text.rstrip())

    def line(self) -> str:
        return f"25{_text(self.text, 50)}".ljust(80)


@dataclass(frozen=True)
class Name(Record):
    """TK26 Namnpost."""

    CODE: ClassVar[str] = "26"
    name: str
    extra_name: str = ""

    @classmethod
    def parse(cls, line: str) -> Name:
        name = _cut(line, "name", 3, 37, "text").rstrip()
        extra = _cut(line, "extra name", 38, 72, "text").rstrip()
        _blank(line, 73)
        return cls(name, extra)

    def line(self) -> str:
        return f"26{_text(self.name, 35)}{_text(self.extra_name, 35)}".ljust(80)


@dataclass(frozen=True)
class Address(Record):
    """TK27 Adresspost 1."""

    CODE: ClassVar[str] = "27"
    address: str
    postcode: str

    @classmethod
    def parse(cls, line: str) -> Address:
        address = _cut(line, "address", 3, 37, "text").rstrip()
        postcode = _cut(line, "postcode", 38, 46, "text").rstrip()
        _blank(line, 47)
        return cls(address, postcode)

    def line(self) -> str:
        return f"27{_text(self.address, 35)}{_text(self.postcode, 9)}".ljust(80)


@dataclass(frozen=True)
class Address2(Record):
    """TK28 Adresspost 2."""

    CODE: ClassVar[str] = "28"
    city: str
    country: str = ""
    country_code: str = ""

    @classmethod
    def parse(cls, line: str) -> Address2:
        city = _cut(line, "city", 3, 37, "text").rstrip()
        country = _cut(line, "country", 38, 72, "text").rstrip()
        code = _cut(line, "country code", 73, 74, "text").rstrip()
        _blank(line, 75)
        return cls(city, country, code)

    def line(self) -> str:
        return f"28{_text(self.city, 35)}{_text(self.country, 35)}{_text(self.country_code, 2)}".ljust(80)


@dataclass(frozen=True)
class OrganisationNumber(Record):
    """TK29 Organisationsnummerpost: the payer's organisation or personal identity number."""

    CODE: ClassVar[str] = "29"
    number: str  # 12 digits

    @classmethod
    def parse(cls, line: str) -> OrganisationNumber:
        number = _cut(line, "organisation number", 3, 14, "digits")
        _blank(line, 15)
        return cls(number)

    def line(self) -> str:
        return f"29{self.number}".ljust(80)


@dataclass(frozen=True)
class Deposit(Record):
    """TK15 Insättningspost: closes a deposit; its payment day is every payment's order date."""

    CODE: ClassVar[str] = "15"
    account: str  # 35 digits
    payment_day: date
    serial: str  # 5 digits
    amount: int  # öre
    currency: str
    count: int
    deposit_type: str = " "

    @classmethod
    def parse(cls, line: str) -> Deposit:
        account = _cut(line, "payee bank account", 3, 37, "digits")
        day = _date(_cut(line, "payment day", 38, 45, "date"))
        serial = _cut(line, "deposit serial number", 46, 50, "digits")
        amount = int(_cut(line, "deposit amount", 51, 68, "digits"))
        currency = _cut(line, "currency", 69, 71, "text")
        count = int(_cut(line, "number of payments", 72, 79, "digits"))
        kind = _cut(line, "deposit type", 80, 80, "text")
        if kind not in (" ", "K", "D", "S"):
            raise FieldError("deposit type", 80, 80, f"must be blank, K, D or S, got {kind!r}")
        return cls(account, day, serial, amount, currency, count, kind)

    def line(self) -> str:
        return (
            f"15{_num(int(self.account), 35)}{self.payment_day:%Y%m%d}{self.serial}{_num(self.amount, 18)}"
            f"{self.currency}{_num(self.count, 8)}{self.deposit_type}"
        )


@dataclass(frozen=True)
class End(Record):
    """TK70 Slutpost."""

    CODE: ClassVar[str] = "70"
    payments: int
    deductions: int
    extra_references: int
    deposits: int

    @classmethod
    def parse(cls, line: str) -> End:
        payments = int(_cut(line, "number of payment records", 3, 10, "digits"))
        deductions = int(_cut(line, "number of deduction records", 11, 18, "digits"))
        extras = int(_cut(line, "number of extra reference records", 19, 26, "digits"))
        deposits = int(_cut(line, "number of deposit records", 27, 34, "digits"))
        _blank(line, 35)
        return cls(payments, deductions, extras, deposits)

    def line(self) -> str:
        return (
            f"70{_num(self.payments, 8)}{_num(self.deductions, 8)}{_num(self.extra_references, 8)}"
            f"{_num(self.deposits, 8)}"
        ).ljust(80)


RECORDS: dict[str, type[Record]] = {
    "01": Start,
    "05": Opening,
    "20": Payment,
    "21": Payment,
    "22": ExtraReferenceRecord,
    "23": ExtraReferenceRecord,
    "25": Information,
    "26": Name,
    "27": Address,
    "28": Address2,
    "29": OrganisationNumber,
    "15": Deposit,
    "70": End,
}
NAMES = {
    "01": "TK01 start record",
    "05": "TK05 opening record",
    "20": "TK20 payment record",
    "21": "TK21 deduction record",
    "22": "TK22 extra reference record",
    "23": "TK23 extra reference record (minus)",
    "25": "TK25 information record",
    "26": "TK26 name record",
    "27": "TK27 address record",
    "28": "TK28 address record 2",
    "29": "TK29 organisation number record",
    "15": "TK15 deposit record",
    "70": "TK70 end record",
}


def parse_record(line: str, number: int = 0) -> Record:
    """One 80-character record; BankFileError names the line, the field and its positions."""
    if len(line) != RECORD_LENGTH:
        hint = ""
        try:
            if len(line.encode("latin-1").decode("utf-8")) == RECORD_LENGTH:
                hint = " (the file looks UTF-8 encoded; BgMax is ISO 8859-1)"
        except (UnicodeDecodeError, UnicodeEncodeError):
            pass
        raise _refuse(number, "record length", f"every record is 80 characters; this one has {len(line)}{hint}")
    code = line[:2]
    cls = RECORDS.get(code)
    if cls is None:
        raise _refuse(number, "transaction code (positions 1-2)", f"unknown record type TK{code!r}")
    try:
        return cls.parse(line)
    except FieldError as e:
        raise _refuse(number, f"{NAMES[code]} {e.field}", e.rule) from None


def _refuse(line: int, field: str, rule: str) -> BankFileError:
    return BankFileError(rule, field=field, line=line, file_format=FileFormat.BGMAX.value)


@dataclass
class _OpenPayment:
    record: Payment
    line: int
    ordinal: int
    extras: list[ExtraReference] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    name: str | None = None
    organisation: str | None = None


@dataclass
class _OpenDeposit:
    opening: Opening
    line: int
    closing: Deposit | BankFileError  # the TK15 ahead, read by the look-ahead (or why there is none)
    payments: int = 0
    deductions: int = 0
    net: int = 0


class _Counts:
    def __init__(self) -> None:
        self.payments = self.deductions = self.extras = self.deposits = 0


class _LookAhead:
    """A second, unhashed reader that finds the TK15 closing each deposit before its payments are read,
    so that each payment can be given its order date at once and nothing is held (memory stays flat)."""

    def __init__(self, source: Source) -> None:
        self._file = source.path.open("rb")
        self._lines = enumerate(self._file, start=1)

    def close(self) -> None:
        self._file.close()

    def deposit_after(self, number: int, opening_line: int) -> Deposit | BankFileError:
        """The TK15 closing the deposit opened at `number`, or the error the main reader will meet."""
        last = number
        for n, raw in self._lines:
            if n <= number:
                continue
            last = n
            if raw.startswith(b"15"):
                try:
                    closing = parse_record(raw.rstrip(b"\r\n").decode("latin-1"), n)
                except BankFileError as error:
                    return error
                assert isinstance(closing, Deposit)
                return closing
            if raw.startswith((b"05", b"70")):
                name = NAMES[raw[:2].decode()]
                return _refuse(n, name, f"the deposit opened at line {opening_line} has no TK15")
        return _refuse(last, "file", "truncated: no TK70 end record")


def read(source: Source, info: FileInfo) -> Iterator[Item]:
    """The file's items in order, each as soon as its records are read."""
    info.controls = "BgMax TK15 deposit records and the TK70 end record"
    ahead = _LookAhead(source)
    try:
        yield from _read(source, info, ahead)
    finally:
        ahead.close()


def _read(source: Source, info: FileInfo, ahead: _LookAhead) -> Iterator[Item]:
    start: Start | None = None
    deposit: _OpenDeposit | None = None
    payment: _OpenPayment | None = None
    counts = _Counts()
    ended = False
    last = 0
    blank_since: int | None = None
    for number, raw in source.lines():
        last = number
        if not raw.strip():
            blank_since = blank_since or number
            continue
        if blank_since is not None:
            raise _refuse(blank_since, "record", "an empty line inside the file")
        line = raw.decode("latin-1")
        record = parse_record(line, number)
        name = NAMES[line[:2]]
        if start is None:
            if not isinstance(record, Start):
                raise _refuse(number, "first record", "a BgMax file starts with the TK01 start record (01BGMAX)")
            if record.version not in VERSIONS:
                raise UnknownFormat(
                    f"BgMax version {record.version} is not supported (supported: {', '.join(VERSIONS)})",
                    field="TK01 start record version (positions 23-24)",
                    line=number,
                    file_format=FileFormat.BGMAX.value,
                )
            start = record
            info.version = f"BgMax {record.version}"
            info.test_file = record.test
            continue
        if ended:
            raise _refuse(number, name, "no record may follow the TK70 end record")
        if isinstance(record, Opening | End) and deposit is not None:
            raise _refuse(number, name, f"the deposit opened at line {deposit.line} has no TK15")
        if isinstance(record, Payment | Deposit | Opening | End | Start) and payment is not None:
            assert deposit is not None
            yield _item(payment, deposit)
            payment = None
        if isinstance(record, Start):
            raise _refuse(number, name, "a second start record")
        if isinstance(record, End):
            _check_end(number, record, counts)
            ended = True
        elif isinstance(record, Opening):
            deposit = _OpenDeposit(record, number, ahead.deposit_after(number, number))
        elif deposit is None:
            raise _refuse(number, name, "outside a deposit (no TK05 opening record before it)")
        elif isinstance(record, Payment):
            if record.is_deduction:
                counts.deductions += 1
                deposit.deductions += 1
                deposit.net -= record.amount
            else:
                counts.payments += 1
                deposit.payments += 1
                deposit.net += record.amount
            payment = _OpenPayment(record, number, deposit.payments + deposit.deductions)
        elif isinstance(record, Deposit):
            counts.deposits += 1
            _check_deposit(number, deposit, record)
            deposit = None
        elif payment is None:
            raise _refuse(number, name, "belongs to a payment but follows no TK20/TK21")
        elif isinstance(record, ExtraReferenceRecord):
            counts.extras += 1
            amount = minor_units(record.amount) if record.amount else None  # zeros: no amount given
            if amount is not None and record.negative:
                amount = -amount
            payment.extras.append(ExtraReference(record.reference.strip(), amount))
        elif isinstance(record, Information):
            payment.texts.append(record.text)
        elif isinstance(record, Name):
            payment.name = " ".join(p for p in (record.name, record.extra_name) if p)
        elif isinstance(record, OrganisationNumber):
            payment.organisation = record.number
    if start is None:
        raise _refuse(1, "file", "empty: no TK01 start record")
    if not ended:
        raise _refuse(last, "file", "truncated: no TK70 end record")


def _check_deposit(number: int, deposit: _OpenDeposit, tk15: Deposit) -> None:
    if tk15.currency != deposit.opening.currency:
        raise _refuse(number, "TK15 deposit record currency (positions 69-71)", f"{tk15.currency} differs from TK05's")
    if tk15.count != deposit.payments + deposit.deductions:
        raise _refuse(
            number,
            "TK15 deposit record number of payments (positions 72-79)",
            f"says {tk15.count} but the deposit has {deposit.payments + deposit.deductions} TK20/TK21 records",
        )
    if tk15.amount != deposit.net:
        raise _refuse(
            number,
            "TK15 deposit record deposit amount (positions 51-68)",
            f"says {minor_units(tk15.amount)} but the payments less deductions give {minor_units(deposit.net)}",
        )


def _item(p: _OpenPayment, deposit: _OpenDeposit) -> Item:
    currency = deposit.opening.currency
    amount = minor_units(p.record.amount)
    if p.record.is_deduction:
        return Skipped(SkipReason.DEBIT, amount, currency, p.line)
    if amount <= 0:
        raise _refuse(p.line, "TK20 payment record amount (positions 38-55)", "a payment must be more than zero")
    tk15 = deposit.closing
    if isinstance(tk15, BankFileError):
        raise tk15
    reference = p.record.reference.strip()
    sender = p.record.sender_bankgiro
    return CreditTransaction(
        format=FileFormat.BGMAX,
        file_digest="",
        transaction_id=f"bgmax:{deposit.opening.bankgiro}:{tk15.payment_day:%Y%m%d}:{tk15.serial}:{p.ordinal:05d}",
        payee_account=deposit.opening.bankgiro,
        reference=reference if p.record.reference_code != 0 else "",
        structured=p.record.reference_code == 2,
        amount=amount,
        currency=currency,
        ordered=tk15.payment_day,
        ordered_from="TK15 payment day",
        booked=tk15.payment_day,
        line=p.line,
        bank_reference=p.record.serial,
        payer_name=p.name,
        payer_account=sender if sender.strip("0") else None,
        payer_id=p.organisation,
        text="\n".join(p.texts) or None,
        extra_references=tuple(p.extras),
    )


def _check_end(number: int, end: End, counts: _Counts) -> None:
    for what, declared, actual in (
        ("payment records (positions 3-10)", end.payments, counts.payments),
        ("deduction records (positions 11-18)", end.deductions, counts.deductions),
        ("extra reference records (positions 19-26)", end.extra_references, counts.extras),
        ("deposit records (positions 27-34)", end.deposits, counts.deposits),
    ):
        if declared != actual:
            raise _refuse(number, f"TK70 end record number of {what}", f"says {declared} but the file has {actual}")
