"""A temporary file of validated transactions: written while a bank file is checked, read after.

`marshal` of plain tuples (str, int, bool, None) is the fastest way Python has to write and read
records back, and unlike pickle it builds no objects of its own choosing; the file is an anonymous
temporary file of this process (removed when closed), so its format never has to outlive a run.
"""

from __future__ import annotations

import marshal
import tempfile
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import IO, cast

from intake.model import CreditTransaction, ExtraReference, FileFormat

_Extras = tuple[tuple[str, str | None], ...]
_Opt = str | None
_Row = tuple[str, str, str, bool, str, str, int, str, int | None, int, _Opt, _Opt, _Opt, _Opt, _Opt, _Opt, _Extras]


def row_of(tx: CreditTransaction) -> _Row:
    return (
        tx.transaction_id,
        tx.payee_account,
        tx.reference,
        tx.structured,
        str(tx.amount),
        tx.currency,
        tx.ordered.toordinal(),
        tx.ordered_from,
        tx.booked.toordinal() if tx.booked else None,
        tx.line,
        tx.element,
        tx.bank_reference,
        tx.payer_name,
        tx.payer_account,
        tx.payer_id,
        tx.text,
        tuple((e.reference, None if e.amount is None else str(e.amount)) for e in tx.extra_references),
    )


def transaction_of(row: _Row, file_format: FileFormat, digest: str) -> CreditTransaction:
    (tid, payee, reference, structured, amount, currency, ordered, ordered_from, booked, line, element, bank_ref,
     name, account, payer_id, text, extras) = row  # fmt: skip
    return CreditTransaction(
        format=file_format,
        file_digest=digest,
        transaction_id=tid,
        payee_account=payee,
        reference=reference,
        structured=structured,
        amount=Decimal(amount),
        currency=currency,
        ordered=date.fromordinal(ordered),
        ordered_from=ordered_from,
        booked=None if booked is None else date.fromordinal(booked),
        line=line,
        element=element,
        bank_reference=bank_ref,
        payer_name=name,
        payer_account=account,
        payer_id=payer_id,
        text=text,
        extra_references=tuple(ExtraReference(r, None if a is None else Decimal(a)) for r, a in extras),
    )


class Spool:
    def __init__(self) -> None:
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix="kravsak-intake-")
        self.count = 0

    def write(self, tx: CreditTransaction) -> None:
        marshal.dump(row_of(tx), self._file)
        self.count += 1

    def write_row(self, row: _Row) -> None:
        """A transaction as ``row_of`` made it (in another process: ``intake.check_process``)."""
        marshal.dump(row, self._file)
        self.count += 1

    def read(self, file_format: FileFormat, digest: str) -> Iterator[CreditTransaction]:
        """The transactions in file order (one reader at a time: they share the file position)."""
        self._file.flush()
        self._file.seek(0)
        for _ in range(self.count):
            yield transaction_of(cast(_Row, marshal.load(self._file)), file_format, digest)

    def close(self) -> None:
        self._file.close()
