"""The demo's banks: the day's payments leave as bank files, and kravsak learns of them only by importing those.

A debtor's payment is not a command: it is a line in the file the creditor's bank sends that evening — Nets OCR
giro for Alta and Hammerfest, ISO 20022 camt.054 for Måsøy and Nordkapp, Bankgirot BgMax for Svenljunga — and
each file goes through ``intake.importer.import_file``, the code path of ``kravsak payments import``: matched by
KID / OCR reference, a mistyped reference into suspense, a surplus requested as a refund. A caseworker places most
suspense items on their claims a few days later; at month end a second caseworker approves the refunds (four
eyes) and the office exports them as a pain.001 credit-transfer file, recorded as paid out.

The bank draws from its own random generator, so the rest of the world's year stays as it was.
"""

from __future__ import annotations

import random
import tempfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stdnum.no import kontonr

from domain.calendar import calendar_for
from domain.errors import CommandRefused
from domain.money import ZERO
from intake.accounts import OfficeAccounts, norwegian_iban
from intake.importer import ImportReport, import_file
from intake.payers import MemoryPayers, PgPayers, transaction_key
from intake.write import BankPayment
from intake.write.bgmax import write_bgmax
from intake.write.camt054 import write_camt054
from intake.write.ocr import write_ocr

if TYPE_CHECKING:
    from domain.application import CollectionApp

FORMATS = {"5601": "ocr", "5603": "ocr", "5618": "camt054", "5620": "camt054", "1465": "bgmax"}
"""Which kind of file each municipality's bank sends (any other creditor: OCR, or BgMax in Sweden)."""
MISTYPED = 0.012
"""The share of payments whose payer typed the reference wrong: they land in suspense."""
PLACED = 0.8
"""The share of suspense items a caseworker places on the right claim; the rest is paid back at month end."""
TWICE = 0.006
"""The share of payments the payer makes a second time (eFaktura and the paper giro): a surplus, owed back."""
UNPLACED_AFTER_DAYS = 20
REQUESTED_BY = "caseworker-1"
IMPORTED_BY = "bank-import"
APPROVED_BY = "caseworker-2"

Payers = MemoryPayers | PgPayers


@dataclass
class Queued:
    creditor: str
    invoice: str | None
    payment: BankPayment
    after: Callable[[], None] | None = None


@dataclass
class BankStats:
    files: list[ImportReport] = field(default_factory=list)
    placed: int = 0
    placed_amount: Decimal = ZERO
    suspense_refunded: int = 0
    refunds_approved: int = 0
    refund_files: list[dict[str, Any]] = field(default_factory=list)

    def per_creditor(self) -> dict[str, dict[str, Any]]:
        """Per municipality: files, transactions and money by outcome, as the imports reported them."""
        rows: dict[str, dict[str, Any]] = {}
        for r in self.files:
            (creditor,) = r.creditors
            row = rows.setdefault(
                creditor,
                {"formats": set(), "files": 0, "transactions": 0, "money_in": ZERO, "matched": ZERO,
                 "suspense": ZERO, "surplus": ZERO, "refunds_requested": 0},
            )  # fmt: skip
            row["formats"].add(r.file_format)
            row["files"] += 1
            row["transactions"] += r.transactions
            row["money_in"] += r.total
            row["matched"] += r.amounts["matched"]
            row["suspense"] += r.amounts["unmatched"]
            row["surplus"] += r.surplus
            row["refunds_requested"] += r.refunds
        return rows


def synthetic_account(rng: random.Random, jurisdiction: str) -> str:
    """A payer's account: a Norwegian account number with a valid check digit, or a Swedish bankgiro as BgMax
    writes it (10 digits). Synthetic: bank 9xxx, which no Norwegian bank uses."""
    if jurisdiction == "SE":
        return f"{rng.randrange(10**6, 10**7):010d}"
    while True:
        body = f"9{rng.randrange(10**8, 10**9)}"
        for digit in "0123456789":
            if kontonr.is_valid(body + digit):
                return body + digit


def mistyped(reference: str, rng: random.Random) -> str:
    """The reference with two neighbouring digits swapped (or one changed): what a payer's typing does."""
    i = rng.randrange(len(reference) - 1)
    swapped = reference[:i] + reference[i + 1] + reference[i] + reference[i + 2 :]
    if swapped != reference:
        return swapped
    return reference[:i] + str((int(reference[i]) + 1) % 10) + reference[i + 1 :]


class Bank:
    """The banks of the office's creditors for one demo year: queue the day's payments, deliver them as files."""

    def __init__(
        self,
        app: CollectionApp,
        *,
        seed: int,
        folder: Path | None = None,
        accounts: OfficeAccounts | None = None,
        payers: Payers | None = None,
    ) -> None:
        self.app, self.rng = app, random.Random(seed * 7919 + 1)
        self.folder = folder if folder is not None else Path(tempfile.mkdtemp(prefix="kravsak-demo-bank-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self._accounts = accounts
        self.payers: Payers = payers if payers is not None else MemoryPayers()
        self.queue: dict[date, list[Queued]] = defaultdict(list)
        self.stats = BankStats()
        self.suspended: list[tuple[date, str, str, str]] = []
        """(received, creditor, mistyped reference, invoice) of the payments that landed in suspense."""
        self._deposits: dict[str, int] = defaultdict(lambda: 1)  # the next BgMax deposit serial per creditor
        self._files: dict[tuple[str, date], int] = defaultdict(int)
        """Files written per (creditor, day): a later file of the day gets its own numbers, so its transaction
        ids are its own, as a bank's are (one id, one payment: ADR 0024)."""

    @property
    def accounts(self) -> OfficeAccounts:
        if self._accounts is None:
            from kravsak.payments_cli import office_accounts

            self._accounts = office_accounts(date(2020, 1, 1))
        return self._accounts

    def account_of(self, creditor: str) -> str:
        found = self.accounts.accounts_of(creditor)
        if not found:
            raise ValueError(f"creditor {creditor} has no account in the letterheads")
        return found[0]

    def pays_twice(self) -> bool:
        return self.rng.random() < TWICE

    def pending(self, creditor: str, invoice: str, day: date) -> Decimal:
        """What is queued for ``invoice`` and not yet delivered (a second payment on the same day sees it)."""
        return sum(
            (q.payment.amount for q in self.queue.get(day, ()) if (q.creditor, q.invoice) == (creditor, invoice)),
            ZERO,
        )

    def pay(
        self,
        day: date,
        *,
        creditor: str,
        invoice: str,
        kid: str,
        amount: Decimal,
        ordered: date,
        payer_account: str | None,
        after: Callable[[], None] | None = None,
    ) -> bool:
        """Queue a payment for the file of ``day``; True when the first of the day (the caller schedules the
        delivery then)."""
        first = not self.queue.get(day)
        reference = kid
        if self.rng.random() < MISTYPED:
            reference = mistyped(kid, self.rng)
            self.suspended.append((day, creditor, reference, invoice))
        payment = BankPayment(reference, amount, ordered, booked=day, payer_account=payer_account)
        self.queue[day].append(Queued(creditor, invoice, payment, after))
        return first

    def deliver(self, day: date) -> list[ImportReport]:
        """Write the day's files (one per creditor) and import each, then run what waited for the money."""
        queued = self.queue.pop(day, [])
        by_creditor: dict[str, list[Queued]] = defaultdict(list)
        for q in queued:
            by_creditor[q.creditor].append(q)
        reports = []
        for creditor, items in sorted(by_creditor.items()):
            path = self._write(day, creditor, [q.payment for q in items])
            report = import_file(
                self.app, path, on=day, by=IMPORTED_BY, accounts=self.accounts, payers=self.payers,
                refunds_by=IMPORTED_BY,
            )  # fmt: skip
            reports.append(report)
            self.stats.files.append(report)
        for q in queued:
            if q.after is not None:
                q.after()
        return reports

    def _write(self, day: date, creditor: str, payments: list[BankPayment]) -> Path:
        kind = FORMATS.get(creditor, "ocr")
        account = "".join(ch for ch in self.account_of(creditor) if ch.isdigit())  # 1503.59.76237, 500-1235
        nth = self._files[(creditor, day)]  # 0: the day's first file
        self._files[(creditor, day)] += 1
        stem = self.folder / (f"{day.isoformat()}-{creditor}" + (f"-{nth + 1}" if nth else ""))
        created = datetime.combine(day, datetime.min.time()).replace(hour=18)
        serial = day.toordinal() % 10**6 + nth * 10**6
        if kind == "camt054":
            path = stem.with_suffix(".camt054.xml")
            write_camt054(
                path, payments, account=norwegian_iban(account), currency="NOK", created=created,
                message_id=f"DEMO-{creditor}-{day:%Y%m%d}" + (f"-{nth + 1}" if nth else ""),
            )  # fmt: skip
        elif kind == "bgmax":
            path = stem.with_suffix(".bgmax")
            # deposit serials run on across the year's files: a file holds a deposit per order day, so serials
            # counted from the file's day alone met the next day's file (the same payment day, the same id)
            first = self._deposits[creditor]
            self._deposits[creditor] += sum(1 for _ in groupby(payments, key=lambda p: p.ordered))
            write_bgmax(path, payments, bankgiro=account.zfill(10), created=created, first_deposit_serial=first)
        else:
            path = stem.with_suffix(".ocr")
            write_ocr(path, payments, account=account, transmission_number=f"{serial:07d}")
        return path

    # --- the caseworkers' side of the money ---------------------------------------------------------

    def place_suspense(self, day: date, *, within_days: int = 5) -> None:
        """A caseworker finds the claim of most suspense items a few days after they arrived."""
        cal = calendar_for("NO")
        keep = []
        for received, creditor, reference, invoice in self.suspended:
            if (day - received).days < within_days or not cal.is_working_day(day):
                keep.append((received, creditor, reference, invoice))
                continue
            if self.rng.random() >= PLACED:
                continue  # nobody finds the claim: paid back at month end
            account = self.app.suspense(creditor)
            item = account.oldest_open(reference) if account is not None else None
            if item is None:
                continue
            try:
                self.app.allocate_suspense(
                    creditor=creditor, reference=reference, invoice=invoice, on=day,
                    command_id=f"place/{creditor}/{reference}/{received}",
                )  # fmt: skip
            except CommandRefused:
                continue  # the claim was closed meanwhile: the money stays in suspense for a refund
            self.stats.placed += 1
            self.stats.placed_amount += item.amount
        self.suspended = keep

    def month_end_refunds(self, day: date) -> None:
        """Suspense nobody could place goes back to its payer; a second caseworker approves the refunds (four
        eyes); the office exports them as pain.001 files, recorded as paid out."""
        from kravsak.refunds_cli import export_approved

        for creditor in sorted(FORMATS):
            account = self.app.suspense(creditor)
            for item in account.open_items() if account is not None else ():
                if (day - item.received_on).days >= UNPLACED_AFTER_DAYS:
                    self.app.request_refund(
                        creditor=creditor, on=day, command_id=f"unplaced/{item.item}", by=REQUESTED_BY,
                        payee_key=transaction_key(item.item), reference=item.reference,
                        reason="belongs to no claim",
                    )  # fmt: skip
                    self.stats.suspense_refunded += 1
        for refund in self.app.refunds():
            if refund.state.value == "requested" and refund.requested_by != APPROVED_BY:
                self.app.approve_refund(refund=refund.id, by=APPROVED_BY, on=day, command_id=f"approve:{refund.id}")
                self.stats.refunds_approved += 1
        for creditor in sorted({r.creditor_id for r in self.app.refunds()}):
            exported = export_approved(
                self.app, self.payers, creditor, day=day, executes=day, folder=self.folder, by=APPROVED_BY
            )
            if exported is not None:
                self.stats.refund_files.append(exported)
