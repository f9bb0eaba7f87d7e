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
- **A command, not multiprocessing.** ``python -m intake.check_process``: a spawned interpreter would run
  the caller's ``__main__`` script again, and a forked one would share its connections and threads.
"""

from __future__ import annotations

import json
import marshal
import os
import pickle
import struct
import subprocess
import sys
import tempfile
from collections.abc import Collection, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, BinaryIO

from intake.errors import BankFileError, UnknownFormat
from intake.model import CreditTransaction, FileFormat, FileSummary
from intake.reader import CheckedFile, check
from intake.source import Progress
from intake.spool import Spool, row_of, transaction_of

SEND_EVERY = 500
"""Transactions per message through the pipe."""
_ROWS, _SUMMARY, _REFUSED, _FAILED = "rows", "summary", "refused", "failed"
_LENGTH = struct.Struct("<I")


class CheckProcessFailed(RuntimeError):
    """The check process ended without a verdict; nothing is known about the file."""


def _send(out: BinaryIO, message: tuple[Any, ...]) -> None:
    data = marshal.dumps(message)
    out.write(_LENGTH.pack(len(data)))
    out.write(data)


def main(argv: list[str] | None = None) -> int:
    """In the check process (``python -m intake.check_process PATH FORMAT [ACCOUNTS-JSON]``): ``check`` the file,
    writing its transactions and then the verdict to standard output, each message its length and ``marshal``."""
    from domain.collector import batch_process

    batch_process()  # the whole process is one batch (domain.collector)
    path, file_format, *rest = sys.argv[1:] if argv is None else argv
    accounts = json.loads(rest[0]) if rest else None
    out = sys.stdout.buffer
    rows: list[Any] = []
    read = [0]

    def send_rows() -> None:
        _send(out, (_ROWS, read[0], rows))
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
            _send(out, (_SUMMARY, pickle.dumps(checked.summary)))
        out.flush()
    except BankFileError as e:
        _send(out, (_REFUSED, (type(e) is UnknownFormat, e.rule, e.field, e.line, e.element, e.file_format)))
        out.flush()
    except BrokenPipeError:
        return 1  # the importer left (it failed, or was stopped): nobody waits for a verdict
    return 0


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
        self._errors: IO[bytes] = tempfile.TemporaryFile(prefix="kravsak-check-")
        command = [sys.executable, "-m", "intake.check_process", self.path, file_format.value]
        if accounts is not None:
            command.append(json.dumps(sorted(accounts)))
        # a command, not multiprocessing: a spawned interpreter would run the caller's __main__ script again
        # the modules this process imports, found where this process finds them (a source tree run from elsewhere)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self._process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._errors, env=env
        )
        assert self._process.stdout is not None
        self._stdout: IO[bytes] = self._process.stdout

    def __enter__(self) -> CheckProcess:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop the check process (if it still runs) and, unless a verdict handed it on, the spool."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        self._stdout.close()
        self._errors.close()
        if self._spool is not None:
            self._spool.close()

    def _receive(self) -> tuple[Any, ...] | None:
        head = self._stdout.read(_LENGTH.size)
        if len(head) < _LENGTH.size:
            return None
        (length,) = _LENGTH.unpack(head)
        data = self._stdout.read(length)
        return marshal.loads(data) if len(data) == length else None

    def _failure(self) -> str:
        code = self._process.wait()
        self._errors.seek(0)
        said = self._errors.read().decode(errors="replace").strip().splitlines()
        return f"the check process ended (exit code {code}) without a verdict" + (f": {said[-1]}" if said else "")

    def transactions(self) -> Iterator[CreditTransaction]:
        """Every credit transaction the other process reads, in file order, until it has read the whole file (or
        refused it: then the iteration simply ends, and ``verdict`` raises the refusal)."""
        assert self._spool is not None
        spool, fmt, digest = self._spool, self.format, self.digest
        while self._verdict is None:
            message = self._receive()
            if message is None:
                self._verdict = (_FAILED, self._failure())
                return
            if message[0] != _ROWS:
                self._verdict = (message[0], message[1])
                return
            _, read, rows = message
            if self._progress is not None:
                self._progress(read)
            for row in rows:
                spool.write_row(row)
                yield transaction_of(row, fmt, digest)

    def verdict(self) -> CheckedFile:
        """The checked file — reading its transactions from this process's spool — or the refusal."""
        for _ in self.transactions():
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


if __name__ == "__main__":
    raise SystemExit(main())
