"""Money from a bank file: each credit transaction matched to its claim by its reference, or held in suspense.

    landed = app.receive_bank_payments(batch, on=today, file_digest=digest, file_format="ocr", refund_by="kari")

``CollectionApp.receive_bank_payment`` lands one transaction; ``receive_bank_payments`` a batch of them in ONE
unit of work, as the importer hands them over (ADR 0029). The batch is the same commands, not a new one:

- **The same command log.** Each transaction is recorded as ``receive_bank_payment`` under its transaction id
  (scope: its creditor) with the digest of the same content, so a transaction imported one by one and the same
  transaction in a batch are one command; a repeat — in an earlier batch, an earlier file, the same batch —
  changes nothing and is a ``duplicate``; other content under the same id is ``invalid_input``.
- **The same edge.** Every argument is checked by ``inputs.check_arguments`` as the single command's are: what
  the whole batch shares (the day, the file, who requests refunds) once, what each transaction brings per
  transaction, before anything of it is read.
- **The same landing.** ``land`` is the one body both run: matched by a structured reference to a claim and
  registered as a payment ordered on ``ordered``; a reference no claim carries, an unstructured one or a payment
  the claim refuses goes to the creditor's suspense account; a surplus is requested as a refund in the same save.
- **All or nothing.** A transaction refused at the edge refuses the batch: the unit of work stores nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING
from uuid import UUID

from domain import inputs
from domain.command_log import digest_of
from domain.errors import CommandRefused
from domain.refunds import check_person

if TYPE_CHECKING:
    from domain.application import CollectionApp
    from domain.claim import Claim

_text = json.encoder.encode_basestring  # a str as json.dumps(ensure_ascii=False) writes it

COMMAND = "receive_bank_payment"
"""The command each transaction of a batch is recorded as (its digest is that command's)."""


@dataclass(frozen=True, slots=True)
class BankPayment:
    """How one credit transaction of a bank file landed (``CollectionApp.receive_bank_payment``).

    ``outcome``: ``matched`` (registered on ``invoice``; ``surplus`` of it is beyond the claim's balance and
    owed back), ``unmatched`` (held in suspense; ``reason`` says why) or ``duplicate`` (this transaction id
    was registered before: nothing changed)."""

    outcome: str
    invoice: str | None = None
    surplus: Decimal = Decimal("0.00")
    reason: str | None = None
    refund: UUID | None = None


@dataclass(frozen=True, slots=True)
class IncomingPayment:
    """One credit transaction of a bank file as the importer hands it to the domain: who it pays
    (``creditor``, by its payee account), the payer's reference, the amount, the payer's order date and the
    bank's transaction id (the command id)."""

    creditor: str
    reference: str
    structured: bool
    amount: Decimal
    ordered: date
    transaction_id: str

    def content(self) -> dict[str, object]:
        """What ``receive_bank_payment``'s digest covers (its arguments but the id, the day and the file's)."""
        return {
            "creditor": self.creditor,
            "reference": self.reference,
            "structured": self.structured,
            "amount": self.amount,
            "ordered": self.ordered,
        }

    def canonical(self) -> bytes:
        """``command_log.canonical(COMMAND, self.content())``, written straight for this one shape: the same
        bytes (keys sorted, no spaces, text as ``json`` writes it, the amount normalised, the date as text)
        for a fifth of the cost. ``tests/unit/test_bank_payments_batch.py`` compares the two."""
        amount = format(self.amount.normalize(), "f") if self.amount == self.amount else "NaN"
        return (
            f'["{COMMAND}",{{"amount":{{"decimal":{_text(amount)}}},"creditor":{_text(self.creditor)},'
            f'"ordered":{_text(str(self.ordered))},"reference":{_text(self.reference)},'
            f'"structured":{"true" if self.structured else "false"}}}]'
        ).encode()


def receive(
    app: CollectionApp,
    payments: Sequence[IncomingPayment],
    *,
    on: date,
    file_digest: str,
    file_format: str,
    refund_by: str | None,
) -> list[BankPayment]:
    """Land every transaction of ``payments`` in one unit of work (see the module docstring)."""
    inputs.check_arguments({"on": on, "file_digest": file_digest, "file_format": file_format, "refund_by": refund_by})
    seen: set[tuple[str, object]] = set()  # (argument, value) that passed the edge in this batch
    with app.unit_of_work():
        return [
            _receive_one(app, p, on, file_digest, file_format, refund_by, n > 0, seen) for n, p in enumerate(payments)
        ]


_KINDS = inputs.ARGUMENT_KINDS
_CREDITOR, _REFERENCE, _AMOUNT, _ORDERED, _ID = (
    _KINDS["creditor"], _KINDS["reference"], _KINDS["amount"], _KINDS["ordered"], _KINDS["transaction_id"]
)  # fmt: skip
assert "structured" not in _KINDS  # a bool needs no check: ``_check_at_the_edge`` skips it as check_arguments does


def _check_at_the_edge(p: IncomingPayment, seen: set[tuple[str, object]]) -> None:
    """``inputs.check_arguments`` of a transaction's own arguments — the same checks in the same order — except
    that a creditor, reference or order day that passed in this batch already is not checked again: a file
    repeats them, and a check's verdict depends on the value alone (text and dates only: anything else is checked,
    and refused)."""
    if (creditor := p.creditor) is not None and (type(creditor) is not str or ("creditor", creditor) not in seen):
        _CREDITOR("creditor", creditor)
        seen.add(("creditor", creditor))
    if (reference := p.reference) is not None and (type(reference) is not str or ("reference", reference) not in seen):
        _REFERENCE("reference", reference)
        seen.add(("reference", reference))
    if p.amount is not None:
        _AMOUNT("amount", p.amount)
    if (ordered := p.ordered) is not None and (type(ordered) is not date or ("ordered", ordered) not in seen):
        _ORDERED("ordered", ordered)
        seen.add(("ordered", ordered))
    if p.transaction_id is not None:
        _ID("transaction_id", p.transaction_id)


def _receive_one(
    app: CollectionApp,
    p: IncomingPayment,
    on: date,
    file_digest: str,
    file_format: str,
    refund_by: str | None,
    refund_by_checked: bool,
    seen: set[tuple[str, object]],
) -> BankPayment:
    _check_at_the_edge(p, seen)
    return app._once(
        COMMAND, f"creditor:{p.creditor}", p.transaction_id, {},  # the content is in the digest given
        lambda: land(
            app, creditor=p.creditor, reference=p.reference, structured=p.structured, amount=p.amount,
            ordered=p.ordered, on=on, transaction_id=p.transaction_id, file_digest=file_digest,
            file_format=file_format, refund_by=refund_by, refund_by_checked=refund_by_checked,
        ),
        digest=digest_of(app._digest_key, p.canonical()),
    )  # fmt: skip


def land(
    app: CollectionApp,
    *,
    creditor: str,
    reference: str,
    structured: bool,
    amount: Decimal,
    ordered: date,
    on: date,
    transaction_id: str,
    file_digest: str,
    file_format: str,
    refund_by: str | None,
    refund_by_checked: bool = False,
) -> BankPayment:
    """One transaction, inside its command (``receive_bank_payment``'s body). ``refund_by_checked``: a batch's
    first transaction checked who requests refunds already (the same value for every transaction)."""
    source = (file_digest, file_format, transaction_id)
    if refund_by is not None and not refund_by_checked:
        check_person("refund_by", refund_by)
    account = app.suspense(creditor)
    if account is not None and transaction_id in account.commands:
        return BankPayment("duplicate", reason="in suspense")
    claim, reason = None, "no structured reference"
    if structured:
        try:
            claim = app.claim_by_reference(creditor, reference)
        except CommandRefused as refused:
            reason = refused.message
    if claim is not None:
        if transaction_id in claim.commands:
            return BankPayment("duplicate", invoice=claim.invoice)
        try:
            if app._batch is None:  # alone: the payment and its refund in one save, on the unit of work's copy
                with app.unit_of_work():
                    return _pay(app, app.claim(creditor, claim.invoice), amount, ordered, on, transaction_id,
                                reference, source, refund_by)  # fmt: skip
            return _pay(app, claim, amount, ordered, on, transaction_id, reference, source, refund_by)
        except CommandRefused as refused:
            reason = f"invoice {claim.invoice} refused the payment: {refused.message}"
    shown = reference.strip() or "(none)"
    app.receive_unmatched_payment(
        creditor=creditor,
        reference=shown[:35],
        amount=amount,
        on=on,
        command_id=transaction_id,
        ordered=ordered,
        source=file_format,
        bank_file=source,
    )
    return BankPayment("unmatched", reason=reason)


def _pay(
    app: CollectionApp,
    claim: Claim,
    amount: Decimal,
    ordered: date,
    on: date,
    transaction_id: str,
    reference: str,
    source: tuple[str, str, str],
    refund_by: str | None,
) -> BankPayment:
    """The payment on ``claim`` (the unit of work's copy, which it changes) and the refund of a surplus it leaves."""
    before = claim.account.surplus
    app._act_on(
        claim,
        transaction_id,
        lambda c, r: c.pay(
            command_id=transaction_id, on=on, amount=amount, ordered=ordered, designation=None, rules=r,
            source="reference", reference=reference, bank_file=source,
        ),
    )  # fmt: skip
    surplus = claim.account.surplus - before
    refund = None
    if surplus > 0 and refund_by is not None:
        refund = app._request_surplus_refund(
            claim, amount=surplus, on=on, command_id=f"{transaction_id}/refund", by=refund_by,
            payee_key=f"transaction:{transaction_id}", reason="payment beyond the balance",
        )  # fmt: skip
    return BankPayment("matched", invoice=claim.invoice, surplus=surplus, refund=refund)
