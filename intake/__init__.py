"""Bank files in, refunds out: the file formats of money moving between payers, banks and kravsak.

`intake` reads Nets OCR giro, ISO 20022 camt.054 and Bankgirot BgMax files into one streaming model
(`CreditTransaction`), refusing a bad file whole (`BankFileError`), and writes those formats (for
tests and the demo) and ISO 20022 pain.001 credit transfers (refunds). It imports nothing from the
rest of kravsak; ADR 0018 records the design.
"""

from intake.errors import BankFileError, UnknownFormat
from intake.model import CreditTransaction, ExtraReference, FileFormat, FileSummary, Skipped, SkipReason, Totals
from intake.reader import CheckedFile, check, detect_format

__all__ = [
    "BankFileError",
    "CheckedFile",
    "CreditTransaction",
    "ExtraReference",
    "FileFormat",
    "FileSummary",
    "SkipReason",
    "Skipped",
    "Totals",
    "UnknownFormat",
    "check",
    "detect_format",
]
