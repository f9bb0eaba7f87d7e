"""Reading a bank file once: every byte goes through SHA-256 and the progress callback on the way,
so the digest each transaction carries is the digest of exactly the bytes it was read from."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

Progress = Callable[[int], None]
"""Called with the number of bytes read so far (about every 256 KiB and at the end)."""

_PROGRESS_STEP = 1 << 18


class Source:
    def __init__(self, path: str | os.PathLike[str], progress: Progress | None = None) -> None:
        self.path = Path(path)
        self.size = self.path.stat().st_size
        self._file: BinaryIO = self.path.open("rb")
        self._sha = hashlib.sha256()
        self._progress = progress
        self._read = 0
        self._reported = 0

    def __enter__(self) -> Source:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    @property
    def bytes_read(self) -> int:
        return self._read

    @property
    def digest(self) -> str:
        """Hex SHA-256 of the bytes read so far (of the whole file once it has been read to the end)."""
        return self._sha.hexdigest()

    def _count(self, data: bytes) -> None:
        self._sha.update(data)
        self._read += len(data)
        if self._progress is not None and (self._read - self._reported >= _PROGRESS_STEP or not data):
            self._reported = self._read
            self._progress(self._read)

    def read(self, size: int = -1) -> bytes:
        """File-like read for XML parsers."""
        data = self._file.read(size)
        self._count(data)
        return data

    def lines(self) -> Iterator[tuple[int, bytes]]:
        """(1-based line number, the line without its line ending) for a flat file."""
        number = 0
        for raw in self._file:
            number += 1
            self._count(raw)
            yield number, raw.rstrip(b"\r\n")
        self._count(b"")

    def drain(self) -> None:
        """Read (and hash) whatever a parser left unread, e.g. whitespace after an XML document."""
        while self.read(1 << 16):
            pass


def file_digest(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of the file as it is now (a file read later through ``Source`` has it, if unchanged)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
