"""Bankgirot BgMax files (ISO 8859-1, CRLF), written from the record classes in `intake.bgmax`.

Consecutive payments ordered on the same day form one deposit (TK05 … TK15) to the payee's
bankgiro; a payment carries its reference (code 2, right-aligned, when it is digits: a checked OCR
reference; code 4, left-aligned, for other text; code 0 for none), a TK26 name and TK25 lines of
its text. A `debit` payment is written as a TK21 deduction.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from itertools import groupby
from typing import TextIO

from intake import bgmax
from intake.write import BankPayment


def _payment_records(payment: BankPayment, serial: int) -> list[bgmax.Record]:
    reference = payment.reference
    if not reference:
        code, field = 0, ""
    elif reference.isdigit():
        code, field = 2, f"{reference:>25}"
    else:
        code, field = 4, reference
    sender = payment.payer_account or "0" * 10
    if not (len(sender) == 10 and sender.isdigit()):
        raise ValueError(f"a BgMax sender bankgiro number is 10 digits, got {sender!r}")
    records: list[bgmax.Record] = [
        bgmax.Payment(
            sender_bankgiro=sender,
            reference=field,
            amount=payment.minor_units(),
            reference_code=code,
            channel=1,
            serial=f"{serial:012d}",
            image=0,
            deduction_code=0 if payment.debit else None,
        )
    ]
    for line in (payment.text or "").splitlines():
        records.append(bgmax.Information(line))
    if payment.payer_name:
        records.append(bgmax.Name(payment.payer_name))
    return records


def write_bgmax(
    path: str | os.PathLike[str],
    payments: Iterable[BankPayment],
    *,
    bankgiro: str = "0009912346",
    account: str = "58410000010098",
    currency: str = "SEK",
    created: datetime | None = None,
    first_deposit_serial: int = 1,
    test: bool = False,
) -> int:
    """Write one file; returns the number of payments (TK20 and TK21). `payments` may be a generator."""
    with open(path, "w", encoding="latin-1", newline="\r\n") as out:
        return _write(out, payments, bankgiro, account, currency, created, first_deposit_serial, test)


def _write(
    out: TextIO,
    payments: Iterable[BankPayment],
    bankgiro: str,
    account: str,
    currency: str,
    created: datetime | None,
    first_serial: int,
    test: bool,
) -> int:
    stamp = (created or datetime(2025, 1, 1, 6, 0, 0)).strftime("%Y%m%d%H%M%S%f")
    out.write(bgmax.Start("01", stamp, test).line() + "\n")
    counts = {"20": 0, "21": 0, "15": 0}
    serial = 0
    for n, (day, group) in enumerate(groupby(payments, key=lambda p: p.ordered)):
        out.write(bgmax.Opening(bankgiro, "", currency).line() + "\n")
        in_deposit, net = 0, 0
        for payment in group:
            serial += 1
            for record in _payment_records(payment, serial):
                out.write(record.line() + "\n")
            in_deposit += 1
            counts["21" if payment.debit else "20"] += 1
            net += -payment.minor_units() if payment.debit else payment.minor_units()
        if net < 0:
            raise ValueError(f"the deposit of {day} would be negative")
        deposit = bgmax.Deposit(account, day, f"{first_serial + n:05d}", net, currency, in_deposit)
        out.write(deposit.line() + "\n")
        counts["15"] += 1
    out.write(bgmax.End(counts["20"], counts["21"], 0, counts["15"]).line() + "\n")
    return counts["20"] + counts["21"]
