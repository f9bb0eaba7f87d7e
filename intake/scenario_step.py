"""The scenario step ``import_payments`` (FORMAT 1.1): the same import as ``kravsak payments import``.

Plugged into the domain's scenario runner by the composition root (``kravsak.wiring``): every account in
the file is the scenario's one creditor's, the file is imported on the step's date by ``scenario``, and the
step reports how its credit transactions landed. A file that cannot be read is refused whole as
``invalid_input`` naming the line or XML element; nothing of it is stored.
"""

from __future__ import annotations

from typing import Any

from domain.application import CollectionApp
from domain.errors import CommandRefused, ErrorCode, invalid
from domain.scenario import BankFileStep
from intake.errors import BankFileError
from intake.importer import import_file

IMPORTED_BY = "scenario"


def import_payments(app: CollectionApp, step: BankFileStep) -> dict[str, Any]:
    if not step.path.is_file():
        raise invalid("file", f"{step.path} is not a file (a path relative to the scenario file)")
    try:
        report = import_file(
            app, step.path, creditor=step.creditor, file_format=step.file_format, on=step.on, by=IMPORTED_BY
        )
    except BankFileError as e:
        raise CommandRefused(ErrorCode.INVALID_INPUT, str(e)) from None
    except OSError as e:
        raise invalid("file", f"cannot read {step.path}: {e.strerror}") from None
    return {
        "matched": report.counts["matched"],
        "unmatched": report.counts["unmatched"],
        "duplicates": report.counts["duplicates"],
        "digest": report.digest,
    }
