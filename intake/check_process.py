"""Checking a bank file in a second process, handing its transactions over as they are read.

    with CheckProcess(path, FileFormat.OCR, digest, accounts=office_accounts) as checking:
        for tx in checking.transactions():   # as the other process reads them: not yet checked!
            ...                              # work that stores nothing
        checked = checking.verdict()         # the CheckedFile, or the file's BankFileError

The other process runs ``intake.check`` (every byte: records, control totals, XSD) and sends each credit
transaction it has read, in batches, through a pipe; this process spools them (``intake.spool``) as they come, so
the ``CheckedFile`` the verdict returns is read from this process's own spool, as ``check`` would give it. The
verdict is what ``check`` decided: a file it refuses raises the same ``BankFileError`` here, naming the same
field, line and element. Until the verdict, a transaction handed out is only what the file says: a caller may
prepare work from it, never store it.

- **Flat memory.** The pipe holds a few batches; when this process is slower, the other waits.
- **One verdict.** A check process that dies without one (killed, out of memory) is an error here, never a
  verdict; this process leaving early (an exception) ends the other.
"""

from __future__ import annotations

import marshal
import multiprocessing
import os
import pickle
import traceback
from collections.abc import Collection, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any

from intake.errors import BankFileError, UnknownFormat
from intake.model import CreditTransaction, FileFormat, FileSummary
from intake.reader import CheckedFile, check
from intake.source import Progress
from intake.spool import Spool, row_of, transaction_of

SEND_EVERY = 500
"""Transactions per message through the pipe."""
_ROWS, _SUMMARY, _REFUSED, _FAILED = "rows", "summary", "refused", "failed"


class CheckProcessFailed(RuntimeError):
    """The check process ended without a verdict; nothing is known about the file."""


def _run(conn: Connection, path: str, file_format: str, accounts: list[str] | None) -> None:
    """In the check process: ``check`` the file, sending its transactions and then the verdict."""
    import gc

    gc.set_threshold(50_000, 20, 100)  # as the importer's (``fewer_collections``): almost nothing here is cyclic
    rows: list[Any] = []
    read = [0]

    def send_rows() -> None:
        conn.send_bytes(marshal.dumps((_ROWS, read[0], rows)))
        rows.clear()

    def progress(n: int) -> None:
        read[0] = n

    def take(tx: CreditTransaction) -> None:
        rows.append(row_of(tx))
        if len(rows) >= SEND_EVERY:
            send_rows()

    try:
        with check(path, file_format, accounts=accounts, progress=progress, on_transaction=take) as checked:
            send_rows()
            conn.send_bytes(marshal.dumps((_SUMMARY, pickle.dumps(checked.summary))))
    except BankFileError as e:
        refusal = (type(e) is UnknownFormat, e.rule, e.field, e.line, e.element, e.file_format)
        conn.send_bytes(marshal.dumps((_REFUSED, refusal)))
    except BrokenPipeError:
        return  # the importer left (it failed, or was stopped): nobody waits for a verdict
    except BaseException:
        conn.send_bytes(marshal.dumps((_FAILED, traceback.format_exc())))
    finally:
        conn.close()


class CheckProcess:
    """``intake.check`` in a second process (see the module docstring). ``digest``: the SHA-256 the caller
    read the file with; the transactions handed out carry it (the verdict's summary has the checked one)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        file_format: FileFormat,
        digest: str,
        *,
        accounts: Collection[str] | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self.format = file_format
        self.digest = digest
        self._progress = progress
        self._spool: Spool | None = Spool()
        self._verdict: tuple[str, Any] | None = None
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked connections or threads
        self._conn, theirs = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_run,
            args=(theirs, self.path, file_format.value, None if accounts is None else sorted(accounts)),
            name="kravsak-bank-file-check",
            daemon=True,
        )
        self._process.start()
        theirs.close()

    def __enter__(self) -> CheckProcess:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop the check process (if it still runs) and, unless a verdict handed it on, the spool."""
        self._conn.close()
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()
        if self._spool is not None:
            self._spool.close()

    def transactions(self) -> Iterator[CreditTransaction]:
        """Every credit transaction the other process reads, in file order, until it has read the whole file (or
        refused it: then the iteration simply ends, and ``verdict`` raises the refusal)."""
        assert self._spool is not None
        spool, fmt, digest = self._spool, self.format, self.digest
        while True:
            try:
                message = marshal.loads(self._conn.recv_bytes())
            except (EOFError, OSError):
                self._verdict = (_FAILED, f"the check process ended (exit code {self._process.exitcode})")
                return
            if message[0] != _ROWS:
                self._verdict = message
                return
            _, read, rows = message
            if self._progress is not None:
                self._progress(read)
            for row in rows:
                spool.write_row(row)
                yield transaction_of(row, fmt, digest)

    def verdict(self) -> CheckedFile:
        """The checked file — reading its transactions from this process's spool — or the refusal."""
        for _ in self.transactions() if self._verdict is None else ():
            pass  # a caller that stopped early: the rest is spooled, then the verdict is read
        assert self._verdict is not None and self._spool is not None
        kind, detail = self._verdict
        if kind == _REFUSED:
            unknown, rule, field, line, element, file_format = detail
            error = UnknownFormat if unknown else BankFileError
            raise error(rule, field=field, line=line, element=element, file_format=file_format)
        if kind == _FAILED:
            raise CheckProcessFailed(f"checking {self.path} failed: {detail}")
        summary: FileSummary = pickle.loads(detail)  # noqa: S301 - our own child's message, through our own pipe
        spool, self._spool = self._spool, None
        return CheckedFile(Path(self.path), summary, spool)
