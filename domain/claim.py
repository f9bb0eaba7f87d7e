"""The claim (krav/fordran): one municipal invoice and everything that happens to it — the case.

Each command checks the rules, then records the *result* in a past-tense event (fee, deadline,
interest accrued, allocation, limitation date, rule version), so replaying the events never
re-evaluates today's rules. Every event carries the command id (idempotency), the date the fact
took effect and the date it was recorded (the business clock). After each command the
good-collection-practice audit runs over the trail; costs it finds unrecoverable are recorded as
``CostsWaived`` in the same save.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, CanMutateAggregate

from domain.account import COMPONENTS, Account
from domain.audit import AuditResult, audit
from domain.errors import CommandRefused, ErrorCode, Refusals, invalid
from domain.inputs import (
    check_complaint_outcome,
    check_deferral,
    check_installments,
    check_judgment_dates,
    check_notice,
    check_payment,
    check_reason,
    check_received,
    check_service,
    check_write_off,
    objection_outcome,
    require_amount,
)
from domain.money import ZERO
from domain.records import (
    ClaimFacts,
    ComplaintRecord,
    CostItem,
    DebtorKind,
    DeferralRecord,
    EnforcementRecord,
    Installment,
    Interruption,
    Jurisdiction,
    NoticeRecord,
    ObjectionOutcome,
    ObjectionRecord,
    PaymentPlanRecord,
    PaymentRecord,
    Stage,
    Status,
    SuspensionRecord,
)
from domain.rules import Rules
from domain.rules.base import EnforcementDecision, LimitationStep, NoticeDecision
from domain.settlement import Cursor, MoneyEntry, Settled, settle

CLAIM_NAMESPACE = uuid5(NAMESPACE_URL, "https://kravsak.no/claim")
_YEAR_AND_A_DAY = timedelta(days=366)


def accrued_interest(
    rules: Rules,
    principal_outstanding: Decimal,
    interest_exact: Decimal,
    interest_through: date,
    closed_on: date | None,
    day: date,
) -> tuple[Decimal, tuple[str, ...]]:
    """Interest recorded through ``interest_through`` plus what accrued since, through ``day`` (or the
    day the claim closed) — exact; read models use the same function as the aggregate."""
    end = min(day, closed_on) if closed_on else day
    pieces, warnings = rules.interest(principal_outstanding, interest_through + timedelta(days=1), end)
    return interest_exact + sum((p.amount for p in pieces), ZERO), warnings


def claim_status(*, written_off: bool, settled: bool, limitation_date: date, day: date) -> Status:
    if written_off:
        return Status.WRITTEN_OFF
    if settled:
        return Status.PAID
    if day > limitation_date:
        return Status.TIME_BARRED
    return Status.OPEN


THREATS = frozenset({"avstangningsvarsel"})  # notices that announce a service will be stopped


def check_arose(arose: date, due: date, on: date) -> None:
    """``arose``: the day the claim came into being (the service period's end); within the ten years
    before the invoice and no later than a year after its due date."""
    if arose < on - timedelta(days=3650) or arose > due + timedelta(days=366):
        raise invalid("arose", f"{arose} must lie within ten years before {on} and at most a year after the due date")


def estate_status(
    *, died: date | None, reported: date | None, deadline: date | None, lien_secured: bool, day: date
) -> str | None:
    """Where a claim stands towards a deceased debtor's estate on ``day``."""
    if died is None:
        return None
    if reported is not None:
        return "reported"
    if deadline is None or day <= deadline:
        return "to_report"
    return "lien_survives" if lien_secured else "precluded"


@lru_cache(maxsize=65_536)  # a bank file asks for the same ids again and again; uuid5 hashes
def claim_id(namespace: UUID, creditor_id: str, invoice: str) -> UUID:
    """Natural key: a creditor's invoice number names one claim. (Cached: a command asks for it several
    times — preload, the command, the result; a UUID is immutable.)"""
    return uuid5(namespace, f"claim:{creditor_id}:{invoice}")


class Claim(Aggregate):
    """A claim and its collection case."""

    # --- events --------------------------------------------------------------------------------

    class Invoiced(Aggregate.Created):
        command_id: str
        effective: date
        recorded: date
        rule_version: str
        creditor_id: str
        debtor_id: str
        invoice: str
        jurisdiction: str
        currency: str
        claim_type: str
        debtor_kind: str
        amount: Decimal
        due: date
        effective_due: date
        lien_secured: bool
        kid: str
        channel: str
        channel_reason: str
        limitation_date: date
        limitation_years: int
        limitation_basis: str
        arose: date | None  # version 2: the day the claim came into being (None in version 1 events: = due)

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["arose"] = None

        def apply(self, claim: Claim) -> None:
            claim.creditor_id, claim.debtor_id, claim.invoice = self.creditor_id, self.debtor_id, self.invoice
            claim.jurisdiction, claim.currency = Jurisdiction(self.jurisdiction), self.currency
            claim.claim_type, claim.lien_secured, claim.kid = self.claim_type, self.lien_secured, self.kid
            claim.invoice_channel = self.channel
            claim.account = Account(principal=self.amount, interest_through=self.effective_due)
            claim.stage, claim.issued_on = Stage.INVOICED, self.effective
            claim.facts = ClaimFacts(
                self.invoice,
                claim.jurisdiction,
                self.claim_type,
                DebtorKind(self.debtor_kind),
                self.amount,
                self.due,
                self.effective_due,
                initial_limitation_date=self.limitation_date,
                limitation_date=self.limitation_date,
                arose=self.arose or self.due,
            )
            claim.limitation_years = self.limitation_years
            claim.cost_items, claim.waived = {}, {}
            claim.commands = {self.command_id}
            claim.closed_on, claim.write_off_reason, claim.written_off_amount = None, None, ZERO
            claim.estate_deadline, claim.reported_to_estate = None, None
            claim.principal_forgiven, claim.written_down_in_accounts = ZERO, ZERO
            claim.plan_breached = False
            claim.surplus_refunded, claim.refunds_reserved = ZERO, {}

    class Event(Aggregate.Event):
        command_id: str
        effective: date
        recorded: date
        rule_version: str

        def apply(self, claim: Claim) -> None:
            claim.commands.add(self.command_id)
            self.apply_to(claim)

        def apply_to(self, claim: Claim) -> None:
            raise NotImplementedError

    class InterestAccruing(Event):
        """Base for events that re-settle the money: the interest through a date and the rates used
        (recorded, never recomputed)."""

        interest_accrued: Decimal
        interest_through: date
        interest_rates: list[str]

        def apply(self, claim: Claim) -> None:
            claim.account.interest_exact = self.interest_accrued
            claim.account.interest_through = self.interest_through
            super().apply(claim)

    class CreditNoteIssued(InterestAccruing):
        amount: Decimal
        reason: str
        paid_after: dict[str, Decimal]

        def apply_to(self, claim: Claim) -> None:
            claim.account.principal -= self.amount
            claim.facts.principal = claim.account.principal
            claim.account.set_paid(self.paid_after)
            claim._close_if_settled(self.effective)

    class PaymentRegistered(InterestAccruing):
        amount: Decimal
        ordered: date
        designation: str
        allocation: dict[str, Decimal]
        paid_after: dict[str, Decimal]
        # version 2: how the money found the claim — "invoice", "reference" (its KID / OCR reference) or
        # "suspense" (placed by a caseworker); reference: the payer's KID / OCR reference. None in version 1.
        source: str | None
        reference: str | None
        # version 3: where a bank file's money came from — the file's SHA-256, its format (ocr, camt054,
        # bgmax) and the bank's transaction id (the command id). None for money not from a bank file.
        file_digest: str | None
        file_format: str | None
        transaction: str | None

        class_version = 3

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["source"] = state["reference"] = None

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["file_digest"] = state["file_format"] = state["transaction"] = None

        def apply_to(self, claim: Claim) -> None:
            claim.account.set_paid(self.paid_after)
            claim.facts.payments.append(
                PaymentRecord(
                    self.originator_version,
                    self.command_id,
                    self.amount,
                    self.ordered,
                    self.recorded,
                    self.recorded,
                    self.designation or None,
                )
            )
            claim._close_if_settled(self.effective)

    class NoticeSent(Event):
        notice: str
        deadline: date
        fee: Decimal
        fee_reason: str
        channel: str
        channel_reason: str
        legal_basis: str
        stage: str
        warnings: list[str]
        letter_invoices: list[str] | None  # version 2: every invoice one combined letter covered (None: one claim)
        carry_out_by: date | None  # version 2: a threatened shut-off is carried out by this day (creditor's window)

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["letter_invoices"] = state["carry_out_by"] = None

        def apply_to(self, claim: Claim) -> None:
            claim.facts.notices.append(
                NoticeRecord(
                    self.originator_version,
                    self.command_id,
                    self.notice,
                    self.effective,
                    self.recorded,
                    self.deadline,
                    self.fee,
                    self.fee_reason,
                    self.channel,
                    self.carry_out_by,
                    tuple(self.letter_invoices) if self.letter_invoices else None,
                )
            )
            claim._add_cost(self.command_id, "fee", self.fee)
            claim.stage = max(claim.stage, Stage(self.stage), key=lambda s: s.rank)

    class EnforcementRequested(Event):
        route: str
        cost: Decimal
        cost_basis: str
        legal_basis: str
        stage: str
        warnings: list[str]
        request_invoices: list[str] | None  # version 2: every invoice one combined request covered (None: one)

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["request_invoices"] = None

        def apply_to(self, claim: Claim) -> None:
            claim.facts.enforcements.append(
                EnforcementRecord(
                    self.originator_version,
                    self.command_id,
                    self.route,
                    self.effective,
                    self.recorded,
                    self.cost,
                    tuple(self.request_invoices) if self.request_invoices else None,
                )
            )
            claim._add_cost(self.command_id, "cost", self.cost)
            claim.stage = max(claim.stage, Stage(self.stage), key=lambda s: s.rank)

    class ServiceSuspended(Event):
        """Sweden: the water supply shut off (vattentjänstlagen 43 §) or a childcare place ended for
        non-payment; ``cost``: the creditor's taxa fee for the shut-off visit, a cost of the claim."""

        service: str
        cost: Decimal
        cost_basis: str
        legal_basis: str

        def apply_to(self, claim: Claim) -> None:
            claim.facts.suspensions.append(
                SuspensionRecord(
                    self.originator_version, self.command_id, self.service, self.effective, self.recorded, self.cost
                )
            )
            claim._add_cost(self.command_id, "cost", self.cost)

    class LimitationInterrupted(Event):
        ground: str
        legal_basis: str
        years: int
        limitation_date: date

        def apply_to(self, claim: Claim) -> None:
            claim.facts.interruptions.append(
                Interruption(self.effective, self.ground, self.legal_basis, self.years, self.limitation_date)
            )
            claim.facts.limitation_date = self.limitation_date
            claim.limitation_years = self.years

    class ObjectionRegistered(Event):
        text: str

        def apply_to(self, claim: Claim) -> None:
            claim.facts.objections.append(ObjectionRecord(self.command_id, self.effective, self.recorded, self.text))

    class ObjectionResolved(Event):
        outcome: str

        def apply_to(self, claim: Claim) -> None:
            for o in claim.facts.objections:
                if o.outcome is None:
                    o.outcome, o.resolved_on = ObjectionOutcome(self.outcome), self.effective

    class DeferralGranted(Event):
        until: date
        requested_by_debtor: bool

        def apply_to(self, claim: Claim) -> None:
            claim.facts.deferrals.append(
                DeferralRecord(self.command_id, self.effective, self.until, self.requested_by_debtor)
            )

    class PaymentPlanAgreed(Event):
        installments: list[dict[str, Any]]
        paid_before: Decimal

        def apply_to(self, claim: Claim) -> None:
            plan = tuple(
                Installment(date.fromisoformat(str(i["due"])), Decimal(str(i["amount"]))) for i in self.installments
            )
            claim.facts.plans.append(PaymentPlanRecord(self.command_id, self.effective, plan, self.paid_before))
            claim.plan_breached = False

    class PaymentPlanBreached(Event):
        missed_due: date
        shortfall: Decimal

        def apply_to(self, claim: Claim) -> None:
            claim.plan_breached = True

    class JudgmentRegistered(Event):
        served: date | None  # version 2: the day it was served (None in version 1 events: = decided)

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["served"] = None

        def apply_to(self, claim: Claim) -> None:
            claim.facts.judgment_on = self.effective
            claim.facts.judgment_served = self.served or self.effective
            claim.stage = Stage.JUDGMENT

    class ReinstatementApplied(Event):
        """Sweden: återvinning — the utslag is set aside and the case goes to the district court."""

        def apply_to(self, claim: Claim) -> None:
            claim.facts.judgment_on = claim.facts.judgment_served = None
            claim.facts.objections.append(
                ObjectionRecord(
                    self.command_id,
                    self.effective,
                    self.recorded,
                    "återvinning",
                    ObjectionOutcome.MAINTAINED,
                    self.effective,
                )
            )
            claim.stage = Stage.ENFORCEMENT

    class DebtorDeathNoted(Event):
        died: date

        def apply_to(self, claim: Claim) -> None:
            claim.facts.died, claim.facts.died_recorded = self.died, self.recorded

    class EstateDeadlineNoted(Event):
        published: date
        report_deadline: date

        def apply_to(self, claim: Claim) -> None:
            claim.estate_deadline = self.report_deadline

    class ReportedToEstate(Event):
        def apply_to(self, claim: Claim) -> None:
            claim.reported_to_estate = self.effective

    class CostsWaived(InterestAccruing):
        items: list[dict[str, Any]]
        fees: Decimal
        costs: Decimal
        paid_after: dict[str, Decimal]

        def apply_to(self, claim: Claim) -> None:
            for item in self.items:
                claim.waived[str(item["command_id"])] = str(item["reason"])
            claim.account.fees -= self.fees
            claim.account.costs -= self.costs
            claim.account.set_paid(self.paid_after)
            claim._close_if_settled(self.effective)

    class WrittenDown(InterestAccruing):
        """Part of the principal given up from this day (ettergivelse / nedskrivning)."""

        amount: Decimal
        reason: str
        paid_after: dict[str, Decimal]

        def apply_to(self, claim: Claim) -> None:
            claim.account.principal -= self.amount
            claim.facts.principal = claim.account.principal
            claim.facts.reductions.append((self.effective, self.originator_version, self.amount))
            claim.principal_forgiven += self.amount
            claim.account.set_paid(self.paid_after)
            claim._close_if_settled(self.effective)

    class DuePostponed(InterestAccruing):
        """Uppskov: the due date of an unclear invoice moved; interest and every deadline count from the new
        one, so the money is re-settled from it. The limitation date (from ``arose``) does not move."""

        previous_due: date
        due: date
        effective_due: date
        paid_after: dict[str, Decimal]

        def apply_to(self, claim: Claim) -> None:
            claim.facts.postponed_from = claim.facts.postponed_from or self.previous_due
            claim.facts.due, claim.facts.effective_due = self.due, self.effective_due
            claim.account.set_paid(self.paid_after)

    class WrittenDownInAccounts(Event):
        """Nedskrivning in the creditor's accounts: the debtor still owes the balance, the claim stays open
        under long-term monitoring (långtidsbevakning)."""

        amount: Decimal
        balance: Decimal
        reason: str

        def apply_to(self, claim: Claim) -> None:
            claim.written_down_in_accounts = self.amount
            claim.facts.written_down_on = self.effective

    class WrittenOff(InterestAccruing):
        reason: str
        amount: Decimal

        def apply_to(self, claim: Claim) -> None:
            claim.write_off_reason, claim.written_off_amount = self.reason, self.amount
            claim.closed_on = self.effective
            claim.facts.closed_on = claim.facts.closed_on or self.effective

    class ComplaintFiled(Event):
        def apply_to(self, claim: Claim) -> None:
            claim.facts.complaints.append(ComplaintRecord(self.command_id, self.effective))

    class ComplaintDecided(Event):
        outcome: str

        def apply_to(self, claim: Claim) -> None:
            claim.facts.complaints = [
                ComplaintRecord(c.command_id, c.received, self.outcome, self.effective) if c.outcome is None else c
                for c in claim.facts.complaints
            ]

    class RefundRequested(Event):
        """Part of the surplus is reserved for a refund (``domain.refunds``): it cannot be requested twice."""

        refund_id: UUID
        amount: Decimal

        def apply_to(self, claim: Claim) -> None:
            claim.refunds_reserved[str(self.refund_id)] = self.amount

    class RefundCancelled(Event):
        """A refund of the surplus was rejected: its money is again the claim's surplus to refund."""

        refund_id: UUID
        amount: Decimal

        def apply_to(self, claim: Claim) -> None:
            claim.refunds_reserved.pop(str(self.refund_id), None)

    class SurplusRefunded(Event):
        """The surplus (or part of it) was paid back to the payer: money out of the office's account."""

        refund_id: UUID
        amount: Decimal
        message_id: str

        def apply_to(self, claim: Claim) -> None:
            claim.refunds_reserved.pop(str(self.refund_id), None)
            claim.surplus_refunded += self.amount

    # --- state (set by Invoiced.apply) -----------------------------------------------------

    creditor_id: str
    debtor_id: str
    invoice: str
    jurisdiction: Jurisdiction
    currency: str
    claim_type: str
    lien_secured: bool
    kid: str
    invoice_channel: str
    account: Account
    stage: Stage
    issued_on: date
    facts: ClaimFacts
    limitation_years: int
    cost_items: dict[str, CostItem]
    waived: dict[str, str]
    commands: set[str]
    closed_on: date | None
    write_off_reason: str | None
    written_off_amount: Decimal
    principal_forgiven: Decimal  # ettergivelse: principal given up (WrittenDown)
    written_down_in_accounts: Decimal  # nedskrivning in the creditor's accounts (WrittenDownInAccounts)
    estate_deadline: date | None
    reported_to_estate: date | None
    plan_breached: bool
    surplus_refunded: Decimal  # surplus paid back (SurplusRefunded)
    refunds_reserved: dict[str, Decimal]  # refund id -> surplus reserved for a refund not yet paid out

    def __init__(self) -> None:
        """State is set by ``Invoiced.apply``."""

    # --- creation ------------------------------------------------------------------------------

    @classmethod
    def issue(
        cls,
        *,
        id: UUID,
        command_id: str,
        on: date,
        rules: Rules,
        creditor_id: str,
        debtor_id: str,
        invoice: str,
        amount: Decimal,
        due: date,
        claim_type: str,
        debtor_kind: DebtorKind,
        kid: str,
        channel: str,
        channel_reason: str,
        arose: date | None = None,
    ) -> Claim:
        require_amount("amount", amount)
        if claim_type not in rules.claim_types:
            raise invalid(
                "claim_type",
                f"'{claim_type}' is not a {rules.jurisdiction} claim type ({', '.join(sorted(rules.claim_types))})",
            )
        if due < on - timedelta(days=3650):
            raise invalid("due", f"{due} lies more than ten years before the invoice date {on}")
        arose = due if arose is None else arose
        check_arose(arose, due, on)
        period = rules.initial_limitation(debtor_kind, claim_type, due)
        claim = cls._create(
            cls.Invoiced,
            id=id,
            command_id=command_id,
            effective=on,
            recorded=on,
            rule_version=rules.version,
            creditor_id=creditor_id,
            debtor_id=debtor_id,
            invoice=invoice,
            jurisdiction=rules.jurisdiction.value,
            currency=rules.currency,
            claim_type=claim_type,
            debtor_kind=debtor_kind.value,
            amount=amount,
            due=due,
            effective_due=rules.effective_due(due),
            lien_secured=claim_type in rules.lien_claim_types,
            kid=kid,
            channel=channel,
            channel_reason=channel_reason,
            limitation_date=rules.period_end(rules.limitation_start(due, arose), period.years),
            limitation_years=period.years,
            limitation_basis=period.legal_basis,
            arose=arose,
        )
        return claim

    # --- queries -------------------------------------------------------------------------------

    @property
    def due(self) -> date:
        return self.facts.due

    @property
    def effective_due(self) -> date:
        return self.facts.effective_due

    @property
    def limitation_date(self) -> date:
        assert self.facts.limitation_date is not None
        return self.facts.limitation_date

    @property
    def disputed(self) -> bool:
        return any(o.outcome in (None, ObjectionOutcome.MAINTAINED) for o in self.facts.objections)

    @property
    def objection_pending(self) -> bool:
        return any(o.outcome is None for o in self.facts.objections)

    def interest_exact_on(self, day: date, rules: Rules) -> tuple[Decimal, tuple[str, ...]]:
        """Accrued interest through ``day`` (or through the day the claim closed), unrounded."""
        acc = self.account
        assert acc.interest_through is not None
        return accrued_interest(
            rules, acc.principal_outstanding, acc.interest_exact, acc.interest_through, self.closed_on, day
        )

    @property
    def surplus_to_refund(self) -> Decimal:
        """Surplus neither paid back nor reserved for a refund already requested."""
        return self.account.surplus - self.surplus_refunded - sum(self.refunds_reserved.values(), ZERO)

    def status_on(self, day: date, rules: Rules) -> Status:
        return claim_status(
            written_off=self.write_off_reason is not None,
            settled=self.closed_on is not None and self.account.balance() == 0,
            limitation_date=self.limitation_date,
            day=day,
        )

    def audit(self) -> AuditResult:
        return audit(self.facts)

    # --- command checks ------------------------------------------------------------------------

    def _check_open(self, on: date, died: date | None, *, collection: bool, monitoring_ok: bool = True) -> None:
        """The generic refusals, in the contract's order (closed, written down, time-barred, deceased, not due).
        ``monitoring_ok``: the step is one long-term monitoring of a written-down claim still allows."""
        if self.write_off_reason is not None or (self.closed_on is not None and self.account.balance() == 0):
            raise CommandRefused(
                ErrorCode.CLAIM_CLOSED,
                f"invoice {self.invoice} is {'written off' if self.write_off_reason else 'paid'}",
            )
        if not monitoring_ok and self.facts.written_down_on is not None:
            raise CommandRefused(
                ErrorCode.CLAIM_WRITTEN_DOWN,
                f"invoice {self.invoice} was written down on {self.facts.written_down_on} and is under long-term "
                "monitoring: only steps that interrupt limitation, and payments, remain",
            )
        if collection and on > self.limitation_date:
            raise CommandRefused(
                ErrorCode.TIME_BARRED,
                f"invoice {self.invoice} became time-barred after "
                f"{self.limitation_date}; no collection step may be taken",
            )
        if collection and died is not None and died <= on:
            raise CommandRefused(
                ErrorCode.DEBTOR_DECEASED,
                f"the debtor died {died}: no notices or enforcement to the deceased; report the claim to the estate",
            )
        if collection and on <= self.effective_due:
            raise CommandRefused(
                ErrorCode.NOT_DUE,
                f"invoice {self.invoice} falls due {self.effective_due}; "
                "collection steps may be taken only after the due date",
            )

    def _check_collection(
        self, on: date, died: date | None, *, court_route: bool = False, monitoring_ok: bool = False
    ) -> Refusals:
        self._check_open(on, died, collection=True, monitoring_ok=monitoring_ok)
        if self.objection_pending:
            raise CommandRefused(
                ErrorCode.OBJECTION_PENDING,
                "an objection is pending: out-of-court collection "
                "pauses until it is resolved (inkassoloven § 17, god inkassoskikk)",
            )
        if self.disputed and not court_route:
            raise CommandRefused(
                ErrorCode.CLAIM_DISPUTED,
                "the objection was maintained: the claim is disputed and only the court route remains",
            )
        refusals = Refusals()
        for d in self.facts.deferrals:
            if d.granted_on <= on <= d.until:
                refusals.add(ErrorCode.DEADLINE_NOT_EXPIRED, f"a deferral was granted until {d.until}")
        plan = self.facts.plans[-1] if self.facts.plans else None
        if (
            plan is not None
            and not self.plan_breached
            and self._plan_shortfall(plan, on)[0] is None
            and on <= plan.installments[-1].due
        ):
            refusals.add(
                ErrorCode.DEADLINE_NOT_EXPIRED,
                "the payment plan is kept: next instalment due "
                f"{next(i.due for i in plan.installments if i.due >= on)}",
            )
        return refusals

    def _plan_shortfall(self, plan: PaymentPlanRecord, on: date) -> tuple[date | None, Decimal]:
        """The first instalment missed by ``on`` (its due date passed with too little paid)."""
        paid_since = sum((p.amount for p in self.facts.payments), ZERO) - plan.paid_before
        cumulative = ZERO
        for inst in plan.installments:
            cumulative += inst.amount
            if inst.due < on and paid_since < cumulative:
                return inst.due, cumulative - paid_since
        return None, ZERO

    # --- commands ------------------------------------------------------------------------------

    def credit(self, *, command_id: str, on: date, amount: Decimal, reason: str, rules: Rules) -> None:
        """A credit note: the credited part was never owed, so it is taken out from the start and
        the claim re-settled; money already paid beyond what remains becomes a surplus."""
        require_amount("amount", amount)
        if self.write_off_reason is not None:
            raise CommandRefused(ErrorCode.CLAIM_CLOSED, f"invoice {self.invoice} is written off")
        if amount > self.account.principal:
            raise invalid("amount", f"the credit note {amount} exceeds the principal {self.account.principal}")
        settled = self._settle(rules, max(on, self._through), principal=self.account.principal - amount)
        self._trigger_settled(
            self.CreditNoteIssued,
            command_id,
            settled,
            rules,
            effective=on,
            recorded=on,
            amount=amount,
            reason=reason,
            paid_after=settled.paid_after(),
        )
        self._after(command_id, on, rules)

    def pay(
        self,
        *,
        command_id: str,
        on: date,
        amount: Decimal,
        ordered: date,
        designation: str | None,
        rules: Rules,
        source: str = "invoice",
        reference: str | None = None,
        bank_file: tuple[str, str, str] | None = None,
    ) -> None:
        """Money received, settled as of the day the payer's bank got the order. ``bank_file``: the file's
        digest, its format and the transaction id, when the money came in a bank file."""
        check_payment(amount, ordered, on, designation)
        if ordered < self.issued_on - _YEAR_AND_A_DAY:
            raise invalid("ordered", f"the payment order date {ordered} lies long before the invoice {self.issued_on}")
        payment = MoneyEntry(ordered, self.version + 1, "payment", amount, designation)
        settled = self._settle_after(rules, max(ordered, self._through), payment)
        before = self.account.paid_after()
        after = settled.paid_after()
        file_digest, file_format, transaction = bank_file or (None, None, None)
        self.trigger_event(  # _trigger_settled's fields, given at once (a bank file's every transaction)
            self.PaymentRegistered,
            command_id=command_id,
            rule_version=rules.version,
            interest_accrued=settled.interest_exact,
            interest_through=settled.interest_through,
            interest_rates=settled.rates,
            effective=ordered,
            recorded=on,
            amount=amount,
            ordered=ordered,
            designation=designation or "",
            allocation={k: after[k] - before[k] for k in after},
            paid_after=after,
            source=source,
            reference=reference,
            file_digest=file_digest,
            file_format=file_format,
            transaction=transaction,
        )
        if settled.cursor is not None:
            self._settlement_cursor = (self._money_inputs(rules), settled.cursor)
        step = rules.acknowledgement("payment", self.limitation_years, ordered)
        if step is not None:
            self._interrupt(command_id, ordered, on, step, rules)
        self._after(command_id, on, rules)

    def send_notice(
        self,
        *,
        command_id: str,
        on: date,
        notice: str,
        deadline: date | None,
        died: date | None,
        channel: str,
        channel_reason: str,
        fees_enabled: bool,
        reminder_fee_agreed: bool,
        rules: Rules,
        letter: list[str] | None = None,
        letter_fee_on: str | None = None,
        carry_out_within_days: int | None = None,
        monitoring: bool = False,
    ) -> None:
        """A notice; ``letter``: the invoices of one combined letter, ``letter_fee_on``: the invoice that
        letter's one fee is already charged on (this claim then charges none). ``monitoring``: the step
        long-term monitoring takes to interrupt limitation (its ground says so)."""
        self._require_monitored(monitoring)
        decision = self.decide_notice(
            on=on,
            notice=notice,
            deadline=deadline,
            died=died,
            fees_enabled=fees_enabled,
            reminder_fee_agreed=reminder_fee_agreed,
            rules=rules,
        )
        if letter_fee_on is not None and decision.fee > 0:
            decision = dataclasses.replace(
                decision,
                fee=ZERO,
                fee_reason=f"one fee per combined letter, charged on invoice {letter_fee_on} "
                "(inkassoloven § 17: only necessary costs; SE: one inkassokrav, RH 2022:7)",
            )
        self.trigger_event(
            self.NoticeSent,
            command_id=command_id,
            effective=on,
            recorded=on,
            rule_version=rules.version,
            notice=notice,
            deadline=decision.deadline,
            fee=decision.fee,
            fee_reason=decision.fee_reason,
            channel=channel,
            channel_reason=channel_reason,
            legal_basis=decision.legal_basis,
            stage=(decision.stage or self.stage).value,
            warnings=list(decision.warnings),
            letter_invoices=letter,
            carry_out_by=(
                max(self.effective_due + timedelta(days=carry_out_within_days), decision.deadline)
                if notice in THREATS and carry_out_within_days is not None
                else None
            ),
        )
        if decision.interrupts_limitation:
            ground, basis = self._interruption_ground(f"written_demand:{notice}", decision.legal_basis, monitoring)
            self._interrupt(command_id, on, on, LimitationStep(ground, basis, self.limitation_years), rules)
        self._after(command_id, on, rules)

    def decide_notice(
        self,
        *,
        on: date,
        notice: str,
        deadline: date | None,
        died: date | None,
        fees_enabled: bool,
        reminder_fee_agreed: bool,
        rules: Rules,
    ) -> NoticeDecision:
        """Whether the notice may go on ``on`` (``CommandRefused`` with the contract's first code if not) and
        what it carries on its own: the checks of ``send_notice``, recording nothing."""
        check_notice(rules, notice, deadline, on)
        refusals = self._check_collection(on, died, monitoring_ok=notice in rules.monitoring_notices)
        try:
            decision = rules.decide_notice(self.facts, notice, on, deadline, fees_enabled, reminder_fee_agreed)
        except CommandRefused as refused:
            refusals.add(refused.code, refused.message)
        refusals.raise_first()
        return decision

    def request_enforcement(
        self,
        *,
        command_id: str,
        on: date,
        route: str,
        died: date | None,
        rules: Rules,
        request: list[str] | None = None,
        cost_on: str | None = None,
        monitoring: bool = False,
    ) -> None:
        """An enforcement or court step; ``request``: the invoices of one combined request, ``cost_on``: the
        invoice that request's one court or enforcement fee is already charged on (this claim then bears none).
        ``monitoring``: the step long-term monitoring takes to interrupt limitation (its ground says so)."""
        self._require_monitored(monitoring)
        decision = self.decide_enforcement(on=on, route=route, died=died, rules=rules)
        if cost_on is not None and decision.cost > 0:
            decision = dataclasses.replace(
                decision,
                cost=ZERO,
                cost_basis=f"one fee per combined request, charged on invoice {cost_on} (rettsgebyrloven §§ 7, 14: "
                "per case / per begjæring; SE: one ansökan may hold every claim against the debtor, HD 2017)",
            )
        self.trigger_event(
            self.EnforcementRequested,
            command_id=command_id,
            effective=on,
            recorded=on,
            rule_version=rules.version,
            route=route,
            cost=decision.cost,
            cost_basis=decision.cost_basis,
            legal_basis=decision.legal_basis,
            stage=decision.stage.value,
            warnings=list(decision.warnings),
            request_invoices=request,
        )
        ground, basis = self._interruption_ground(f"enforcement:{route}", decision.legal_basis, monitoring)
        self._interrupt(command_id, on, on, LimitationStep(ground, basis, decision.limitation_years), rules)
        self._after(command_id, on, rules)

    def decide_enforcement(self, *, on: date, route: str, died: date | None, rules: Rules) -> EnforcementDecision:
        """Whether the enforcement or court step may be requested on ``on`` (``CommandRefused`` if not) and what
        it costs on its own: the checks of ``request_enforcement``, recording nothing."""
        # every enforcement and court step interrupts limitation: long-term monitoring may take it
        refusals = self._check_collection(
            on, died, court_route=route in rules.court_routes_when_disputed, monitoring_ok=True
        )
        if route not in rules.routes:
            raise CommandRefused(
                ErrorCode.ROUTE_NOT_AVAILABLE,
                f"'{route}' is not a {rules.jurisdiction} route ({', '.join(sorted(rules.routes))})",
            )
        try:
            decision = rules.decide_enforcement(self.facts, route, on)
        except CommandRefused as refused:
            refusals.add(refused.code, refused.message)
        refusals.raise_first()
        return decision

    def _require_monitored(self, monitoring: bool) -> None:
        if monitoring and self.facts.written_down_on is None:
            raise invalid("monitoring", f"invoice {self.invoice} is not written down: no long-term monitoring")

    def _interruption_ground(self, ground: str, legal_basis: str, monitoring: bool) -> tuple[str, str]:
        """The ground and legal basis an interruption records; a long-term monitoring step says that it is one."""
        if not monitoring:
            return ground, legal_basis
        return (
            f"long_term_monitoring:{ground.split(':', 1)[-1]}",
            f"{legal_basis}; long-term monitoring of the claim written down on {self.facts.written_down_on}, "
            f"taken before the limitation date {self.limitation_date}",
        )

    def register_objection(self, *, command_id: str, on: date, received: date, text: str, rules: Rules) -> None:
        check_received("objection", received, on)
        self._check_open(on, None, collection=False)
        if self.objection_pending:
            raise CommandRefused(ErrorCode.OBJECTION_PENDING, "an objection is already pending on this claim")
        self.trigger_event(
            self.ObjectionRegistered,
            command_id=command_id,
            effective=received,
            recorded=on,
            rule_version=rules.version,
            text=text,
        )
        self._after(command_id, on, rules)

    def resolve_objection(
        self, *, command_id: str, on: date, outcome: str, amount: Decimal | None, rules: Rules
    ) -> None:
        result = objection_outcome(outcome, amount)
        if self.write_off_reason is not None:
            raise CommandRefused(ErrorCode.CLAIM_CLOSED, f"invoice {self.invoice} is written off")
        if not self.objection_pending:
            raise CommandRefused(ErrorCode.MISSING_PREREQUISITE, "there is no pending objection to resolve")
        if result == ObjectionOutcome.UPHELD and amount is not None:
            if amount > self.account.principal:
                raise invalid("amount", f"the amount {amount} exceeds the principal {self.account.principal}")
        self.trigger_event(
            self.ObjectionResolved,
            command_id=command_id,
            effective=on,
            recorded=on,
            rule_version=rules.version,
            outcome=result.value,
        )
        if result == ObjectionOutcome.UPHELD:
            credited = self.account.principal if amount is None else amount
            if credited > 0:
                self.credit(command_id=command_id, on=on, amount=credited, reason="objection upheld", rules=rules)
                return
        self._after(command_id, on, rules)

    def grant_deferral(
        self,
        *,
        command_id: str,
        on: date,
        until: date,
        requested_by_debtor: bool,
        rules: Rules,
        refused_after_due: bool = False,
    ) -> None:
        """A deferral (NO betalingsutsettelse, SE anstånd). ``refused_after_due``: the creditor's guidelines
        grant none asked for after the due date (Svenljunga's)."""
        check_deferral(until, on)
        self._check_open(on, None, collection=False)
        if refused_after_due and requested_by_debtor and on > self.effective_due:
            raise CommandRefused(
                ErrorCode.ROUTE_NOT_AVAILABLE,
                f"the creditor's guidelines grant no deferral asked for after the due date {self.effective_due}",
            )
        self.trigger_event(
            self.DeferralGranted,
            command_id=command_id,
            effective=on,
            recorded=on,
            rule_version=rules.version,
            until=until,
            requested_by_debtor=requested_by_debtor,
        )
        if requested_by_debtor:
            step = rules.acknowledgement("deferral_requested", self.limitation_years, on)
            if step is not None:
                self._interrupt(command_id, on, on, step, rules)
        self._after(command_id, on, rules)

    def agree_payment_plan(self, *, command_id: str, on: date, installments: list[Installment], rules: Rules) -> None:
        check_installments(installments, on)
        self._check_open(on, None, collection=False)
        self.trigger_event(
            self.PaymentPlanAgreed,
            command_id=command_id,
            effective=on,
            recorded=on,
            rule_version=rules.version,
            paid_before=self.account.total_paid,
            installments=[{"due": i.due.isoformat(), "amount": str(i.amount)} for i in installments],
        )
        step = rules.acknowledgement("payment_plan", self.limitation_years, on)
        if step is not None:
            self._interrupt(command_id, on, on, step, rules)
        self._after(command_id, on, rules)

    def check_plan(self, *, command_id: str, on: date, rules: Rules) -> bool:
        """Record a breach when an instalment's due date passed unpaid; True if one was recorded."""
        if not self.facts.plans or self.plan_breached or self.closed_on is not None:
            return False
        missed, shortfall = self._plan_shortfall(self.facts.plans[-1], on)
        if missed is None:
            return False
        self.trigger_event(
            self.PaymentPlanBreached,
            command_id=command_id,
            effective=on,
            recorded=on,
            rule_version=rules.version,
            missed_due=missed,
            shortfall=shortfall,
        )
        return True

    def register_judgment(
        self, *, command_id: str, on: date, decided: date, rules: Rules, served: date | None = None
    ) -> None:
        check_judgment_dates(on, decided, served)
        self._check_open(on, None, collection=False)
        if decided > self.limitation_date:
            raise CommandRefused(ErrorCode.TIME_BARRED, f"the claim became time-barred after {self.limitation_date}")
        self.trigger_event(
            self.JudgmentRegistered,
            command_id=command_id,
            effective=decided,
            recorded=on,
            rule_version=rules.version,
            served=served or decided,
        )
        step = rules.judgment_limitation(decided, self.facts.debtor_kind)
        self._interrupt(command_id, decided, on, step, rules, replace=True)
        self._after(command_id, on, rules)

    def apply_reinstatement(self, *, command_id: str, on: date, rules: Rules) -> None:
        """Sweden: återvinning within one month of the utslag (lag 1990:746 44 §)."""
        if rules.jurisdiction != Jurisdiction.SE:
            raise CommandRefused(ErrorCode.ROUTE_NOT_AVAILABLE, "återvinning exists only in Swedish procedure")
        if self.facts.judgment_on is None:
            raise CommandRefused(ErrorCode.MISSING_PREREQUISITE, "återvinning needs an utslag")
        months = int(rules.params.value("atervinning_months", on))
        from domain.calendar import add_months

        last = add_months(self.facts.judgment_on, months)
        if on > last:
            raise invalid("on", f"återvinning must be applied for by {last}, one month after the utslag")
        self.trigger_event(
            self.ReinstatementApplied, command_id=command_id, effective=on, recorded=on, rule_version=rules.version
        )
        self._after(command_id, on, rules)

    def note_death(self, *, command_id: str, on: date, died: date, rules: Rules) -> None:
        self.trigger_event(
            self.DebtorDeathNoted,
            command_id=command_id,
            effective=died,
            recorded=on,
            rule_version=rules.version,
            died=died,
        )
        self._after(command_id, on, rules)

    def note_estate_deadline(self, *, command_id: str, on: date, published: date, deadline: date, rules: Rules) -> None:
        self.trigger_event(
            self.EstateDeadlineNoted,
            command_id=command_id,
            effective=published,
            recorded=on,
            rule_version=rules.version,
            published=published,
            report_deadline=deadline,
        )

    def report_to_estate(self, *, command_id: str, on: date, rules: Rules) -> None:
        self._check_open(on, None, collection=False)
        if self.facts.died is None:
            raise CommandRefused(ErrorCode.MISSING_PREREQUISITE, "the debtor is not registered as deceased")
        self.trigger_event(
            self.ReportedToEstate, command_id=command_id, effective=on, recorded=on, rule_version=rules.version
        )

    def suspend_service(
        self,
        *,
        command_id: str,
        on: date,
        service: str,
        died: date | None,
        visit_fee: Decimal,
        earliest_months: int | None,
        rules: Rules,
    ) -> None:
        """Sweden: shut the water off or end the childcare place (the rules decide; Norway refuses)."""
        check_service(service)
        refusals = self._check_collection(on, died)
        try:
            decision = rules.decide_suspension(self.facts, service, on, visit_fee, earliest_months)
        except CommandRefused as refused:
            refusals.add(refused.code, refused.message)
        refusals.raise_first()
        self.trigger_event(
            self.ServiceSuspended,
            command_id=command_id,
            effective=on,
            recorded=on,
            rule_version=rules.version,
            service=service,
            cost=decision.cost,
            cost_basis=decision.cost_basis,
            legal_basis=decision.legal_basis,
        )
        self._after(command_id, on, rules)

    def write_off(self, *, command_id: str, on: date, reason: str, rules: Rules) -> None:
        check_write_off(reason)
        self._check_open(on, None, collection=False)
        settled = self._settle(rules, max(on, self._through))
        self._trigger_settled(
            self.WrittenOff,
            command_id,
            settled,
            rules,
            effective=on,
            recorded=on,
            reason=reason,
            amount=self.account.balance(settled.interest_exact),
        )

    def postpone_due(self, *, command_id: str, on: date, until: date, rules: Rules) -> None:
        """Uppskov for an unclear invoice: the due date moves to ``until`` before collection starts."""
        if until < on or until <= self.due:
            raise invalid(
                "until", f"the new due date {until} must lie after the due date {self.due} and not before {on}"
            )
        self._check_open(on, None, collection=False, monitoring_ok=False)
        if self.facts.notices or self.facts.enforcements or self.facts.suspensions:
            raise CommandRefused(
                ErrorCode.ROUTE_NOT_AVAILABLE,
                "uppskov moves the due date of an unclear invoice before collection starts; after a collection step "
                "grant a deferral (anstånd) instead",
            )
        effective_due = rules.effective_due(until)
        settled = self._settle(rules, max(on, self._through, effective_due), effective_due=effective_due)
        self._trigger_settled(
            self.DuePostponed,
            command_id,
            settled,
            rules,
            effective=on,
            recorded=on,
            previous_due=self.due,
            due=until,
            effective_due=effective_due,
            paid_after=settled.paid_after(),
        )
        self._after(command_id, on, rules)

    def write_down(self, *, command_id: str, on: date, amount: Decimal | None, reason: str, rules: Rules) -> None:
        """Write the claim down in the accounts (nedskrivning): ``amount`` (the balance by default) leaves the
        creditor's books as doubtful, the debtor still owes it, and long-term monitoring begins: only steps
        that interrupt limitation, and payments, remain allowed."""
        check_reason(reason, "write-down")
        if amount is not None:
            require_amount("amount", amount)
        self._check_open(on, None, collection=False, monitoring_ok=False)
        exact, _ = self.interest_exact_on(on, rules)
        balance = self.account.balance(exact)
        amount = balance if amount is None else amount
        if amount <= 0 or amount > balance:
            raise invalid("amount", f"the write-down {amount} must be more than 0 and at most the balance {balance}")
        self.trigger_event(
            self.WrittenDownInAccounts,
            command_id=command_id,
            effective=on,
            recorded=on,
            rule_version=rules.version,
            amount=amount,
            balance=balance,
            reason=reason,
        )

    def forgive_principal(self, *, command_id: str, on: date, amount: Decimal, reason: str, rules: Rules) -> None:
        """Give up part of the principal from ``on`` (ettergivelse; not retroactive, unlike a credit note).
        Recorded as ``WrittenDown`` (its name on the wire since version 1)."""
        require_amount("amount", amount)
        check_reason(reason, "write-down")
        self._check_open(on, None, collection=False)
        if amount > self.account.principal_outstanding:
            raise invalid(
                "amount",
                f"the write-down {amount} exceeds the principal outstanding {self.account.principal_outstanding}",
            )
        reduction = MoneyEntry(on, self.version + 1, "reduction", amount)
        settled = self._settle(rules, max(on, self._through), extra=[reduction])
        self._trigger_settled(
            self.WrittenDown,
            command_id,
            settled,
            rules,
            effective=on,
            recorded=on,
            amount=amount,
            reason=reason,
            paid_after=settled.paid_after(),
        )
        self._after(command_id, on, rules)

    def file_complaint(self, *, command_id: str, on: date, received: date, rules: Rules) -> None:
        check_received("complaint", received, on)
        if any(c.outcome is None for c in self.facts.complaints):
            raise CommandRefused(ErrorCode.MISSING_PREREQUISITE, "a complaint is already pending on this claim")
        self.trigger_event(
            self.ComplaintFiled, command_id=command_id, effective=received, recorded=on, rule_version=rules.version
        )

    def decide_complaint(self, *, command_id: str, on: date, outcome: str, rules: Rules) -> None:
        check_complaint_outcome(outcome)
        if not any(c.outcome is None for c in self.facts.complaints):
            raise CommandRefused(ErrorCode.MISSING_PREREQUISITE, "there is no pending complaint on this claim")
        self.trigger_event(
            self.ComplaintDecided,
            command_id=command_id,
            effective=on,
            recorded=on,
            rule_version=rules.version,
            outcome=outcome,
        )
        self._after(command_id, on, rules)

    # --- refunds of the surplus (domain.refunds) ---------------------------------------------------

    def reserve_refund(self, *, command_id: str, on: date, refund_id: UUID, amount: Decimal, rules: Rules) -> None:
        require_amount("amount", amount)
        available = self.surplus_to_refund
        if amount > available:
            raise invalid(
                "amount",
                f"invoice {self.invoice} has {available} of surplus left to refund, less than {amount}",
            )
        self.trigger_event(
            self.RefundRequested, command_id=command_id, effective=on, recorded=on, rule_version=rules.version,
            refund_id=refund_id, amount=amount,
        )  # fmt: skip

    def cancel_refund(self, *, command_id: str, on: date, refund_id: UUID, rules: Rules) -> None:
        amount = self.refunds_reserved.get(str(refund_id))
        if amount is None:
            return
        self.trigger_event(
            self.RefundCancelled, command_id=command_id, effective=on, recorded=on, rule_version=rules.version,
            refund_id=refund_id, amount=amount,
        )  # fmt: skip

    def refund_surplus(self, *, command_id: str, on: date, refund_id: UUID, message_id: str, rules: Rules) -> None:
        amount = self.refunds_reserved.get(str(refund_id))
        if amount is None:
            raise CommandRefused(
                ErrorCode.MISSING_PREREQUISITE, f"no surplus of invoice {self.invoice} is reserved for this refund"
            )
        self.trigger_event(
            self.SurplusRefunded, command_id=command_id, effective=on, recorded=on, rule_version=rules.version,
            refund_id=refund_id, amount=amount, message_id=message_id,
        )  # fmt: skip

    # --- internals -----------------------------------------------------------------------------

    def trigger_event(self, event_class: type[CanMutateAggregate[UUID]], **kwargs: Any) -> None:
        """eventsourcing's ``trigger_event`` — the next event in the claim's sequence, stamped now, applied by its
        ``mutate`` (which checks id and version), then pending — without the steps a claim never needs: no claim
        class names an explicit ``TOPIC``, and no command passes a timestamp, id or version of its own. A payment
        triggers two events or three."""
        kwargs["originator_id"] = self.id  # ``kwargs`` is this call's own dict: no copy needed
        kwargs["originator_version"] = self.version + 1
        kwargs["timestamp"] = event_class.create_timestamp()
        try:
            new_event = event_class(**kwargs)
        except TypeError as e:
            raise TypeError(f"Can't construct event {event_class}: {e}") from None
        new_event.mutate(self)
        self.pending_events.append(new_event)

    def _interrupt(
        self, command_id: str, on: date, recorded: date, step: LimitationStep, rules: Rules, *, replace: bool = False
    ) -> None:
        """Start a new period from ``on`` if the claim was still alive that day."""
        current = self.limitation_date
        if on > current:
            return
        new = rules.period_end(on, step.years)
        if not replace and new <= current:
            return
        self.trigger_event(
            self.LimitationInterrupted,
            command_id=command_id,
            effective=on,
            recorded=recorded,
            rule_version=rules.version,
            ground=step.ground,
            legal_basis=step.legal_basis,
            years=step.years,
            limitation_date=max(new, current) if not replace else new,
        )

    def _add_cost(self, command_id: str, kind: str, amount: Decimal) -> None:
        self.cost_items[command_id] = CostItem(command_id, kind, amount)
        if kind == "fee":
            self.account.fees += amount
        else:
            self.account.costs += amount

    def _close_if_settled(self, on: date) -> None:
        account = self.account
        if account.balance() == ZERO and account.principal >= ZERO:  # Decimal to Decimal: no int to convert
            self.closed_on = on
            self.facts.closed_on = self.facts.closed_on or on

    def _after(self, command_id: str, on: date, rules: Rules) -> None:
        """Apply the audit's fee consequences that are not yet recorded, re-settling the money."""
        if not self.cost_items:
            return  # the audit only ever waives recorded costs: with none it can change nothing (most payments)
        result = self.audit()
        new = [
            (cid, why)
            for cid, why in result.non_recoverable.items()
            if cid not in self.waived and cid in self.cost_items and self.cost_items[cid].amount > 0
        ]
        if not new:
            return
        fees = sum((self.cost_items[c].amount for c, _ in new if self.cost_items[c].kind == "fee"), ZERO)
        costs = sum((self.cost_items[c].amount for c, _ in new if self.cost_items[c].kind == "cost"), ZERO)
        settled = self._settle(rules, self._through, waived={c for c, _ in new})
        items = [
            {"command_id": c, "kind": self.cost_items[c].kind, "amount": self.cost_items[c].amount, "reason": why}
            for c, why in new
        ]
        self._trigger_settled(
            self.CostsWaived,
            command_id,
            settled,
            rules,
            effective=on,
            recorded=on,
            items=items,
            fees=fees,
            costs=costs,
            paid_after=settled.paid_after(),
        )

    def _trigger_settled(
        self, event: type[InterestAccruing], command_id: str, settled: Settled, rules: Rules, **fields: Any
    ) -> None:
        """Trigger a money event with the re-settlement's interest, through-date and rates recorded."""
        self.trigger_event(
            event,
            command_id=command_id,
            rule_version=rules.version,
            interest_accrued=settled.interest_exact,
            interest_through=settled.interest_through,
            interest_rates=settled.rates,
            **fields,
        )

    @property
    def _through(self) -> date:
        assert self.account.interest_through is not None
        return self.account.interest_through

    def _money_inputs(self, rules: Rules) -> tuple[object, ...]:
        """What ``_settle`` settles from, as far as it can change: the lists only grow (an entry, once there,
        stays as it is), so their lengths, the principal, the due date and the rules tell a change."""
        f = self.facts
        return (
            rules.version, self.account.principal, self.effective_due, len(self.waived), len(f.notices),
            len(f.enforcements), len(f.suspensions), len(f.payments), len(f.reductions),
        )  # fmt: skip

    def _settle_after(self, rules: Rules, through: date, entry: MoneyEntry) -> Settled:
        """``_settle`` with one more entry. When nothing the last payment settled from has changed since and
        the entry comes after everything settled then, the settlement goes on from where that one stood
        (``domain.settlement.Cursor``): the same result for the cost of one entry, not the claim's history.
        An aggregate read from the store has no cursor: its first payment settles from the due date."""
        kept: tuple[tuple[object, ...], Cursor] | None = getattr(self, "_settlement_cursor", None)
        if kept is not None and kept[0] == self._money_inputs(rules) and (entry.day, entry.seq) > kept[1].last:
            return settle(
                rules, principal=ZERO, effective_due=self.effective_due, entries=[entry], through=through,
                start=kept[1],
            )  # fmt: skip
        return self._settle(rules, through, extra=[entry])

    def _settle(
        self,
        rules: Rules,
        through: date,
        *,
        effective_due: date | None = None,
        principal: Decimal | None = None,
        extra: list[MoneyEntry] | None = None,
        waived: set[str] | None = None,
    ) -> Settled:
        """Re-settle the claim's money from the due date (see ``domain.settlement``)."""
        gone = set(self.waived) | (waived or set())
        entries = [
            MoneyEntry(n.sent_on, n.seq, "fees", n.fee)
            for n in self.facts.notices
            if n.fee > 0 and n.command_id not in gone
        ]
        entries += [
            MoneyEntry(e.requested_on, e.seq, "costs", e.cost)
            for e in self.facts.enforcements
            if e.cost > 0 and e.command_id not in gone
        ]
        entries += [
            MoneyEntry(x.suspended_on, x.seq, "costs", x.cost)
            for x in self.facts.suspensions
            if x.cost > 0 and x.command_id not in gone
        ]
        entries += [MoneyEntry(p.ordered, p.seq, "payment", p.amount, p.designation) for p in self.facts.payments]
        entries += [MoneyEntry(day, seq, "reduction", amount) for day, seq, amount in self.facts.reductions]
        reduced = sum((amount for _, _, amount in self.facts.reductions), ZERO)
        base = (self.account.principal if principal is None else principal) + reduced
        return settle(
            rules,
            principal=base,
            effective_due=effective_due or self.effective_due,
            entries=entries + (extra or []),
            through=through,
        )


assert set(COMPONENTS) == {"costs", "fees", "interest", "principal"}
