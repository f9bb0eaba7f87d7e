"""Writers of bank files (OCR giro, camt.054, BgMax) for tests and the demo: what a bank would send.

Each writer takes `BankPayment`s in the order they should appear and streams them to the file, so a
100 000-payment file is written in flat memory. Reading a written file back gives the same payments
(the property tests check it); the ids the writers give (archive references, serial numbers) are
deterministic, so the same payments written twice make the same file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class BankPayment:
    """One payment as a payer made it: the reference they typed, the amount, the day they ordered it.

    `booked` (default: `ordered`) is the day the bank booked it to the payee. `debit` writes the entry
    as money out (camt.054 DBIT, BgMax TK21 deduction, OCR type 18 reversal) for tests of skipping.
    """

    reference: str
    amount: Decimal
    ordered: date
    booked: date | None = None
    payer_name: str | None = None
    payer_account: str | None = None
    text: str | None = None
    debit: bool = False

    @property
    def booking_date(self) -> date:
        return self.booked or self.ordered

    def minor_units(self) -> int:
        """The amount in øre/öre; it must be positive with at most two decimals."""
        cents = self.amount * 100
        if self.amount <= 0 or cents != cents.to_integral_value():
            raise ValueError(f"a bank payment is a positive amount with at most two decimals, got {self.amount}")
        return int(cents)
