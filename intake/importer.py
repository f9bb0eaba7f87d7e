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

import os
import tempfile
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import islice
from typing import IO, Any, Protocol, cast
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import RecordConflictError

from domain.application import CollectionApp, Prepared
from domain.bank_files import OUTCOMES, BankFile, bank_file_id
from domain.bank_payments import IncomingPayment
from domain.collector import fewer_collections
from domain.errors import CommandRefused
from domain.money import ZERO, fmt
from domain.rules import rules_for
from intake.accounts import OfficeAccounts
from intake.check_process import CheckProcess
from intake.errors import BankFileError
from intake.model import CreditTransaction, FileFormat, FileSummary
from intake.reader import CheckedFile, check, detect_format
from intake.source import file_digest
from intake.spool import read_framed, write_framed

BATCH = 500
RECORD_GROUP = 4
"""Prepared batches recorded in one transaction (each still with its own checkpoint event)."""
AHEAD_FROM_BYTES = 2 << 20
"""From this size (about 13 000 OCR or 4 000 camt.054 transactions) a file is checked in a second process while
this one prepares its batches (``_import_ahead``): starting that process costs about half a second."""
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
    ahead: bool | None = None,
) -> ImportReport:
    """Import one bank file (see the module docstring). The creditor of each transaction comes from its payee
    account (``accounts``), or is ``creditor`` for every account (a scenario's one creditor). ``refunds_by``:
    who requests the refund of a surplus (default ``by``). ``ahead``: check the file in a second process while
    this one prepares the batches (default: for a file of ``AHEAD_FROM_BYTES`` or more)."""
    if (accounts is None) == (creditor is None):
        raise ValueError("give either the office's accounts or the one creditor")
    importing = _Importing(app, path, on, by, accounts, creditor, batch_size, payers, progress, refunds_by or by)
    with fewer_collections():
        if ahead if ahead is not None else os.path.getsize(path) >= AHEAD_FROM_BYTES:
            fmt = FileFormat(file_format) if file_format else detect_format(path)
            digest = file_digest(path)
            if app.bank_file(digest) is None:  # one imported or begun before goes the one way: recognised, resumed
                return _import_ahead(importing, fmt, digest)
        return _import(importing, file_format)


@dataclass(frozen=True)
class _Importing:
    """What one import was asked to do."""

    app: CollectionApp
    path: str | os.PathLike[str]
    on: date
    by: str
    accounts: OfficeAccounts | None
    creditor: str | None
    batch_size: int
    payers: PayerDetails | None
    progress: Progress | None
    refunds_by: str
    _creditor_of: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def account_numbers(self) -> Collection[str] | None:
        return self.accounts.keys() if self.accounts else None

    def check_progress(self, size: int) -> Callable[[int], None] | None:
        progress = self.progress
        return (lambda n: progress("check", n, size)) if progress else None

    def creditor_for(self, account: str) -> str:
        """The creditor an account's payments go to as the verdict will find it (``_creditors``); KeyError
        for an account that is not the office's (the check refuses the file)."""
        known = self._creditor_of.get(account)
        if known is not None:
            return known
        if self.accounts is None:
            assert self.creditor is not None
            return self.creditor
        found = self.accounts.find(account)  # every form of every account: once per account, not per transaction
        if found is None:
            raise KeyError(account)
        self._creditor_of[account] = found.creditor
        return found.creditor


def _import(importing: _Importing, file_format: FileFormat | str | None) -> ImportReport:
    app, path = importing.app, importing.path
    size = os.path.getsize(path)
    with check(
        path, file_format, accounts=importing.account_numbers, progress=importing.check_progress(size)
    ) as checked:
        report, creditor_of = _verdict(importing, checked)
        bank_file = app.bank_file(checked.summary.digest)
        if bank_file is not None and bank_file.complete:
            return _imported_before(report, bank_file)
        _check_transactions(checked.summary, importing.on)
        _register(importing, checked, report, bank_file, creditor_of)
    return report


def _verdict(importing: _Importing, checked: CheckedFile) -> tuple[ImportReport, dict[str, str]]:
    """What the office says about a checked file (its accounts, creditors, currency): its report, or the refusal."""
    app, summary = importing.app, checked.summary
    creditor_of = _creditors(app, summary, importing.accounts, importing.creditor)
    currency = _currency(app, summary, creditor_of)
    report = ImportReport(
        path=os.fspath(importing.path),
        digest=summary.digest,
        file_format=summary.format.value,
        format_version=summary.version or "",
        accounts=sorted(summary.payee_accounts),
        creditors=sorted(set(creditor_of.values())),
        currency=currency,
        transactions=summary.credit_count,
        total=summary.credit_amount(currency),
        imported_on=importing.on,
        imported_by=importing.by,
    )
    return report, creditor_of


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


def _trim(warm: dict[UUID, Aggregate]) -> None:
    """Keep the ``WARM`` aggregates loaded last: memory stays flat in the file's size."""
    if len(warm) > WARM:
        for ident in list(islice(warm, len(warm) - WARM)):
            del warm[ident]


def _chunks(items: Iterator[CreditTransaction], size: int) -> Iterator[list[CreditTransaction]]:
    while chunk := list(islice(items, size)):
        yield chunk


def _register(
    importing: _Importing,
    checked: CheckedFile,
    report: ImportReport,
    bank_file: BankFile | None,
    creditor_of: dict[str, str],
) -> None:
    """Store the file's transactions from the checkpoint on, batch by batch."""
    app, batch_size, payers, progress = importing.app, importing.batch_size, importing.payers, importing.progress
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
            payers.remember(_payer_rows(chunk))
        for attempt in (1, 2):
            try:
                bank_file, refunds = _store_batch(
                    app, chunk, done, report, bank_file, creditor_of, importing.refunds_by, warm, summary.size
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
        _trim(warm)
        if progress:
            progress("import", done, report.transactions)
    assert bank_file is not None and bank_file.complete
    _take_outcome(report, bank_file)


@dataclass
class _Tally:
    """What a batch did: per outcome its count and amount, the surplus it left and the refunds it requested."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    amounts: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, ZERO))
    surplus: Decimal = ZERO
    refunds: int = 0


def _land(
    app: CollectionApp, chunk: list[CreditTransaction], on: date, digest: str, file_format: str,
    creditor_of: Callable[[str], str], refunds_by: str,
) -> _Tally:  # fmt: skip
    """The batch's ``receive_bank_payment`` commands, inside the caller's unit of work."""
    app.preload_references((creditor_of(tx.payee_account), tx.reference) for tx in chunk if tx.structured)
    app.preload_commands("creditor", ((creditor_of(tx.payee_account), tx.transaction_id) for tx in chunk))
    landed = app.receive_bank_payments(
        [IncomingPayment(creditor_of(tx.payee_account), tx.reference, tx.structured, tx.amount, tx.ordered,
                         tx.transaction_id) for tx in chunk],
        on=on, file_digest=digest, file_format=file_format, refund_by=refunds_by,
    )  # fmt: skip
    tally = _Tally()
    for tx, one in zip(chunk, landed, strict=True):
        outcome = "duplicates" if one.outcome == "duplicate" else one.outcome
        tally.counts[outcome] += 1
        tally.amounts[outcome] += tx.amount
        tally.surplus += one.surplus
        tally.refunds += one.refund is not None
    return tally


def _checkpoint(
    app: CollectionApp, bank_file: BankFile | None, report: ImportReport, done: int, n: int, tally: _Tally, size: int
) -> BankFile:
    """The file's aggregate with the batch of ``n`` transactions from ``done`` on registered (opened first)."""
    on = report.imported_on
    if bank_file is None:
        bank_file = BankFile.open(
            id=bank_file_id(app.namespace, report.digest), on=on, digest=report.digest, file_format=report.file_format,
            format_version=report.format_version, accounts=report.accounts, creditors=report.creditors,
            currency=report.currency, transactions=report.transactions, total=report.total,
            size=size, imported_by=report.imported_by,
        )  # fmt: skip
    if n:
        bank_file.register_batch(on=on, first=done, counts=tally.counts, amounts=tally.amounts, surplus=tally.surplus)
    if done + n == report.transactions:
        bank_file.complete_import(on=on)
    return bank_file


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
    with app.unit_of_work(warm):
        tally = _land(app, chunk, report.imported_on, report.digest, report.file_format, creditor_of.__getitem__,
                      refunds_by)  # fmt: skip
        bank_file = _checkpoint(app, bank_file, report, done, len(chunk), tally, size)
        app.save(bank_file)
    return bank_file, tally.refunds


# ---- working ahead: the check in a second process, the batches prepared meanwhile ----------------------------


@dataclass
class _PreparedBatch:
    """A batch landed ahead of the verdict: its save (None: it changed nothing), what it did, and its payers."""

    n: int
    save: Prepared | None
    tally: _Tally
    payers: list[tuple[str, str | None, str | None, str | None]]


class _PreparedBatches:
    """The prepared batches, in order, in an anonymous temporary file of this process (``marshal`` of plain
    tuples: ``Prepared.plain``; the file never outlives the import)."""

    def __init__(self) -> None:
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix="kravsak-intake-ahead-")
        self.count = 0

    def __enter__(self) -> _PreparedBatches:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()

    def write(self, batch: _PreparedBatch) -> None:
        t = batch.tally
        tally = (t.counts, {k: str(v) for k, v in t.amounts.items()}, str(t.surplus), t.refunds)
        save = None if batch.save is None else batch.save.plain()
        write_framed(self._file, (batch.n, save, tally, batch.payers))
        self.count += 1

    def read(self) -> Iterator[_PreparedBatch]:
        self._file.flush()
        self._file.seek(0)
        for _ in range(self.count):
            n, save, (counts, amounts, surplus, refunds), payers = read_framed(self._file)
            tally = _Tally(counts, {k: Decimal(v) for k, v in amounts.items()}, Decimal(surplus), refunds)
            yield _PreparedBatch(n, None if save is None else Prepared.from_plain(save), tally, payers)


def _import_ahead(importing: _Importing, fmt: FileFormat, digest: str) -> ImportReport:
    """The import with the check in a second process: while it reads the file, this one lands the transactions
    batch by batch as they come, recording nothing (``CollectionApp.preparing``). After the verdict — a refused
    file raises it, and nothing was ever stored — the prepared batches are recorded in order, each in one
    transaction with the file's checkpoint, as ``_register`` would have stored them. A batch another writer got
    in the way of (a version, a command id, an expectation recorded meanwhile) fails whole on the store's checks;
    from there on the import goes the one way, from the checkpoint, reading the store again."""
    app, path = importing.app, importing.path
    size = os.path.getsize(path)
    with CheckProcess(
        path, fmt, digest, accounts=importing.account_numbers, progress=importing.check_progress(size)
    ) as checking, _PreparedBatches() as prepared:  # fmt: skip
        _work_ahead(importing, checking.transactions(), prepared, fmt, digest)
        with checking.verdict() as checked:
            summary = checked.summary
            report, creditor_of = _verdict(importing, checked)
            bank_file = app.bank_file(summary.digest)
            if bank_file is not None and bank_file.complete:
                return _imported_before(report, bank_file)
            _check_transactions(summary, importing.on)
            if bank_file is None and summary.digest == digest:  # else another import began it, or the file changed
                bank_file = _record_prepared(importing, prepared, report, size)
                if bank_file is None or not bank_file.complete:
                    _register(importing, checked, report, bank_file or app.bank_file(summary.digest), creditor_of)
                report.resumed_from = 0
            else:
                _register(importing, checked, report, bank_file, creditor_of)
            if bank_file is not None and bank_file.complete:
                _take_outcome(report, bank_file)
    return report


def _work_ahead(
    importing: _Importing, transactions: Iterator[CreditTransaction], prepared: _PreparedBatches, fmt: FileFormat,
    digest: str,
) -> None:  # fmt: skip
    """Land every batch as it comes, recording nothing; stop preparing at the first batch that fails (its
    transactions are landed again after the verdict, which raises what refuses them) — but read on to the end."""
    app, warm, working = importing.app, cast(dict[UUID, Aggregate], {}), True
    for chunk in _chunks(transactions, importing.batch_size):
        if working:
            try:
                with app.preparing() as saves, app.unit_of_work(warm):
                    tally = _land(app, chunk, importing.on, digest, fmt.value, importing.creditor_for,
                                  importing.refunds_by)  # fmt: skip
                assert len(saves) <= 1  # a unit of work saves once
                prepared.write(_PreparedBatch(len(chunk), saves[0] if saves else None, tally, _payer_rows(chunk)))
                _trim(warm)
            except Exception:  # noqa: BLE001 - decided after the verdict, where the batch is landed again
                working = False
                warm.clear()


def _record_prepared(
    importing: _Importing, prepared: _PreparedBatches, report: ImportReport, size: int
) -> BankFile | None:
    """Record the prepared batches in order, ``RECORD_GROUP`` in one transaction with the file's checkpoint of
    each; the file's aggregate after them (None where nothing was recorded, or a transaction failed: then the
    caller reads the store). A transaction is recorded by a second thread while
    this one reads and makes the next: the next is sent only once the one before it is committed, so the
    checkpoints commit in order and a failed transaction is the last one tried."""
    app, payers, progress = importing.app, importing.payers, importing.progress
    bank_file: BankFile | None = None
    made = done = 0
    if progress:
        progress("import", 0, report.transactions)
    with ThreadPoolExecutor(1, thread_name_prefix="kravsak-intake-record") as recorder:
        sent: tuple[Future[None], list[_PreparedBatch]] | None = None
        batches = prepared.read()
        while True:
            group = list(islice(batches, RECORD_GROUP))
            save = None
            if group:
                for batch in group:
                    bank_file = _checkpoint(app, bank_file, report, made, batch.n, batch.tally, size)
                    made += batch.n
                assert bank_file is not None
                save = app.with_events_of(Prepared.merged([b.save for b in group if b.save is not None]), bank_file)
            if sent is not None:
                after = _recorded(*sent, report, done, progress)
                if after is None:
                    return None
                done = after
            if save is None:
                return bank_file
            if payers is not None:
                payers.remember([row for batch in group for row in batch.payers])
            sent = recorder.submit(app.record_prepared, save), group


def _recorded(
    recording: Future[None], group: list[_PreparedBatch], report: ImportReport, done: int, progress: Progress | None
) -> int | None:
    """The transactions recorded once the group is (None: another writer got in the way, nothing of it is
    stored)."""
    try:
        recording.result()
    except RecordConflictError:
        return None
    report.refunds += sum(b.tally.refunds for b in group)
    done += sum(b.n for b in group)
    if progress:
        progress("import", done, report.transactions)
    return done


def _payer_rows(chunk: list[CreditTransaction]) -> list[tuple[str, str | None, str | None, str | None]]:
    """Who paid each transaction, as ``PayerDetails.remember`` takes it."""
    return [(tx.transaction_id, tx.payer_name, tx.payer_account, _scheme(tx)) for tx in chunk]


def _take_outcome(report: ImportReport, bank_file: BankFile) -> None:
    """The report's counts, amounts and surplus: what the file's completed import recorded."""
    report.counts, report.amounts, report.surplus = dict(bank_file.counts), dict(bank_file.amounts), bank_file.surplus


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
