"""Importing a bank file: every credit transaction matched to its claim, or held in suspense, exactly once.

    report = import_file(app, "innbetalinger.ocr", accounts=office_accounts, on=today, by="kari")

The one code path for `kravsak payments import`, the HTTP upload, the scenario step `import_payments`,
the demo's daily files and the benchmark. What it guarantees:

- **The whole file, or nothing of it.** ``intake.check`` validates every byte (records, control totals,
  XSD) before anything is stored, then what it learnt about the file (its summary: no second pass over
  the transactions) is checked against what needs the office: every payee account is the office's (the
  letterheads name the creditor of each) and receives files of this format, the currency is the
  creditor's, no payer ordered a payment after the import day. A refused file raises ``BankFileError``
  naming the line or element; nothing is stored.
- **Exactly once.** Each transaction is registered with its transaction id as the command id
  (``CollectionApp.receive_bank_payments``: a batch's ``receive_bank_payment`` commands in one call):
  matched by its structured reference, else into suspense; a surplus is requested as a refund.
  Transactions are stored in batches, each ONE transaction of the event store together with the file's
  checkpoint (``BankFile.BatchRegistered``: how many of the file's transactions are done). A run killed
  mid-file has stored whole batches only; run again, it goes on after the checkpoint. A transaction
  registered by another file, or by another delivery of the same payment, is a duplicate and changes nothing.
- **Recognised.** A file whose import is complete (``BankFile.Imported``) is reported as imported
  before, with nothing changed; its transactions count as duplicates.
- **Reconciled.** The report's file total = matched + unmatched + duplicates, per the file's own
  control totals; the surplus part of the matched money is shown apart (owed back).

Memory stays flat: the spool is on disk and a batch holds ``batch_size`` transactions. While a file is
imported the cyclic garbage collector runs less often (``fewer_collections``): an import allocates a few
hundred objects per transaction, almost none in cycles, and every full collection walks the thousands of
aggregates the batches keep warm — an eighth of the import's CPU at Python's default thresholds. Who the payers
are (name, account — for refunds) goes to ``payers``, outside the event log, before the batch's events.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import islice
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import RecordConflictError

from domain.application import CollectionApp
from domain.bank_files import OUTCOMES, BankFile, bank_file_id
from domain.bank_payments import IncomingPayment
from domain.errors import CommandRefused
from domain.money import ZERO, fmt
from domain.rules import rules_for
from intake.accounts import OfficeAccounts
from intake.errors import BankFileError
from intake.model import CreditTransaction, FileFormat, FileSummary
from intake.reader import CheckedFile, check

BATCH = 500
WARM = 10_000
"""At most this many aggregates stay loaded from one batch to the next (claims a file pays again, its suspense
account, its creditor)."""
Progress = Callable[[str, int, int], None]
"""``(phase, done, total)``: phase ``check`` counts bytes, ``import`` transactions."""


class PayerDetails(Protocol):
    """Where the payers' names and accounts go (outside the event log: personal data, erasable)."""

    def remember(self, rows: list[tuple[str, str | None, str | None, str | None]]) -> None:
        """``(transaction id, payer name, payer account, account scheme)`` of a batch; idempotent."""


class ImportConflict(RuntimeError):
    """Another import of the same file stored a batch first; running it again goes on where that one got."""


@dataclass
class ImportReport:
    """What an import did (and, for a file imported before, what the first import did is in ``earlier``)."""

    path: str
    digest: str
    file_format: str
    format_version: str
    accounts: list[str]
    creditors: list[str]
    currency: str
    transactions: int
    total: Decimal
    imported_on: date
    imported_by: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    amounts: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, ZERO))
    surplus: Decimal = ZERO
    refunds: int = 0
    resumed_from: int = 0
    already_imported: bool = False
    earlier: dict[str, Any] | None = None

    @property
    def reconciled(self) -> bool:
        """The file total equals matched + unmatched + duplicates."""
        return sum(self.amounts.values(), ZERO) == self.total

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "digest": self.digest,
            "format": self.file_format,
            "version": self.format_version or None,
            "accounts": self.accounts,
            "creditors": self.creditors,
            "currency": self.currency,
            "imported_on": self.imported_on.isoformat(),
            "imported_by": self.imported_by,
            "already_imported": self.already_imported,
            "resumed_from": self.resumed_from,
            "transactions": self.transactions,
            **self.counts,
            "amounts": {
                "file_total": fmt(self.total),
                "matched": fmt(self.amounts["matched"]),
                "suspense": fmt(self.amounts["unmatched"]),
                "duplicates": fmt(self.amounts["duplicates"]),
                "surplus": fmt(self.surplus),
            },
            "reconciliation": {
                "file_total": fmt(self.total),
                "matched_plus_suspense_plus_duplicates": fmt(sum(self.amounts.values(), ZERO)),
                "holds": self.reconciled,
            },
            "refunds_requested": self.refunds,
            "earlier": self.earlier,
        }


IMPORT_GC_THRESHOLDS = (50_000, 20, 100)
"""The collector's thresholds while a file is imported (Python's default: 700, 10, 10). Objects freed by their
reference count go at once as ever; only garbage in cycles waits longer (measured: peak memory unchanged)."""
_gc_lock = threading.Lock()
_gc_users = 0
_gc_before: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """``IMPORT_GC_THRESHOLDS`` while at least one import runs in this process, then the thresholds before."""
    global _gc_users, _gc_before
    with _gc_lock:
        if _gc_users == 0:
            _gc_before = gc.get_threshold()
            gc.set_threshold(*IMPORT_GC_THRESHOLDS)
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_before)


def import_file(
    app: CollectionApp,
    path: str | os.PathLike[str],
    *,
    on: date,
    by: str,
    accounts: OfficeAccounts | None = None,
    creditor: str | None = None,
    file_format: FileFormat | str | None = None,
    batch_size: int = BATCH,
    payers: PayerDetails | None = None,
    progress: Progress | None = None,
    refunds_by: str | None = None,
) -> ImportReport:
    """Import one bank file (see the module docstring). The creditor of each transaction comes from its payee
    account (``accounts``), or is ``creditor`` for every account (a scenario's one creditor). ``refunds_by``:
    who requests the refund of a surplus (default ``by``)."""
    if (accounts is None) == (creditor is None):
        raise ValueError("give either the office's accounts or the one creditor")
    with fewer_collections():
        return _import(app, path, on, by, accounts, creditor, file_format, batch_size, payers, progress, refunds_by)


def _import(
    app: CollectionApp,
    path: str | os.PathLike[str],
    on: date,
    by: str,
    accounts: OfficeAccounts | None,
    creditor: str | None,
    file_format: FileFormat | str | None,
    batch_size: int,
    payers: PayerDetails | None,
    progress: Progress | None,
    refunds_by: str | None,
) -> ImportReport:
    size = os.path.getsize(path)
    report_check: Callable[[int], None] | None = (lambda n: progress("check", n, size)) if progress else None
    with check(path, file_format, accounts=accounts.keys() if accounts else None, progress=report_check) as checked:
        summary = checked.summary
        creditor_of = _creditors(app, summary, accounts, creditor)
        currency = _currency(app, summary, creditor_of)
        report = ImportReport(
            path=os.fspath(path),
            digest=summary.digest,
            file_format=summary.format.value,
            format_version=summary.version or "",
            accounts=sorted(summary.payee_accounts),
            creditors=sorted(set(creditor_of.values())),
            currency=currency,
            transactions=summary.credit_count,
            total=summary.credit_amount(currency),
            imported_on=on,
            imported_by=by,
        )
        bank_file = app.bank_file(summary.digest)
        if bank_file is not None and bank_file.complete:
            return _imported_before(report, bank_file)
        _check_transactions(summary, on)
        _register(app, checked, report, bank_file, creditor_of, batch_size, payers, progress, refunds_by or by)
    return report


def _creditors(
    app: CollectionApp, summary: FileSummary, accounts: OfficeAccounts | None, creditor: str | None
) -> dict[str, str]:
    """Each payee account's creditor; every one must be registered (and, per the letterheads, get this format)."""
    out: dict[str, str] = {}
    for account in sorted(summary.payee_accounts):
        if accounts is None:
            assert creditor is not None
            out[account] = creditor
            continue
        found = accounts.find(account)
        if found is None:  # check() refused it already; kept for a caller that passes no accounts to check
            raise _refused(summary, "payee account", f"{account} is not one of this office's accounts")
        if found.bank_files is not None and found.bank_files is not summary.format:
            raise _refused(
                summary,
                "payee account",
                f"account {found.account} of creditor {found.creditor} receives {found.bank_files.value} files; "
                f"this is a {summary.format.value} file, and the same payments would be registered twice under "
                "two transaction ids",
            )
        out[account] = found.creditor
    for c in sorted(set(out.values())):
        try:
            app.creditor(c)
        except CommandRefused:
            raise _refused(
                summary, "payee account", f"creditor {c} (its account is in the file) is not registered"
            ) from None
    return out


def _currency(app: CollectionApp, summary: FileSummary, creditor_of: dict[str, str]) -> str:
    currencies = {rules_for(app.creditor(c).jurisdiction).currency for c in set(creditor_of.values())}
    in_file = set(summary.credits)
    if len(currencies) > 1:
        raise _refused(
            summary, "payee account", f"the file pays creditors of different currencies {sorted(currencies)}"
        )
    expected = next(iter(currencies), "NOK")
    if in_file - {expected}:
        raise _refused(
            summary, "currency", f"the file holds {', '.join(sorted(in_file))}; the creditors' currency is {expected}"
        )
    return expected


def _refused(summary: FileSummary, what: str, rule: str) -> BankFileError:
    return BankFileError(rule, field=what, file_format=summary.format.value)


def _check_transactions(summary: FileSummary, on: date) -> None:
    """What only the import day decides: no payment ordered after it (nothing is stored yet). The first such
    transaction in file order is named; the check kept what this needs (``FileSummary.first_orders``)."""
    found = summary.first_ordered_after(on)
    if found is not None:
        ordered, first = found
        raise BankFileError(
            f"the payer's order date {ordered} ({first.ordered_from}) lies after the import day {on}",
            field="order date",
            line=first.line,
            element=first.element,
            file_format=summary.format.value,
        )


def _imported_before(report: ImportReport, bank_file: BankFile) -> ImportReport:
    report.already_imported = True
    report.counts = {"matched": 0, "unmatched": 0, "duplicates": bank_file.transactions}
    report.amounts = {"matched": ZERO, "unmatched": ZERO, "duplicates": bank_file.total}
    report.earlier = {
        "imported_on": bank_file.opened_on.isoformat(),
        "completed_on": bank_file.completed_on.isoformat() if bank_file.completed_on else None,
        "imported_by": bank_file.imported_by,
        **bank_file.counts,
        "matched_amount": fmt(bank_file.amounts["matched"]),
        "suspense_amount": fmt(bank_file.amounts["unmatched"]),
        "surplus": fmt(bank_file.surplus),
    }
    return report


def _chunks(items: Iterator[CreditTransaction], size: int) -> Iterator[list[CreditTransaction]]:
    while chunk := list(islice(items, size)):
        yield chunk


def _register(
    app: CollectionApp,
    checked: CheckedFile,
    report: ImportReport,
    bank_file: BankFile | None,
    creditor_of: dict[str, str],
    batch_size: int,
    payers: PayerDetails | None,
    progress: Progress | None,
    refunds_by: str,
) -> None:
    summary = checked.summary
    done = bank_file.position if bank_file is not None else 0
    report.resumed_from = done
    if progress:
        progress("import", done, report.transactions)
    stream = islice(checked.transactions(), done, None)
    chunks = _chunks(stream, batch_size) if done < report.transactions else iter([[]])
    warm: dict[UUID, Aggregate] = {}  # what the last batch stored: the next one need not read it again
    for chunk in chunks:
        if payers is not None and chunk:
            payers.remember([(tx.transaction_id, tx.payer_name, tx.payer_account, _scheme(tx)) for tx in chunk])
        for attempt in (1, 2):
            try:
                bank_file, refunds = _store_batch(
                    app, chunk, done, report, bank_file, creditor_of, refunds_by, warm, summary.size
                )
                break
            except RecordConflictError:
                # another writer saved an aggregate of the batch since it was read (``warm`` is emptied): read
                # the store again, once; another import of this file having stored the batch is a conflict
                bank_file = app.bank_file(summary.digest)
                if attempt == 2 or (bank_file.position if bank_file is not None else 0) != done:
                    raise ImportConflict(
                        f"another import of file {summary.digest[:12]}… stored its transactions {done}+ first"
                    ) from None
        report.refunds += refunds
        done += len(chunk)
        if len(warm) > WARM:  # bounded: memory stays flat in the file's size
            for ident in list(islice(warm, len(warm) - WARM)):
                del warm[ident]
        if progress:
            progress("import", done, report.transactions)
    assert bank_file is not None and bank_file.complete
    report.counts, report.amounts, report.surplus = dict(bank_file.counts), dict(bank_file.amounts), bank_file.surplus


def _store_batch(
    app: CollectionApp,
    chunk: list[CreditTransaction],
    done: int,
    report: ImportReport,
    bank_file: BankFile | None,
    creditor_of: dict[str, str],
    refunds_by: str,
    warm: dict[UUID, Aggregate],
    size: int,
) -> tuple[BankFile, int]:
    """Register one batch of transactions and the file's checkpoint in ONE transaction of the event store;
    the file's aggregate after it and how many refunds it requested."""
    on, digest, file_format = report.imported_on, report.digest, report.file_format
    counts = dict.fromkeys(OUTCOMES, 0)
    amounts = dict.fromkeys(OUTCOMES, ZERO)
    surplus, refunds = ZERO, 0
    with app.unit_of_work(warm):
        if bank_file is None:
            bank_file = BankFile.open(
                id=bank_file_id(app.namespace, digest), on=on, digest=digest, file_format=file_format,
                format_version=report.format_version, accounts=report.accounts, creditors=report.creditors,
                currency=report.currency, transactions=report.transactions, total=report.total,
                size=size, imported_by=report.imported_by,
            )  # fmt: skip
        app.preload_references((creditor_of[tx.payee_account], tx.reference) for tx in chunk if tx.structured)
        app.preload_commands("creditor", ((creditor_of[tx.payee_account], tx.transaction_id) for tx in chunk))
        landed = app.receive_bank_payments(
            [IncomingPayment(creditor_of[tx.payee_account], tx.reference, tx.structured, tx.amount, tx.ordered,
                             tx.transaction_id) for tx in chunk],
            on=on, file_digest=digest, file_format=file_format, refund_by=refunds_by,
        )  # fmt: skip
        for tx, one in zip(chunk, landed, strict=True):
            outcome = "duplicates" if one.outcome == "duplicate" else one.outcome
            counts[outcome] += 1
            amounts[outcome] += tx.amount
            surplus += one.surplus
            refunds += one.refund is not None
        if chunk:
            bank_file.register_batch(on=on, first=done, counts=counts, amounts=amounts, surplus=surplus)
        if done + len(chunk) == report.transactions:
            bank_file.complete_import(on=on)
        app.save(bank_file)
    return bank_file, refunds


def _scheme(tx: CreditTransaction) -> str | None:
    """How the payer's account is written, for a refund's credit transfer (pain.001)."""
    account = tx.payer_account
    if not account:
        return None
    if tx.format is FileFormat.BGMAX:
        return "BGNR"
    if account[:2].isalpha():
        return "IBAN"
    return "BBAN"
