"""Refunds (NO tilbakebetaling, SE återbetalning): money the office pays back — a claim's surplus, or an
unmatched payment that belongs to no claim.

One aggregate per refund, its id a uuid5 of the creditor and the command that requested it. The life
of a refund is ``requested → approved → paid out`` (or ``rejected``):

- *requested* by a caseworker, or by the bank-file import when a payment leaves a surplus; the money
  is reserved at its source in the same save (``Claim.RefundRequested`` / ``Suspense.RefundRequested``)
  so it cannot be refunded twice or, from suspense, placed on a claim meanwhile;
- *approved* by a different person than the one who requested it (four eyes; which role may approve —
  the office lead — is decided at the edge that knows who is calling);
- *paid out* when a credit-transfer file (pain.001) carrying it is handed to the bank: the file's
  message id is recorded, and the money leaves the source (``Claim.SurplusRefunded`` /
  ``Suspense.PaymentRefunded``), so exporting twice pays nobody twice.

Who gets the money (name, account) is personal data and is kept outside the event log (ADR 0019): the
events name only where the payee details are found (``payee_key``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import CommandRefused, ErrorCode, invalid
from domain.inputs import require_amount

MAX_PERSON = 200


class RefundSource(StrEnum):
    SURPLUS = "surplus"  # money a claim received beyond what was owed (FORMAT 1.1 ``surplus``)
    SUSPENSE = "suspense"  # an unmatched payment that belongs to no claim


class RefundState(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    PAID_OUT = "paid_out"


def refund_id(namespace: UUID, creditor_id: str, command_id: str) -> UUID:
    return uuid5(namespace, f"refund:{creditor_id}:{command_id}")


def refund_number(ident: UUID) -> str:
    """The refund's reference on the wire (pain.001 ``EndToEndId``, at most 35 characters) and for people:
    its id, so a number names its refund without a lookup."""
    return f"RF-{ident.hex.upper()}"


def refund_id_of(number: str) -> UUID:
    """The refund id a refund number (or the id itself) names; ``invalid_input`` when it names none."""
    text = number.strip()
    try:
        return UUID(text.removeprefix("RF-").removeprefix("rf-"))
    except ValueError:
        raise invalid("refund", f"{number!r} is not a refund number (RF- and 32 hex digits)") from None


def check_person(field: str, who: str) -> str:
    who = who.strip() if isinstance(who, str) else ""
    if not who or len(who) > MAX_PERSON or not who.isprintable():
        raise invalid(field, f"name the person (1 to {MAX_PERSON} printable characters)")
    return who


class Refund(Aggregate):
    """Money to pay back to a payer, and where it stands."""

    class Requested(Aggregate.Created):
        command_id: str
        effective: date
        recorded: date
        creditor_id: str
        currency: str
        number: str
        source: str  # RefundSource
        claim_id: UUID | None  # surplus: the claim
        invoice: str | None
        item: str | None  # suspense: the item (the command id that received the money)
        reference: str  # the payer's KID / OCR reference (or text) of the money refunded
        amount: Decimal
        payee_key: str  # where the payee's name and account are kept (outside the event log)
        requested_by: str
        reason: str

        def apply(self, r: Refund) -> None:
            r.creditor_id, r.currency, r.number = self.creditor_id, self.currency, self.number
            r.source, r.claim_id, r.invoice, r.item = RefundSource(self.source), self.claim_id, self.invoice, self.item
            r.reference, r.amount, r.payee_key = self.reference, self.amount, self.payee_key
            r.requested_by, r.requested_on, r.reason = self.requested_by, self.effective, self.reason
            r.state, r.approved_by, r.approved_on, r.rejected_by = RefundState.REQUESTED, None, None, None
            r.message_id, r.paid_out_on = None, None
            r.commands = {self.command_id}

    class Event(Aggregate.Event):
        command_id: str
        effective: date
        recorded: date
        currency: str

        def apply(self, r: Refund) -> None:
            r.commands.add(self.command_id)
            self.apply_to(r)

        def apply_to(self, r: Refund) -> None:
            raise NotImplementedError

    class Approved(Event):
        """A second person approved the refund (four eyes)."""

        approved_by: str

        def apply_to(self, r: Refund) -> None:
            r.state, r.approved_by, r.approved_on = RefundState.APPROVED, self.approved_by, self.effective

    class Rejected(Event):
        """The refund will not be paid; the money stays where it was (suspense, or the claim's surplus)."""

        rejected_by: str
        reason: str

        def apply_to(self, r: Refund) -> None:
            r.state, r.rejected_by = RefundState.REJECTED, self.rejected_by

    class PaidOut(Event):
        """The refund went to the bank in a credit-transfer file (pain.001) with this message id."""

        message_id: str
        amount: Decimal
        execution_date: date
        exported_by: str

        def apply_to(self, r: Refund) -> None:
            r.state, r.message_id, r.paid_out_on = RefundState.PAID_OUT, self.message_id, self.effective

    creditor_id: str
    currency: str
    number: str
    source: RefundSource
    claim_id: UUID | None
    invoice: str | None
    item: str | None
    reference: str
    amount: Decimal
    payee_key: str
    requested_by: str
    requested_on: date
    reason: str
    state: RefundState
    approved_by: str | None
    approved_on: date | None
    rejected_by: str | None
    message_id: str | None
    paid_out_on: date | None
    commands: set[str]

    def __init__(self) -> None:
        """State is set by ``Requested.apply``."""

    @classmethod
    def request(
        cls,
        *,
        id: UUID,
        command_id: str,
        on: date,
        creditor_id: str,
        currency: str,
        source: RefundSource,
        reference: str,
        amount: Decimal,
        payee_key: str,
        requested_by: str,
        reason: str,
        claim_id: UUID | None = None,
        invoice: str | None = None,
        item: str | None = None,
    ) -> Refund:
        require_amount("amount", amount)
        return cls._create(
            cls.Requested,
            id=id,
            command_id=command_id,
            effective=on,
            recorded=on,
            creditor_id=creditor_id,
            currency=currency,
            number=refund_number(id),
            source=source.value,
            claim_id=claim_id,
            invoice=invoice,
            item=item,
            reference=reference,
            amount=amount,
            payee_key=payee_key,
            requested_by=check_person("requested_by", requested_by),
            reason=reason,
        )

    def approve(self, *, command_id: str, on: date, by: str) -> None:
        by = check_person("approved_by", by)
        if self.state is not RefundState.REQUESTED:
            raise CommandRefused(ErrorCode.MISSING_PREREQUISITE, f"refund {self.number} is {self.state.value}")
        if by == self.requested_by:
            raise invalid(
                "approved_by",
                f"{by} requested refund {self.number}: another person must approve it (four eyes)",
            )
        self.trigger_event(
            self.Approved, command_id=command_id, effective=on, recorded=on, currency=self.currency, approved_by=by
        )

    def reject(self, *, command_id: str, on: date, by: str, reason: str) -> None:
        by = check_person("rejected_by", by)
        if self.state not in (RefundState.REQUESTED, RefundState.APPROVED):
            raise CommandRefused(ErrorCode.MISSING_PREREQUISITE, f"refund {self.number} is {self.state.value}")
        if not reason.strip():
            raise invalid("reason", "say why the refund is rejected")
        self.trigger_event(
            self.Rejected,
            command_id=command_id,
            effective=on,
            recorded=on,
            currency=self.currency,
            rejected_by=by,
            reason=reason.strip(),
        )

    def pay_out(self, *, command_id: str, on: date, message_id: str, execution_date: date, by: str) -> None:
        if self.state is not RefundState.APPROVED:
            raise CommandRefused(
                ErrorCode.MISSING_PREREQUISITE, f"refund {self.number} is {self.state.value}, not approved"
            )
        self.trigger_event(
            self.PaidOut,
            command_id=command_id,
            effective=on,
            recorded=on,
            currency=self.currency,
            message_id=message_id,
            amount=self.amount,
            execution_date=execution_date,
            exported_by=check_person("exported_by", by),
        )
