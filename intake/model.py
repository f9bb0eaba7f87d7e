"""What every bank-file format is read into: one credit transaction at a time, and the file's summary.

The three formats (Nets OCR giro, ISO 20022 camt.054, Bankgirot BgMax) differ in layout, not in what
the collection office needs from them: who is paying what (the reference), how much, the day the
payer ordered the payment (which decides timeliness), a reference that names this one transaction
for ever (the command id that makes a second import change nothing), and where in the file it
stands (for errors and for a caseworker who opens the file).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import partial
from types import MappingProxyType
from typing import Any


class FileFormat(StrEnum):
    """The bank-file formats kravsak reads; the values are the `--format` / scenario `format` names."""

    OCR = "ocr"  # Nets OCR giro (Norway)
    CAMT054 = "camt054"  # ISO 20022 BankToCustomerDebitCreditNotification
    BGMAX = "bgmax"  # Bankgirot Inbetalningar, BgMax layout (Sweden)


@dataclass(frozen=True, slots=True)
class ExtraReference:
    """A further reference the payer gave with the same payment (BgMax TK22/TK23, a second camt.054
    `Strd`); `amount` is what the file says belongs to it, negative for a BgMax TK23, None if unsaid."""

    reference: str
    amount: Decimal | None


@dataclass(frozen=True, slots=True)
class CreditTransaction:
    """Money in: one payment as the bank reported it.

    - `transaction_id`: unique for this payment at this bank and stable between deliveries of the same
      file; the caller uses it as the command id (see ADR 0018 for how each format builds it).
    - `payee_account`: the office's account the money went to (OCR assignment account, camt.054
      `Ntfctn/Acct`, BgMax payee bankgiro); `check(accounts=...)` refuses a file paying anyone else.
    - `reference`: the KID (Norway) or OCR reference (Sweden) when `structured`, else whatever text the
      payer gave in its place ("" for none). Only a structured reference is matched to a claim.
    - `ordered`: the payer's order date per scenario contract 1.1 ("Precise meanings"); `ordered_from`
      names the field it was read from. `booked`: the day the money was booked to the payee's account.
    - `line` / `element`: where it stands in the file (1-based line; XML element path for camt.054).
    """

    format: FileFormat
    file_digest: str
    transaction_id: str
    payee_account: str
    reference: str
    structured: bool
    amount: Decimal
    currency: str
    ordered: date
    ordered_from: str
    booked: date | None
    line: int
    element: str | None = None
    bank_reference: str | None = None
    payer_name: str | None = None
    payer_account: str | None = None
    payer_id: str | None = None
    text: str | None = None
    extra_references: tuple[ExtraReference, ...] = ()

    @property
    def position(self) -> str:
        return f"line {self.line}" + (f", {self.element}" if self.element else "")


class SkipReason(StrEnum):
    """Entries in a bank file that are not a payer's payment to the office; they are counted, not read."""

    DEBIT = "debit"  # money out (camt.054 DBIT, BgMax TK21 deduction, OCR reversal types 18/20)
    REVERSAL = "reversal"  # camt.054 CRDT with RvslInd: a debit taken back, not a payment
    NOT_BOOKED = "not_booked"  # camt.054 entry whose status is not BOOK (pending or information only)
    NOT_MONEY = "not_money"  # OCR AvtaleGiro agreement/cancellation notices (no amount moves)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A counted entry that is not a credit transaction (what a format parser yields besides them)."""

    reason: SkipReason
    amount: Decimal
    currency: str
    line: int
    element: str | None = None


@dataclass(frozen=True, slots=True)
class Totals:
    count: int = 0
    amount: Decimal = Decimal("0.00")

    def plus(self, amount: Decimal) -> Totals:
        return Totals(self.count + 1, self.amount + amount)


@dataclass(frozen=True, slots=True)
class FirstOrder:
    """The first credit transaction of the file ordered on a day: where it is (``index``: its place among the
    file's credit transactions), and which field gave the date. What the import day's check needs, kept while
    the file is checked, so the check needs no second pass over the transactions."""

    index: int
    ordered_from: str
    line: int
    element: str | None = None


@dataclass(frozen=True, slots=True)
class FileSummary:
    """What the first (validating) pass learnt; the caller reconciles its import against it.

    `credits` is per currency; `first_orders` is what the import day's check needs (`first_ordered_after`).
    The file's own control totals (OCR end records, camt.054 TxsSummry and batch totals, BgMax TK15/TK70)
    have already been checked against the records: `controls` says which.
    """

    format: FileFormat
    digest: str
    size: int
    credits: Mapping[str, Totals]
    skipped: Mapping[SkipReason, int]
    controls: str
    test_file: bool = False
    version: str | None = None
    payee_accounts: frozenset[str] = frozenset()
    first_orders: Mapping[date, FirstOrder] = field(default_factory=dict)
    """Per order date, the first transaction ordered that day (a file has few distinct days)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "credits", MappingProxyType(dict(self.credits)))
        object.__setattr__(self, "skipped", MappingProxyType(dict(self.skipped)))
        object.__setattr__(self, "first_orders", MappingProxyType(dict(self.first_orders)))

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        """Pickled with its read-only mappings as dicts (the check process sends its summary)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in ("credits", "skipped", "first_orders"):
            values[name] = dict(values[name])
        return partial(FileSummary, **values), ()

    def first_ordered_after(self, day: date) -> tuple[date, FirstOrder] | None:
        """The first transaction in file order whose payer ordered it after ``day``, and its order date."""
        later = [(first.index, ordered, first) for ordered, first in self.first_orders.items() if ordered > day]
        if not later:
            return None
        _, ordered, first = min(later, key=lambda found: found[0])
        return ordered, first

    @property
    def credit_count(self) -> int:
        return sum(t.count for t in self.credits.values())

    def credit_amount(self, currency: str) -> Decimal:
        return self.credits.get(currency, Totals()).amount
