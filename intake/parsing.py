"""What a format parser gives the reader: items in file order, and what it learnt about the file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from intake.model import CreditTransaction, Skipped
from intake.source import Source

Item = CreditTransaction | Skipped

CENT = Decimal("0.01")


@dataclass
class FileInfo:
    """Filled in by a parser as it goes; complete once its iterator is exhausted."""

    version: str | None = None
    test_file: bool = False
    controls: str = ""


Parser = Callable[[Source, FileInfo], Iterator[Item]]
"""(source, info to fill) -> items. Transactions carry file_digest "" until the reader stamps it."""


def minor_units(amount: int) -> Decimal:
    """An amount in øre/öre as kroner with exactly two decimals."""
    return Decimal(amount).scaleb(-2)
