"""Nets OCR giro files, written through netsgiro's own object model and serialiser.

Each assignment is a `netsgiro.Assignment` holding `netsgiro.Transaction`s, turned into lines by the
library's `to_records()` / `to_ocr()`; assignments are written one at a time (`assignment_size`
transactions each), so memory follows the assignment, not the file. The transmission's start and end
records are netsgiro's record classes too.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from datetime import date
from itertools import islice
from typing import TextIO

import netsgiro
from netsgiro import records as nr

from intake.write import BankPayment


def _chunks(payments: Iterable[BankPayment], size: int) -> Iterator[list[BankPayment]]:
    iterator = iter(payments)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _transaction(number: int, archive: int, payment: BankPayment) -> netsgiro.Transaction:
    booked = payment.booking_date
    account = payment.payer_account or "0" * 11
    if not (len(account) == 11 and account.isdigit()):
        raise ValueError(f"an OCR debit account is 11 digits, got {account!r}")
    payment.minor_units()  # checks the amount
    return netsgiro.Transaction(
        service_code=netsgiro.ServiceCode.OCR_GIRO,
        type=(
            netsgiro.TransactionType.REVERSING_WITH_KID
            if payment.debit
            else netsgiro.TransactionType.FROM_GIRO_DEBITED_ACCOUNT
        ),
        number=number,
        date=booked,
        amount=payment.amount,
        kid=payment.reference,
        reference=f"{archive % 10**9:09d}",  # the archive reference is 9 digits (it need not be unique)
        text=None,
        centre_id="13",
        day_code=booked.day,
        partial_settlement_number=1,
        partial_settlement_serial_number="00001",
        sign="-" if payment.debit else "0",
        form_number="0" * 10,
        bank_date=payment.ordered,
        debit_account=account,
        filler="0" * 7,
    )


def write_ocr(
    path: str | os.PathLike[str],
    payments: Iterable[BankPayment],
    *,
    data_recipient: str = "00012345",
    transmission_number: str = "0000001",
    agreement_id: str = "000012345",
    account: str = "12345678903",
    assignment_size: int = 10_000,
    data_transmitter: str = "00008080",
) -> int:
    """Write one transmission; returns the number of transactions. `payments` may be a generator."""
    with open(path, "w", encoding="latin-1", newline="\n") as out:
        return _write(
            out, payments, data_recipient, transmission_number, agreement_id, account, assignment_size, data_transmitter
        )


def _write(
    out: TextIO,
    payments: Iterable[BankPayment],
    data_recipient: str,
    transmission_number: str,
    agreement_id: str,
    account: str,
    assignment_size: int,
    data_transmitter: str,
) -> int:
    start = nr.TransmissionStart(
        service_code=netsgiro.ServiceCode.NONE,
        transmission_number=transmission_number,
        data_transmitter=data_transmitter,
        data_recipient=data_recipient,
    )
    out.write(start.to_ocr() + "\n")
    records, transactions, total, latest = 2, 0, 0, date.min
    archive = int(transmission_number) * 100_000
    for n, chunk in enumerate(_chunks(payments, assignment_size), start=1):
        assignment_date = max(p.booking_date for p in chunk)
        latest = max(latest, assignment_date)
        assignment = netsgiro.Assignment(
            service_code=netsgiro.ServiceCode.OCR_GIRO,
            type=netsgiro.AssignmentType.TRANSACTIONS,
            number=f"{n:07d}",
            account=account,
            agreement_id=agreement_id,
            date=assignment_date,
        )
        for i, payment in enumerate(chunk, start=1):
            archive += 1
            assignment.transactions.append(_transaction(i, archive, payment))
        for record in assignment.to_records():
            out.write(record.to_ocr() + "\n")
            records += 1
        transactions += len(chunk)
        total += sum(p.minor_units() for p in chunk)
    end = nr.TransmissionEnd(
        service_code=netsgiro.ServiceCode.NONE,
        num_transactions=transactions,
        num_records=records,
        total_amount=total,
        nets_date=latest if transactions else date.today(),
    )
    out.write(end.to_ocr() + "\n")
    return transactions
