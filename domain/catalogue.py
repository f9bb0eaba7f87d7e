"""The catalogue of stored events: every event class an aggregate records, under its stable wire name.

Everything that knows events by name reads this one list: the envelope (``consumers/wire/envelope.py``)
maps each entry to its Avro record, the schema generator writes one schema per entry, and the case fold
(``projections/casefold.py``) rebuilds event objects from projected values.

The wire name (``ClaimNoticeSent``: the aggregate, then the event) is the schema name and the
``event_type`` every consumer reads, so it is written out here rather than derived from the class:
renaming a Python class must not rename an event on the wire. A new event class goes into ``EVENTS``;
``stored_event_classes`` finds the ones the aggregates define, and a unit test holds the two equal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from functools import cache
from typing import Any

from eventsourcing.domain import Aggregate, AggregateCreated

from domain.bank_files import BankFile
from domain.claim import Claim
from domain.parties import Creditor, Debtor
from domain.references import PaymentReference
from domain.refunds import Refund
from domain.suspense import Suspense

AGGREGATES: tuple[type[Aggregate], ...] = (Claim, Creditor, Debtor, PaymentReference, Suspense, BankFile, Refund)
"""The aggregates whose events are stored and published."""

BASE_ATTRIBUTES = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})
"""Attributes eventsourcing gives every event; the rest are the event's own."""


@dataclasses.dataclass(frozen=True, slots=True)
class StoredEvent:
    """One stored event class and its wire name."""

    wire_name: str
    """Schema name and envelope ``event_type``: ``ClaimNoticeSent``."""
    aggregate: type[Aggregate]
    cls: type[Any]

    @property
    def creation(self) -> bool:
        """The event that creates the aggregate (it carries ``originator_topic``)."""
        return issubclass(self.cls, AggregateCreated)

    @property
    def attributes(self) -> tuple[str, ...]:
        """Every attribute of the event class, in declaration order."""
        return tuple(f.name for f in dataclasses.fields(self.cls))

    @property
    def own_attributes(self) -> tuple[str, ...]:
        """The event's own attributes: all but ``BASE_ATTRIBUTES``."""
        return tuple(a for a in self.attributes if a not in BASE_ATTRIBUTES)


EVENTS: tuple[StoredEvent, ...] = (
    StoredEvent("ClaimInvoiced", Claim, Claim.Invoiced),
    StoredEvent("ClaimCreditNoteIssued", Claim, Claim.CreditNoteIssued),
    StoredEvent("ClaimPaymentRegistered", Claim, Claim.PaymentRegistered),
    StoredEvent("ClaimNoticeSent", Claim, Claim.NoticeSent),
    StoredEvent("ClaimEnforcementRequested", Claim, Claim.EnforcementRequested),
    StoredEvent("ClaimServiceSuspended", Claim, Claim.ServiceSuspended),
    StoredEvent("ClaimLimitationInterrupted", Claim, Claim.LimitationInterrupted),
    StoredEvent("ClaimObjectionRegistered", Claim, Claim.ObjectionRegistered),
    StoredEvent("ClaimObjectionResolved", Claim, Claim.ObjectionResolved),
    StoredEvent("ClaimDeferralGranted", Claim, Claim.DeferralGranted),
    StoredEvent("ClaimPaymentPlanAgreed", Claim, Claim.PaymentPlanAgreed),
    StoredEvent("ClaimPaymentPlanBreached", Claim, Claim.PaymentPlanBreached),
    StoredEvent("ClaimJudgmentRegistered", Claim, Claim.JudgmentRegistered),
    StoredEvent("ClaimReinstatementApplied", Claim, Claim.ReinstatementApplied),
    StoredEvent("ClaimDebtorDeathNoted", Claim, Claim.DebtorDeathNoted),
    StoredEvent("ClaimEstateDeadlineNoted", Claim, Claim.EstateDeadlineNoted),
    StoredEvent("ClaimReportedToEstate", Claim, Claim.ReportedToEstate),
    StoredEvent("ClaimCostsWaived", Claim, Claim.CostsWaived),
    StoredEvent("ClaimWrittenDown", Claim, Claim.WrittenDown),
    StoredEvent("ClaimDuePostponed", Claim, Claim.DuePostponed),
    StoredEvent("ClaimWrittenDownInAccounts", Claim, Claim.WrittenDownInAccounts),
    StoredEvent("ClaimWrittenOff", Claim, Claim.WrittenOff),
    StoredEvent("ClaimComplaintFiled", Claim, Claim.ComplaintFiled),
    StoredEvent("ClaimComplaintDecided", Claim, Claim.ComplaintDecided),
    StoredEvent("ClaimRefundRequested", Claim, Claim.RefundRequested),
    StoredEvent("ClaimRefundCancelled", Claim, Claim.RefundCancelled),
    StoredEvent("ClaimSurplusRefunded", Claim, Claim.SurplusRefunded),
    StoredEvent("CreditorRegistered", Creditor, Creditor.Registered),
    StoredEvent("CreditorPolicyChanged", Creditor, Creditor.PolicyChanged),
    StoredEvent("DebtorRegistered", Debtor, Debtor.Registered),
    StoredEvent("DebtorClaimAttached", Debtor, Debtor.ClaimAttached),
    StoredEvent("DebtorDied", Debtor, Debtor.Died),
    StoredEvent("DebtorProklamaPublished", Debtor, Debtor.ProklamaPublished),
    StoredEvent("PaymentReferenceAssigned", PaymentReference, PaymentReference.Assigned),
    StoredEvent("SuspenseOpened", Suspense, Suspense.Opened),
    StoredEvent("SuspensePaymentReceived", Suspense, Suspense.PaymentReceived),
    StoredEvent("SuspensePaymentAllocated", Suspense, Suspense.PaymentAllocated),
    StoredEvent("SuspenseRefundRequested", Suspense, Suspense.RefundRequested),
    StoredEvent("SuspenseRefundCancelled", Suspense, Suspense.RefundCancelled),
    StoredEvent("SuspensePaymentRefunded", Suspense, Suspense.PaymentRefunded),
    StoredEvent("BankFileOpened", BankFile, BankFile.Opened),
    StoredEvent("BankFileBatchRegistered", BankFile, BankFile.BatchRegistered),
    StoredEvent("BankFileImported", BankFile, BankFile.Imported),
    StoredEvent("RefundRequested", Refund, Refund.Requested),
    StoredEvent("RefundApproved", Refund, Refund.Approved),
    StoredEvent("RefundRejected", Refund, Refund.Rejected),
    StoredEvent("RefundPaidOut", Refund, Refund.PaidOut),
)
"""Every stored event, in the order the aggregates define them."""

BY_WIRE_NAME: Mapping[str, StoredEvent] = {e.wire_name: e for e in EVENTS}


@cache
def _by_class() -> dict[type[Any], StoredEvent]:
    return {e.cls: e for e in EVENTS}


def stored_event(cls: type[Any]) -> StoredEvent | None:
    """The catalogue entry of an event class, or None when it is not a stored event."""
    return _by_class().get(cls)


def stored_event_classes(aggregate: type[Aggregate]) -> list[type[Any]]:
    """The event classes ``aggregate`` defines that can be stored, in the order the class defines them.

    A stored event class is one nested in the aggregate that says how it changes the aggregate
    (defines ``apply`` or ``apply_to`` itself) and that no other event class of the aggregate
    extends. That leaves out the abstract bases (``Claim.Event``, ``Claim.InterestAccruing``) and
    the ``Event``/``Created`` classes eventsourcing generates for every aggregate.
    """
    nested = [
        value
        for value in vars(aggregate).values()
        if isinstance(value, type) and issubclass(value, Aggregate.Event) and value.__module__ == aggregate.__module__
    ]
    concrete = []
    for cls in nested:
        if any(other is not cls and issubclass(other, cls) for other in nested):
            continue
        # eventsourcing redefines each nested event class as a subclass of the one written in the
        # module; the methods are on that original, with the same qualified name.
        own = [k for k in cls.__mro__ if k.__qualname__ == cls.__qualname__ and k.__module__ == cls.__module__]
        if any("apply" in vars(k) or "apply_to" in vars(k) for k in own):
            concrete.append(cls)
    return concrete
