"""The suspense account (NO uidentifiserte innbetalinger, SE oidentifierade inbetalningar): money that
came in with a payment reference no claim carries, until a caseworker places it on a claim.

One aggregate per creditor, its id a uuid5 of the creditor. Each receipt is an item, named by the
command that recorded it; ``allocate_suspense`` takes the oldest open item with the payer's reference
(FORMAT.md 1.1) and registers it as a payment on the claim, ordered the day the payer ordered it.
A bank-file reader (the payment-files issue) only has to call ``CollectionApp.receive_unmatched_payment``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import invalid
from domain.inputs import require_amount

MAX_REFERENCE = 35  # ISO 20022 structured creditor reference; KIDs and OCR numbers are shorter


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

        def apply_to(self, s: Suspense) -> None:
            s.items[self.item] = SuspenseItem(
                self.item, self.reference, self.amount, self.ordered, self.recorded, self.source
            )

    class PaymentAllocated(Event):
        """A caseworker placed an item on a claim, where it is registered as a payment."""

        item: str
        reference: str
        amount: Decimal
        claim_id: UUID
        invoice: str

        def apply_to(self, s: Suspense) -> None:
            held = s.items[self.item]
            s.items[self.item] = SuspenseItem(
                held.item, held.reference, held.amount, held.ordered, held.received_on, held.source,
                self.invoice, self.recorded,
            )  # fmt: skip

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
        """Money still held, oldest first (by order date, then by the order it was received)."""
        held = [i for i in self.items.values() if i.allocated_to is None]
        order = list(self.items)
        return sorted(held, key=lambda i: (i.ordered, i.received_on, order.index(i.item)))

    def oldest_open(self, reference: str) -> SuspenseItem | None:
        return next((i for i in self.open_items() if i.reference == reference), None)

    # --- commands ------------------------------------------------------------------------------

    def receive(
        self, *, command_id: str, on: date, reference: str, amount: Decimal, ordered: date, source: str
    ) -> None:
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
        )

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
