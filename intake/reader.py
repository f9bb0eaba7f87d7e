"""Reading a bank file: recognise the format, validate the whole file, then stream its transactions.

    with intake.check("innbetalinger.ocr") as checked:   # refuses a bad file whole (BankFileError)
        checked.summary.credit_count                      # what to reconcile against
        for tx in checked.transactions():                 # one CreditTransaction at a time
            ...

- **Nothing before the verdict.** `check` runs the format's parser over every byte of the file
  (records, control totals, XSD) and hands the caller nothing until the whole file has passed, so a
  caller never stores part of a file that is refused further down.
- **Read once.** What the parser validated is written, transaction by transaction, to an anonymous
  temporary spool (`intake.spool`); `transactions()` streams from it. The bank file is parsed once
  (netsgiro and the XSD validator are the slow part), the spool is read back at several times the
  speed, and the transactions handed out come from exactly the bytes whose SHA-256 they carry.
- **Flat memory.** Parsers hold one transaction (camt.054: one `TxDtls` subtree) at a time; the spool
  is on disk. Duplicate transaction ids within a file are found with a fixed 2 MiB Bloom filter; its
  few positives are confirmed (or cleared) against the spool.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from datetime import date
from pathlib import Path
from types import TracebackType

from intake import bgmax, camt054, ocr
from intake.errors import BankFileError, UnknownFormat
from intake.model import CreditTransaction, FileFormat, FileSummary, FirstOrder, SkipReason, Totals
from intake.parsing import FileInfo, Parser
from intake.source import Progress, Source
from intake.spool import Spool

_PARSERS: dict[FileFormat, Parser] = {
    FileFormat.OCR: ocr.read,
    FileFormat.CAMT054: camt054.read,
    FileFormat.BGMAX: bgmax.read,
}


def detect_format(path: str | os.PathLike[str]) -> FileFormat:
    """OCR giro starts with NY000010, BgMax with 01BGMAX, camt.054 is XML in a camt.054 namespace."""
    with open(path, "rb") as f:
        head = f.read(4096)
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if text.startswith(ocr.SIGNATURE):
        return FileFormat.OCR
    if text.startswith(bgmax.SIGNATURE):
        return FileFormat.BGMAX
    if text.startswith(b"<"):
        namespace = camt054.root_namespace(path)
        if namespace.startswith(camt054.NAMESPACE_PREFIX):
            return FileFormat.CAMT054
        raise UnknownFormat(
            f"XML in namespace {namespace or '(none)'!r} is not a camt.054 notification",
            field="root element",
            line=1,
        )
    raise UnknownFormat(
        "not an OCR giro (NY000010), BgMax (01BGMAX) or camt.054 (XML) file", field="first bytes", line=1
    )


class _SeenIds:
    """Fixed-memory set membership with false positives: a Bloom filter of 2**24 bits and 4 hashes.

    For 100 000 ids a false positive is ~4e-7 likely per id, for 1 000 000 ~0.2 %; every positive
    is kept as a suspect and confirmed afterwards.
    """

    _BITS = 1 << 24

    def __init__(self) -> None:
        self._bits = bytearray(self._BITS >> 3)
        self.suspects: set[str] = set()

    def add(self, transaction_id: str) -> None:
        h = hashlib.blake2b(transaction_id.encode(), digest_size=16).digest()
        mask = self._BITS - 1
        present = True
        for i in (0, 4, 8, 12):
            bit = int.from_bytes(h[i : i + 4], "little") & mask
            byte, flag = bit >> 3, 1 << (bit & 7)
            if not self._bits[byte] & flag:
                present = False
                self._bits[byte] |= flag
        if present:
            self.suspects.add(transaction_id)


class CheckedFile:
    """A bank file that passed every check. Use it as a context manager (it owns a temporary file)."""

    def __init__(self, path: Path, summary: FileSummary, spool: Spool) -> None:
        self.path = path
        self.summary = summary
        self._spool = spool

    def __enter__(self) -> CheckedFile:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._spool.close()

    def transactions(self) -> Iterator[CreditTransaction]:
        """The credit transactions in file order; may be iterated again, but one iteration at a time."""
        return self._spool.read(self.summary.format, self.summary.digest)


def check(
    path: str | os.PathLike[str],
    file_format: FileFormat | str | None = None,
    *,
    accounts: Collection[str] | None = None,
    progress: Progress | None = None,
    on_transaction: Callable[[CreditTransaction], None] | None = None,
) -> CheckedFile:
    """Validate the whole file; BankFileError names the line or element, the field and the rule.

    `accounts`: the office's own accounts (OCR assignment accounts, camt.054 IBANs, BgMax bankgiro
    numbers). A file that pays into any other account is refused: it is someone else's money.
    `on_transaction`: called with each credit transaction as it is read, before the verdict (the check
    process hands them on: ``intake.check_process``); it must store nothing.
    """
    fmt = FileFormat(file_format) if file_format else detect_format(path)
    allowed = None if accounts is None else frozenset(accounts)
    payees: set[str] = set()
    info = FileInfo()
    credits: dict[str, Totals] = {}
    first_orders: dict[date, FirstOrder] = {}
    skipped: Counter[SkipReason] = Counter()
    seen = _SeenIds()
    spool = Spool()
    try:
        with Source(path, progress) as source:
            for item in _PARSERS[fmt](source, info):
                if isinstance(item, CreditTransaction):
                    if item.payee_account not in payees:
                        if allowed is not None and item.payee_account not in allowed:
                            raise BankFileError(
                                f"the file pays into account {item.payee_account}, which is not one of this "
                                "office's accounts",
                                field="payee account",
                                line=item.line,
                                element=item.element,
                                file_format=fmt.value,
                            )
                        payees.add(item.payee_account)
                    seen.add(item.transaction_id)
                    if item.ordered not in first_orders:
                        first_orders[item.ordered] = FirstOrder(spool.count, item.ordered_from, item.line, item.element)
                    credits[item.currency] = credits.get(item.currency, Totals()).plus(item.amount)
                    spool.write(item)
                    if on_transaction is not None:
                        on_transaction(item)
                else:
                    skipped[item.reason] += 1
            source.drain()
            digest, size = source.digest, source.bytes_read
        summary = FileSummary(
            format=fmt,
            digest=digest,
            size=size,
            credits=credits,
            skipped=skipped,
            controls=info.controls,
            test_file=info.test_file,
            version=info.version,
            payee_accounts=frozenset(payees),
            first_orders=first_orders,
        )
        if seen.suspects:
            _confirm_duplicates(spool.read(fmt, digest), seen.suspects, fmt)
    except BaseException:
        spool.close()
        raise
    return CheckedFile(Path(path), summary, spool)


def _confirm_duplicates(transactions: Iterator[CreditTransaction], suspects: set[str], fmt: FileFormat) -> None:
    first_seen: dict[str, str] = {}
    for tx in transactions:
        if tx.transaction_id not in suspects:
            continue
        if tx.transaction_id in first_seen:
            raise BankFileError(
                f"transaction {tx.transaction_id} appears twice in the file (first at {first_seen[tx.transaction_id]})",
                field="transaction id",
                line=tx.line,
                element=tx.element,
                file_format=fmt.value,
            )
        first_seen[tx.transaction_id] = tx.position
