"""The payment-reference index: which claim a KID / OCR reference belongs to, one per creditor.

One small aggregate per (creditor, reference), its id a uuid5 of both. Creating it for a reference
that is already taken fails on the event store's optimistic concurrency, so two claims can never
hold the same reference, on the in-memory store as on PostgreSQL; the application checks first and
refuses with ``invalid_input``. A bank file's payment finds its claim by loading the one aggregate
its reference names.
"""

from __future__ import annotations

import functools
from datetime import date
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate


@functools.lru_cache(maxsize=65536)
def reference_id(namespace: UUID, creditor_id: str, reference: str) -> UUID:
    return uuid5(namespace, f"payment-reference:{creditor_id}:{reference}")


class PaymentReference(Aggregate):
    """A KID (NO) or OCR reference (SE) and the claim it identifies."""

    class Assigned(Aggregate.Created):
        command_id: str
        effective: date
        recorded: date
        creditor_id: str
        debtor_id: str
        reference: str
        claim_id: UUID
        invoice: str
        check_digit: str  # MOD10 or MOD11: the algorithm the reference passes
        printed: bool  # True: the billing system printed it; False: kravsak assigned it

        def apply(self, r: PaymentReference) -> None:
            r.creditor_id, r.reference, r.claim_id, r.invoice = (
                self.creditor_id,
                self.reference,
                self.claim_id,
                self.invoice,
            )

    creditor_id: str
    reference: str
    claim_id: UUID
    invoice: str

    def __init__(self) -> None:
        """State is set by ``Assigned.apply``."""
