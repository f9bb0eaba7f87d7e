"""The spool gives back every transaction it was given, in order, whole, as often as it is read."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from intake.model import CreditTransaction, ExtraReference, FileFormat
from intake.spool import Spool, row_of


def transaction(n: int) -> CreditTransaction:
    return CreditTransaction(
        format=FileFormat.CAMT054, file_digest="d" * 64, transaction_id=f"camt054:NO93:{n}", payee_account="NO93",
        reference=f"{n:010d}", structured=n % 3 != 0, amount=Decimal(n).scaleb(-2), currency="NOK",
        ordered=date(2025, 3, 1 + n % 28), ordered_from="AccptncDtTm", booked=None if n % 2 else date(2025, 3, 29),
        line=n, element=f"/Document/Ntry[{n}]", bank_reference=None, payer_name="Kari" if n % 5 else None,
        payer_account=None, payer_id=None, text="fritekst" if n % 7 == 0 else None,
        extra_references=(ExtraReference(f"x{n}", Decimal("1.00")),) if n % 11 == 0 else (),
    )  # fmt: skip


def test_every_transaction_comes_back_in_order_across_chunks_and_again() -> None:
    written = [transaction(n) for n in range(Spool.CHUNK * 2 + 37)]
    spool = Spool()
    try:
        for i, tx in enumerate(written):
            if i % 2:
                spool.write(tx)
            else:
                spool.write_row(row_of(tx))  # as the check process hands them over
        assert spool.count == len(written)
        assert list(spool.read(FileFormat.CAMT054, "d" * 64)) == written
        assert list(spool.read(FileFormat.CAMT054, "d" * 64)) == written
    finally:
        spool.close()
