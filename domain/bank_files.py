"""A bank file's import (NO innbetalingsfil, SE inbetalningsfil): which file, how far it got, what it held.

One aggregate per file and id namespace, its id a uuid5 of the file's SHA-256: the same bytes are the
same file. It is the import's own record and its checkpoint:

- ``Opened`` when the first batch of the file's transactions is stored: format, the office accounts it
  pays into, the creditors they belong to, the file's own count and total, who imported it;
- ``BatchRegistered`` in the SAME save as each batch's payments: how many of the file's transactions
  (in file order) are done, and how the batch's transactions landed (matched, unmatched, duplicates,
  amounts). A run killed mid-file has stored whole batches only, each with its checkpoint; the next
  run skips what the checkpoint says is done, so every transaction is registered exactly once;
- ``Imported`` after the last batch: the totals, and the reconciliation of the file (its total =
  matched + unmatched + duplicates). A file whose import is complete is recognised as imported.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import invalid
from domain.money import ZERO
from domain.refunds import check_person

OUTCOMES = ("matched", "unmatched", "duplicates")


def bank_file_id(namespace: UUID, digest: str) -> UUID:
    return uuid5(namespace, f"bank-file:{digest}")


class BankFile(Aggregate):
    """One bank file's import."""

    class Opened(Aggregate.Created):
        command_id: str
        effective: date
        recorded: date
        currency: str
        digest: str  # SHA-256 of the file's bytes
        file_format: str  # ocr, camt054, bgmax
        format_version: str  # the format's version as the file states it ("" when it states none)
        accounts: list[str]  # the office accounts the file pays into
        creditors: list[str]  # the creditors those accounts belong to
        transactions: int  # credit transactions in the file
        total: Decimal  # their sum (checked against the file's own control totals)
        size: int  # bytes
        imported_by: str

        def apply(self, f: BankFile) -> None:
            f.digest, f.file_format, f.format_version = self.digest, self.file_format, self.format_version
            f.accounts, f.creditors, f.currency = list(self.accounts), list(self.creditors), self.currency
            f.transactions, f.total, f.size = self.transactions, self.total, self.size
            f.imported_by, f.opened_on = self.imported_by, self.effective
            f.position, f.counts, f.amounts = 0, dict.fromkeys(OUTCOMES, 0), dict.fromkeys(OUTCOMES, ZERO)
            f.surplus, f.completed_on, f.batches = ZERO, None, 0

    class Event(Aggregate.Event):
        command_id: str
        effective: date
        recorded: date
        currency: str

        def apply(self, f: BankFile) -> None:
            self.apply_to(f)

        def apply_to(self, f: BankFile) -> None:
            raise NotImplementedError

    class BatchRegistered(Event):
        """One batch of the file's transactions is stored (in the same transaction as this event)."""

        first: int  # 0-based index of the batch's first transaction in the file
        position: int  # transactions of the file done after this batch
        matched: int
        unmatched: int
        duplicates: int
        matched_amount: Decimal
        unmatched_amount: Decimal
        duplicate_amount: Decimal
        surplus_amount: Decimal  # part of the matched amount beyond the claims' balances (owed back)

        def apply_to(self, f: BankFile) -> None:
            f.position, f.batches = self.position, f.batches + 1
            for outcome, count, amount in (
                ("matched", self.matched, self.matched_amount),
                ("unmatched", self.unmatched, self.unmatched_amount),
                ("duplicates", self.duplicates, self.duplicate_amount),
            ):
                f.counts[outcome] += count
                f.amounts[outcome] += amount
            f.surplus += self.surplus_amount

    class Imported(Event):
        """Every transaction of the file is done; the file total equals matched + unmatched + duplicates."""

        matched: int
        unmatched: int
        duplicates: int
        matched_amount: Decimal
        unmatched_amount: Decimal
        duplicate_amount: Decimal
        surplus_amount: Decimal

        def apply_to(self, f: BankFile) -> None:
            f.completed_on = self.effective

    digest: str
    file_format: str
    format_version: str
    accounts: list[str]
    creditors: list[str]
    currency: str
    transactions: int
    total: Decimal
    size: int
    imported_by: str
    opened_on: date
    position: int
    counts: dict[str, int]
    amounts: dict[str, Decimal]
    surplus: Decimal
    completed_on: date | None
    batches: int

    def __init__(self) -> None:
        """State is set by ``Opened.apply``."""

    @classmethod
    def open(
        cls,
        *,
        id: UUID,
        on: date,
        digest: str,
        file_format: str,
        format_version: str,
        accounts: list[str],
        creditors: list[str],
        currency: str,
        transactions: int,
        total: Decimal,
        size: int,
        imported_by: str,
    ) -> BankFile:
        if transactions < 0 or total < 0:
            raise invalid("file", "a bank file's count and total are not negative")
        return cls._create(
            cls.Opened,
            id=id,
            command_id=f"bank-file:{digest}",
            effective=on,
            recorded=on,
            currency=currency,
            digest=digest,
            file_format=file_format,
            format_version=format_version,
            accounts=sorted(accounts),
            creditors=sorted(creditors),
            transactions=transactions,
            total=total,
            size=size,
            imported_by=check_person("imported_by", imported_by),
        )

    @property
    def complete(self) -> bool:
        return self.completed_on is not None

    def register_batch(
        self,
        *,
        on: date,
        first: int,
        counts: dict[str, int],
        amounts: dict[str, Decimal],
        surplus: Decimal,
    ) -> None:
        if first != self.position:
            raise invalid("batch", f"the file's batch starts at transaction {first}, but {self.position} are done")
        done = first + sum(counts[o] for o in OUTCOMES)
        if done > self.transactions:
            raise invalid("batch", f"{done} transactions done, but the file holds {self.transactions}")
        self.trigger_event(
            self.BatchRegistered,
            command_id=f"bank-file:{self.digest}:{first}",
            effective=on,
            recorded=on,
            currency=self.currency,
            first=first,
            position=done,
            matched=counts["matched"],
            unmatched=counts["unmatched"],
            duplicates=counts["duplicates"],
            matched_amount=amounts["matched"],
            unmatched_amount=amounts["unmatched"],
            duplicate_amount=amounts["duplicates"],
            surplus_amount=surplus,
        )

    def complete_import(self, *, on: date) -> None:
        if self.complete:
            return
        if self.position != self.transactions:
            raise invalid("file", f"{self.position} of the file's {self.transactions} transactions are done")
        landed = sum(self.amounts.values(), ZERO)
        if landed != self.total:
            raise invalid("file", f"the file's total {self.total} is not matched + unmatched + duplicates = {landed}")
        self.trigger_event(
            self.Imported,
            command_id=f"bank-file:{self.digest}:imported",
            effective=on,
            recorded=on,
            currency=self.currency,
            matched=self.counts["matched"],
            unmatched=self.counts["unmatched"],
            duplicates=self.counts["duplicates"],
            matched_amount=self.amounts["matched"],
            unmatched_amount=self.amounts["unmatched"],
            duplicate_amount=self.amounts["duplicates"],
            surplus_amount=self.surplus,
        )
