"""The suspense account (NO uidentifiserte innbetalinger, SE oidentifierade inbetalningar): money that
came in with a payment reference no claim carries, until a caseworker places it on a claim.

One aggregate per creditor, its id a uuid5 of the creditor. Each receipt is an item, named by the
command that recorded it; ``allocate_suspense`` takes the oldest open item with the payer's reference
(FORMAT.md 1.1) and registers it as a payment on the claim, ordered the day the payer ordered it.
A bank-file reader (the payment-files issue) only has to call ``CollectionApp.receive_unmatched_payment``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import invalid
from domain.inputs import require_amount

MAX_REFERENCE = 35  # ISO 20022 structured creditor reference; KIDs and OCR numbers are shorter


@lru_cache(maxsize=1_024)  # a bank file asks for the same ids again and again; uuid5 hashes
def suspense_id(namespace: UUID, creditor_id: str) -> UUID:
    return uuid5(namespace, f"suspense:{creditor_id}")


@dataclass(frozen=True, slots=True)
class SuspenseItem:
    item: str  # the command id that received it
    reference: str
    amount: Decimal
    ordered: date
    received_on: date
    source: str
    allocated_to: str | None = None  # invoice
    allocated_on: date | None = None
    file_digest: str | None = None  # the bank file it came in (None: registered by hand)
    refund: str | None = None  # the refund (id) the item is reserved for
    refunded_on: date | None = None  # the day it was paid back

    @property
    def held(self) -> bool:
        """Still in suspense (not placed on a claim, not paid back)."""
        return self.allocated_to is None and self.refunded_on is None


class Suspense(Aggregate):
    """One creditor's unmatched payments."""

    class Opened(Aggregate.Created):
        command_id: str
        effective: date
        recorded: date
        creditor_id: str
        currency: str

        def apply(self, s: Suspense) -> None:
            s.creditor_id, s.currency, s.items, s.commands = self.creditor_id, self.currency, {}, {self.command_id}

    class Event(Aggregate.Event):
        command_id: str
        effective: date
        recorded: date
        currency: str

        def apply(self, s: Suspense) -> None:
            s.commands.add(self.command_id)
            self.apply_to(s)

        def apply_to(self, s: Suspense) -> None:
            raise NotImplementedError

    class PaymentReceived(Event):
        """Money with a reference no claim carries; ``effective`` is the day the payer ordered it."""

        item: str
        reference: str
        amount: Decimal
        ordered: date
        source: str
        # version 2: the bank file it came in — its SHA-256, its format and the bank's transaction id
        # (None for money registered by hand, and in version 1 events)
        file_digest: str | None
        file_format: str | None
        transaction: str | None

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["file_digest"] = state["file_format"] = state["transaction"] = None

        def apply_to(self, s: Suspense) -> None:
            s.items[self.item] = SuspenseItem(
                self.item, self.reference, self.amount, self.ordered, self.recorded, self.source,
                file_digest=self.file_digest,
            )  # fmt: skip

    class PaymentAllocated(Event):
        """A caseworker placed an item on a claim, where it is registered as a payment."""

        item: str
        reference: str
        amount: Decimal
        claim_id: UUID
        invoice: str

        def apply_to(self, s: Suspense) -> None:
            s.items[self.item] = replace(s.items[self.item], allocated_to=self.invoice, allocated_on=self.recorded)

    class RefundRequested(Event):
        """An item that belongs to no claim is reserved for a refund to the payer (``domain.refunds``)."""

        item: str
        refund_id: UUID
        amount: Decimal

        def apply_to(self, s: Suspense) -> None:
            s.items[self.item] = replace(s.items[self.item], refund=str(self.refund_id))

    class RefundCancelled(Event):
        """The refund was rejected: the item is open again, to place on a claim or refund."""

        item: str
        refund_id: UUID

        def apply_to(self, s: Suspense) -> None:
            s.items[self.item] = replace(s.items[self.item], refund=None)

    class PaymentRefunded(Event):
        """The item was paid back to the payer: money out of the office's account and out of suspense."""

        item: str
        refund_id: UUID
        amount: Decimal
        message_id: str

        def apply_to(self, s: Suspense) -> None:
            s.items[self.item] = replace(s.items[self.item], refunded_on=self.recorded)

    creditor_id: str
    currency: str
    items: dict[str, SuspenseItem]
    commands: set[str]

    def __init__(self) -> None:
        """State is set by ``Opened.apply``."""

    @classmethod
    def open(cls, *, id: UUID, command_id: str, on: date, creditor_id: str, currency: str) -> Suspense:
        return cls._create(
            cls.Opened,
            id=id,
            command_id=command_id,
            effective=on,
            recorded=on,
            creditor_id=creditor_id,
            currency=currency,
        )

    # --- queries -------------------------------------------------------------------------------

    def open_items(self) -> list[SuspenseItem]:
        """Money still held, oldest first (by order date, then by the order it was received); an item reserved
        for a refund is still held until it is paid out."""
        held = [i for i in self.items.values() if i.held]
        order = {k: n for n, k in enumerate(self.items)}
        return sorted(held, key=lambda i: (i.ordered, i.received_on, order[i.item]))

    def oldest_open(self, reference: str) -> SuspenseItem | None:
        """The oldest held item with the payer's ``reference`` that no refund has reserved."""
        return next((i for i in self.open_items() if i.reference == reference and i.refund is None), None)

    # --- commands ------------------------------------------------------------------------------

    def receive(
        self,
        *,
        command_id: str,
        on: date,
        reference: str,
        amount: Decimal,
        ordered: date,
        source: str,
        bank_file: tuple[str, str, str] | None = None,
    ) -> None:
        """``bank_file``: the file's digest, its format and the transaction id, when it came in a bank file."""
        check_unmatched_payment(reference, amount, ordered, on, source)
        self.trigger_event(
            self.PaymentReceived,
            command_id=command_id,
            effective=ordered,
            recorded=on,
            currency=self.currency,
            item=command_id,
            reference=reference,
            amount=amount,
            ordered=ordered,
            source=source,
            file_digest=bank_file[0] if bank_file else None,
            file_format=bank_file[1] if bank_file else None,
            transaction=bank_file[2] if bank_file else None,
        )

    def reserve_refund(self, *, command_id: str, on: date, item: SuspenseItem, refund_id: UUID) -> None:
        if not item.held or item.refund is not None:
            raise invalid("reference", f"the payment {item.reference!r} in suspense is not open for a refund")
        self.trigger_event(
            self.RefundRequested, command_id=command_id, effective=on, recorded=on, currency=self.currency,
            item=item.item, refund_id=refund_id, amount=item.amount,
        )  # fmt: skip

    def cancel_refund(self, *, command_id: str, on: date, item: str, refund_id: UUID) -> None:
        held = self.items.get(item)
        if held is None or held.refund != str(refund_id):
            return
        self.trigger_event(
            self.RefundCancelled, command_id=command_id, effective=on, recorded=on, currency=self.currency,
            item=item, refund_id=refund_id,
        )  # fmt: skip

    def refund(self, *, command_id: str, on: date, item: str, refund_id: UUID, message_id: str) -> None:
        held = self.items.get(item)
        if held is None or held.refund != str(refund_id) or not held.held:
            raise invalid("item", f"no payment in suspense is reserved for refund {refund_id}")
        self.trigger_event(
            self.PaymentRefunded, command_id=command_id, effective=on, recorded=on, currency=self.currency,
            item=item, refund_id=refund_id, amount=held.amount, message_id=message_id,
        )  # fmt: skip

    def allocate(self, *, command_id: str, on: date, item: SuspenseItem, claim_id: UUID, invoice: str) -> None:
        self.trigger_event(
            self.PaymentAllocated,
            command_id=command_id,
            effective=on,
            recorded=on,
            currency=self.currency,
            item=item.item,
            reference=item.reference,
            amount=item.amount,
            claim_id=claim_id,
            invoice=invoice,
        )


def check_unmatched_payment(reference: str, amount: Decimal, ordered: date, on: date, source: str) -> None:
    require_amount("amount", amount)
    if not reference or len(reference) > MAX_REFERENCE or not reference.isprintable():
        raise invalid("reference", f"a payer's reference of 1 to {MAX_REFERENCE} printable characters is required")
    if ordered > on:
        raise invalid("ordered", f"the payment order date {ordered} lies after the day it was received {on}")
    if not source.strip():
        raise invalid("source", "say where the money came from (the bank file, or 'manual')")
