"""One deterministic sample of every stored domain event type, for wire-format tests.

``sample_log()`` runs a fixed command sequence through an in-memory ``CollectionApp`` (fixed
namespace and salt, so every aggregate id is the same on every run) and reads the notification log
back as the publisher does: ``(notification position, domain event)`` in log order.
``sample_events()`` keeps the first event of each type, by schema name (``"ClaimNoticeSent"``).

Two values of a real run are not repeatable and are replaced, so bytes built from the samples can be
pinned: the wall-clock ``timestamp`` becomes noon UTC of the event's recorded date plus its position
in seconds, and ``rule_version`` (a digest of today's parameter files, which changes whenever a
parameter file gains a value) becomes ``no-sample`` / ``se-sample``, keeping the jurisdiction prefix.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import DomainEvent

from consumers.wire.envelope import event_type_of
from domain.application import CollectionApp
from domain.bank_files import BankFile, bank_file_id
from domain.claim import claim_id
from domain.parties import Debtor
from domain.policy import NORWEGIAN_DEFAULT
from domain.records import Installment
from domain.refunds import refund_id

SAMPLE_NAMESPACE = UUID("6b0e8f1c-2d3a-4b5c-9d6e-7f8091a2b3c4")
SAMPLE_SALT = b"kravsak-sample-salt-not-a-secret"
IN_MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


def run_sample_commands(app: CollectionApp) -> None:
    """The fixed sequence: every event type at least once (see the comments for where)."""
    d, oslo, gbg = date, "0301", "1480"
    # Creditor.Registered, Creditor.PolicyChanged, Debtor.Registered (contact partly given)
    app.register_creditor(creditor=oslo, name="Oslo kommune", jurisdiction="NO", on=d(2025, 1, 2), command_id="c-1")
    app.change_policy(creditor=oslo, policy=dataclasses.replace(NORWEGIAN_DEFAULT, reminder_fee_agreed=True),
                      on=d(2025, 1, 2), command_id="c-2")  # fmt: skip
    app.register_debtor(office=oslo, ref="D1", kind="person", jurisdiction="NO", on=d(2025, 1, 2), command_id="c-3",
                        contact={"digital_mailbox": True})  # fmt: skip

    # Invoice 1001: Invoiced, NoticeSent, PaymentRegistered + LimitationInterrupted,
    # CreditNoteIssued, ObjectionRegistered, ObjectionResolved (maintained) + CostsWaived,
    # ComplaintFiled, ComplaintDecided, EnforcementRequested, JudgmentRegistered, WrittenDown, WrittenOff.
    inv = {"creditor": oslo, "invoice": "1001"}
    app.issue_invoice(**inv, amount=Decimal("1250.00"), due=d(2025, 1, 31), claim_type="barnehage", debtor_ref="D1",
                      on=d(2025, 1, 3), command_id="c-4")  # fmt: skip
    # Debtor.ClaimAttached: no longer recorded (ADR 0024), still in stores written before; as one of those had it
    debtor = app.debtor(oslo, "D1")
    debtor.trigger_event(Debtor.ClaimAttached, command_id="c-4", recorded=d(2025, 1, 3), claim_id=claim_id(
        app.namespace, oslo, "1001"))  # fmt: skip
    app.save(debtor)
    app.send_notice(**inv, notice="purring", on=d(2025, 2, 14), command_id="c-5")
    app.register_payment(**inv, amount=Decimal("200.00"), on=d(2025, 2, 20), command_id="c-6", ordered=d(2025, 2, 19))
    app.credit_invoice(**inv, amount=Decimal("50.00"), on=d(2025, 2, 21), command_id="c-7")
    app.send_notice(**inv, notice="inkassovarsel", on=d(2025, 3, 10), command_id="c-8")
    app.register_objection(**inv, on=d(2025, 3, 12), command_id="c-9", received=d(2025, 3, 11),
                           text="The child left the kindergarten in January")  # fmt: skip
    app.resolve_objection(**inv, outcome="maintained", on=d(2025, 3, 20), command_id="c-10")
    app.file_complaint(**inv, on=d(2025, 3, 25), command_id="c-11")
    app.decide_complaint(**inv, outcome="breach", on=d(2025, 4, 1), command_id="c-12")
    app.request_enforcement(**inv, route="forliksklage", on=d(2025, 4, 2), command_id="c-13")
    app.register_judgment(**inv, on=d(2025, 6, 2), command_id="c-14", decided=d(2025, 5, 28))
    app.forgive_principal(**inv, amount=Decimal("100.00"), reason="settlement with the debtor", on=d(2025, 8, 1),
                   command_id="c-14b")  # fmt: skip
    app.write_off(**inv, reason="uneconomic", on=d(2025, 9, 1), command_id="c-15")

    # Invoice 1002: DeferralGranted, PaymentPlanAgreed, PaymentPlanBreached (found by run_policies).
    inv = {"creditor": oslo, "invoice": "1002"}
    app.issue_invoice(**inv, amount=Decimal("900.00"), due=d(2025, 1, 31), claim_type="sfo", debtor_ref="D1",
                      on=d(2025, 1, 3), command_id="c-20")  # fmt: skip
    app.grant_deferral(**inv, until=d(2025, 2, 28), on=d(2025, 2, 3), command_id="c-21")
    plan = [Installment(d(2025, 3, 15), Decimal("450.00")), Installment(d(2025, 4, 15), Decimal("450.00"))]
    app.agree_payment_plan(**inv, installments=plan, on=d(2025, 3, 3), command_id="c-22")
    app.run_policies(creditor=oslo, invoices=["1002"], start=d(2025, 3, 16), until=d(2025, 3, 17), command_id="c-23")

    # Debtor D2 dies: Debtor.Died + DebtorDeathNoted, ProklamaPublished + EstateDeadlineNoted,
    # ReportedToEstate.
    app.register_debtor(office=oslo, ref="D2", kind="person", jurisdiction="NO", on=d(2025, 1, 2), command_id="c-30")
    inv = {"creditor": oslo, "invoice": "1003"}
    app.issue_invoice(**inv, amount=Decimal("700.00"), due=d(2025, 1, 31), claim_type="kommunale_avgifter",
                      debtor_ref="D2", on=d(2025, 1, 3), command_id="c-31")  # fmt: skip
    app.register_death(office=oslo, debtor_ref="D2", died=d(2025, 2, 10), on=d(2025, 2, 17), command_id="c-32")
    app.register_proklama(office=oslo, debtor_ref="D2", published=d(2025, 3, 1), on=d(2025, 3, 3), command_id="c-33")
    app.report_to_estate(**inv, on=d(2025, 3, 10), command_id="c-34")

    # Sweden, invoice 5001: an utslag after betalningsföreläggande, then återvinning
    # (ReinstatementApplied); amounts in SEK.
    app.register_creditor(creditor=gbg, name="Göteborgs Stad", jurisdiction="SE", on=d(2025, 1, 2), command_id="s-1")
    app.register_debtor(office=gbg, ref="G1", kind="person", jurisdiction="SE", on=d(2025, 1, 2), command_id="s-2")
    inv = {"creditor": gbg, "invoice": "5001"}
    app.issue_invoice(**inv, amount=Decimal("1500.00"), due=d(2025, 1, 31), claim_type="barnomsorg", debtor_ref="G1",
                      on=d(2025, 1, 3), command_id="s-3")  # fmt: skip
    app.send_notice(**inv, notice="inkassokrav", on=d(2025, 2, 10), command_id="s-4")
    app.request_enforcement(**inv, route="betalningsforelaggande", on=d(2025, 3, 3), command_id="s-5")
    app.register_judgment(**inv, on=d(2025, 4, 1), command_id="s-6", decided=d(2025, 3, 28))
    app.apply_reinstatement(**inv, on=d(2025, 4, 10), command_id="s-7")

    # Format 1.1, Oslo invoice 1004 with a printed KID (PaymentReferenceAssigned, printed): money with an
    # unknown reference goes to suspense (SuspenseOpened, SuspensePaymentReceived) and is placed on the
    # claim (SuspensePaymentAllocated + a PaymentRegistered from suspense); a payment by KID.
    inv = {"creditor": oslo, "invoice": "1004"}
    app.issue_invoice(**inv, amount=Decimal("800.00"), due=d(2025, 5, 30), claim_type="barnehage", debtor_ref="D1",
                      on=d(2025, 5, 2), command_id="v-1", kid="12344")  # fmt: skip
    app.receive_unmatched_payment(creditor=oslo, reference="99999999", amount=Decimal("300.00"), on=d(2025, 6, 2),
                                  ordered=d(2025, 5, 30), source="ocr", command_id="v-2")  # fmt: skip
    app.allocate_suspense(creditor=oslo, reference="99999999", invoice="1004", on=d(2025, 6, 4), command_id="v-3")
    app.register_payment_by_reference(creditor=oslo, reference="12344", amount=Decimal("500.00"), on=d(2025, 6, 5),
                                      command_id="v-4")  # fmt: skip
    # a combined letter for 1005 and 1006 (NoticeSent with letter_invoices), an uppskov on 1007 (DuePostponed)
    # and a write-down in the accounts of 1005 (WrittenDownInAccounts)
    for n, (due, kind) in {"1005": (d(2025, 5, 30), "sfo"), "1006": (d(2025, 5, 30), "sfo"),
                           "1007": (d(2025, 6, 30), "other")}.items():  # fmt: skip
        app.issue_invoice(creditor=oslo, invoice=n, amount=Decimal("400.00"), due=due, claim_type=kind,
                          debtor_ref="D1", on=d(2025, 5, 2), command_id=f"v-{n}")  # fmt: skip
    app.send_combined_notice(creditor=oslo, invoices=["1005", "1006"], notice="purring", on=d(2025, 6, 16),
                             command_id="v-5")  # fmt: skip
    app.postpone_due(creditor=oslo, invoice="1007", until=d(2025, 7, 31), on=d(2025, 6, 20), command_id="v-6")
    app.write_down(creditor=oslo, invoice="1005", reason="uncertain: the debtor has moved abroad", on=d(2025, 9, 1),
                   command_id="v-7")  # fmt: skip

    # Sweden, VA invoice 5002: an avstängningsvarsel (NoticeSent with carry_out_by), the water shut off after
    # its deadline (ServiceSuspended with the taxa's 500 SEK visit fee).
    inv = {"creditor": gbg, "invoice": "5002"}
    app.issue_invoice(**inv, amount=Decimal("2400.00"), due=d(2025, 4, 30), claim_type="va", debtor_ref="G1",
                      on=d(2025, 4, 1), command_id="s-8", arose=d(2025, 3, 31))  # fmt: skip
    app.send_notice(**inv, notice="avstangningsvarsel", on=d(2025, 5, 5), deadline=d(2025, 5, 19), command_id="s-9")
    app.suspend_service(**inv, service="water", on=d(2025, 5, 26), command_id="s-10")

    # Issue 11: a bank file's import (BankFileOpened, BankFileBatchRegistered, BankFileImported) with one
    # payment by KID beyond the balance of 1006 (a PaymentRegistered from a file; its surplus reserved for a
    # refund: RefundRequested, ClaimRefundRequested) and one into suspense; that refund rejected
    # (RefundRejected, ClaimRefundCancelled), requested again by a caseworker, approved and paid out
    # (RefundApproved, RefundPaidOut, ClaimSurplusRefunded); the suspense payment's refund
    # rejected (RefundRejected, SuspenseRefundCancelled), requested again and paid (SuspenseRefundRequested,
    # SuspensePaymentRefunded).
    digest, kid_1006 = "ab" * 32, app.claim(oslo, "1006").kid
    bank_file = BankFile.open(
        id=bank_file_id(app.namespace, digest), on=d(2025, 9, 2), digest=digest, file_format="ocr", format_version="",
        accounts=["15035976237"], creditors=[oslo], currency="NOK", transactions=2, total=Decimal("1000.00"), size=640,
        imported_by="import",
    )  # fmt: skip
    with app.unit_of_work():
        for n, reference in enumerate((kid_1006, "77777777")):
            app.receive_bank_payment(
                creditor=oslo, reference=reference, structured=True, amount=Decimal("500.00"), ordered=d(2025, 9, 1),
                on=d(2025, 9, 2), transaction_id=f"ocr:1:{n}", file_digest=digest, file_format="ocr",
                refund_by="import",
            )  # fmt: skip
        bank_file.register_batch(
            on=d(2025, 9, 2), first=0, counts={"matched": 1, "unmatched": 1, "duplicates": 0},
            amounts={"matched": Decimal("500.00"), "unmatched": Decimal("500.00"), "duplicates": Decimal("0.00")},
            surplus=app.claim(oslo, "1006").account.surplus,
        )  # fmt: skip
        bank_file.complete_import(on=d(2025, 9, 2))
        app.save(bank_file)
    app.reject_refund(refund=refund_id(app.namespace, oslo, "ocr:1:0/refund"), by="lead", on=d(2025, 9, 3),
                      reason="the debtor asked to keep it for the next invoice", command_id="r-0")  # fmt: skip
    surplus_refund = app.request_refund(creditor=oslo, on=d(2025, 9, 3), command_id="r-00", by="caseworker",
                                        payee_key="transaction:ocr:1:0", invoice="1006")  # fmt: skip
    app.approve_refund(refund=surplus_refund, by="lead", on=d(2025, 9, 3), command_id="r-1")
    app.pay_out_refunds(refunds=[surplus_refund], message_id="PAIN-1", execution_date=d(2025, 9, 5), by="lead",
                        on=d(2025, 9, 4))  # fmt: skip
    first = app.request_refund(creditor=oslo, on=d(2025, 9, 3), command_id="r-2", by="caseworker",
                               payee_key="transaction:ocr:1:1", reference="77777777")  # fmt: skip
    app.reject_refund(refund=first, by="lead", reason="the payer has a new invoice coming", on=d(2025, 9, 4),
                      command_id="r-3")  # fmt: skip
    again = app.request_refund(creditor=oslo, on=d(2025, 9, 10), command_id="r-4", by="caseworker",
                               payee_key="transaction:ocr:1:1", reference="77777777")  # fmt: skip
    app.approve_refund(refund=again, by="lead", on=d(2025, 9, 10), command_id="r-5")
    app.pay_out_refunds(refunds=[again], message_id="PAIN-2", execution_date=d(2025, 9, 12), by="lead",
                        on=d(2025, 9, 11))  # fmt: skip


def sample_app() -> CollectionApp:
    """A fresh in-memory application with the sample commands run."""
    app = CollectionApp(IN_MEMORY, namespace=SAMPLE_NAMESPACE, salt=SAMPLE_SALT, office_secret=SAMPLE_SALT)
    run_sample_commands(app)
    return app


@cache
def _sample_log() -> tuple[tuple[int, DomainEvent], ...]:
    app = sample_app()
    log = []
    for notification in app.recorder.select_notifications(start=1, limit=1000):
        event = cast(DomainEvent, app.mapper.to_domain_event(notification))
        log.append((notification.id, _repeatable(event, notification.id)))
    return tuple(log)


def _repeatable(event: Any, position: int) -> DomainEvent:
    changes: dict[str, Any] = {
        "timestamp": datetime.combine(event.recorded, time(12), UTC) + timedelta(seconds=position),
    }
    if hasattr(event, "rule_version"):
        changes["rule_version"] = event.rule_version.split("-", 1)[0] + "-sample"
    return cast(DomainEvent, dataclasses.replace(event, **changes))


def sample_log() -> list[tuple[int, DomainEvent]]:
    """Every event of the sample run as ``(notification position, domain event)``, in log order."""
    return list(_sample_log())


def sample_events() -> dict[str, DomainEvent]:
    """The first event of each stored type in the sample run, by schema name."""
    return {name: event for name, (_, event) in sample_positions().items()}


def sample_positions() -> dict[str, tuple[int, DomainEvent]]:
    """Like ``sample_events``, with each event's notification position."""
    first: dict[str, tuple[int, DomainEvent]] = {}
    for position, event in _sample_log():
        event_type = event_type_of(event)
        name = event_type.name if event_type is not None else type(event).__qualname__
        first.setdefault(name, (position, event))
    return first
