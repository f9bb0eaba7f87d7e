"""A temporary file of validated transactions: written while a bank file is checked, read after.

`marshal` of plain tuples (str, int, bool, None) is the fastest way Python has to write and read
records back, and unlike pickle it builds no objects of its own choosing; the file is an anonymous
temporary file of this process (removed when closed), so its format never has to outlive a run.
"""

from __future__ import annotations

import marshal
import struct
import tempfile
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import IO, Any, cast

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
    """Rows written in chunks of ``CHUNK``, each its length and ``marshal.dumps`` of the list: ``marshal.load``
    straight from a file reads it in small pieces, seven times slower than ``loads`` of the chunk."""

    CHUNK = 256

    def __init__(self) -> None:
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix="kravsak-intake-")
        self._pending: list[_Row] = []
        self.count = 0

    def write(self, tx: CreditTransaction) -> None:
        self.write_row(row_of(tx))

    def write_row(self, row: _Row) -> None:
        """A transaction as ``row_of`` made it (in another process: ``intake.check_process``)."""
        self._pending.append(row)
        self.count += 1
        if len(self._pending) >= self.CHUNK:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            write_framed(self._file, self._pending)
            self._pending = []

    def read(self, file_format: FileFormat, digest: str) -> Iterator[CreditTransaction]:
        """The transactions in file order (one reader at a time: they share the file position)."""
        self._flush()
        self._file.flush()
        self._file.seek(0)
        left = self.count
        while left:
            rows = cast(list[_Row], read_framed(self._file))
            left -= len(rows)
            for row in rows:
                yield transaction_of(row, file_format, digest)

    def close(self) -> None:
        self._file.close()


_LENGTH = struct.Struct("<Q")


def write_framed(file: IO[bytes], value: Any) -> None:
    """``value`` (str, int, bytes, None, bool and tuples, lists, dicts of them) as its length and ``marshal``."""
    data = marshal.dumps(value)
    file.write(_LENGTH.pack(len(data)))
    file.write(data)


def read_framed(file: IO[bytes]) -> Any:
    """The next value ``write_framed`` wrote."""
    (length,) = _LENGTH.unpack(file.read(_LENGTH.size))
    return marshal.loads(file.read(length))
