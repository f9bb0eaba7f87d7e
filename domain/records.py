"""Plain records of what happened to a claim: the facts the rules, the limitation engine and the
good-collection-practice audit read. They are built by the ``Claim`` aggregate from its events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum


class Jurisdiction(StrEnum):
    NO = "NO"
    SE = "SE"


class DebtorKind(StrEnum):
    PERSON = "person"
    ORGANISATION = "organisation"


class Stage(StrEnum):
    INVOICED = "invoiced"
    REMINDED = "reminded"
    WARNED = "warned"
    DEMANDED = "demanded"
    ENFORCEMENT = "enforcement"
    JUDGMENT = "judgment"

    @property
    def rank(self) -> int:
        return _STAGE_RANKS[self]


_STAGE_RANKS = {stage: rank for rank, stage in enumerate(Stage)}
"""Each stage's place in the order of escalation (asked for on every notice and payment)."""


class Status(StrEnum):
    OPEN = "open"
    PAID = "paid"
    TIME_BARRED = "time_barred"
    WRITTEN_OFF = "written_off"


class ObjectionOutcome(StrEnum):
    UPHELD = "upheld"
    MAINTAINED = "maintained"
    UNFOUNDED = "unfounded"


@dataclass(frozen=True, slots=True)
class NoticeRecord:
    seq: int  # the event's aggregate version: recording order
    command_id: str
    notice: str
    sent_on: date
    recorded_on: date
    deadline: date
    fee: Decimal
    fee_reason: str
    channel: str
    carry_out_by: date | None = None  # a threatened shut-off: the last day the creditor's guidelines give for it
    letter: tuple[str, ...] | None = None  # one combined letter: every invoice it covered (None: this claim alone)

    @property
    def combined(self) -> bool:
        """Whether the notice went in one letter with other claims (samlesak)."""
        return self.letter is not None and len(self.letter) > 1

    @property
    def deadline_days(self) -> int:
        return (self.deadline - self.sent_on).days


@dataclass(frozen=True, slots=True)
class EnforcementRecord:
    seq: int
    command_id: str
    route: str
    requested_on: date
    recorded_on: date
    cost: Decimal
    request: tuple[str, ...] | None = None  # one combined request: every invoice it covered (None: this claim alone)

    @property
    def combined(self) -> bool:
        """Whether the request covered other claims too (samlesak)."""
        return self.request is not None and len(self.request) > 1


@dataclass(frozen=True, slots=True)
class SuspensionRecord:
    """A service stopped for non-payment (SE: water shut off, a childcare place ended)."""

    seq: int
    command_id: str
    service: str
    suspended_on: date
    recorded_on: date
    cost: Decimal


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    seq: int
    command_id: str
    amount: Decimal
    ordered: date
    booked: date
    recorded_on: date
    designation: str | None = None


@dataclass(slots=True)
class ObjectionRecord:
    command_id: str
    received: date
    recorded_on: date
    text: str
    outcome: ObjectionOutcome | None = None
    resolved_on: date | None = None


@dataclass(frozen=True, slots=True)
class DeferralRecord:
    command_id: str
    granted_on: date
    until: date
    requested_by_debtor: bool


@dataclass(frozen=True, slots=True)
class Installment:
    due: date
    amount: Decimal


@dataclass(frozen=True, slots=True)
class PaymentPlanRecord:
    command_id: str
    agreed_on: date
    installments: tuple[Installment, ...]
    paid_before: Decimal  # money received before the plan, so instalments are counted from here


@dataclass(frozen=True, slots=True)
class Interruption:
    """A fact that stopped limitation and started a new period (or did not, and says why)."""

    on: date
    ground: str
    legal_basis: str
    years: int
    limitation_date: date


@dataclass(frozen=True, slots=True)
class ComplaintRecord:
    command_id: str
    received: date
    outcome: str | None = None
    decided_on: date | None = None


@dataclass(frozen=True, slots=True)
class CostItem:
    """A fee or cost that a step added, and that may fall away."""

    command_id: str
    kind: str  # "fee" | "cost"
    amount: Decimal


@dataclass
class ClaimFacts:
    """Everything known about a claim now, with effective and recorded dates."""

    invoice: str
    jurisdiction: Jurisdiction
    claim_type: str
    debtor_kind: DebtorKind
    principal: Decimal
    due: date
    effective_due: date
    notices: list[NoticeRecord] = field(default_factory=list)
    enforcements: list[EnforcementRecord] = field(default_factory=list)
    payments: list[PaymentRecord] = field(default_factory=list)
    objections: list[ObjectionRecord] = field(default_factory=list)
    deferrals: list[DeferralRecord] = field(default_factory=list)
    plans: list[PaymentPlanRecord] = field(default_factory=list)
    complaints: list[ComplaintRecord] = field(default_factory=list)
    judgment_on: date | None = None
    died: date | None = None
    died_recorded: date | None = None
    reductions: list[tuple[date, int, Decimal]] = field(default_factory=list)  # write-downs: day, seq, amount
    initial_limitation_date: date | None = None
    limitation_date: date | None = None
    interruptions: list[Interruption] = field(default_factory=list)
    arose: date | None = None  # the day the claim came into being (Swedish limitation runs from it)
    judgment_served: date | None = None
    suspensions: list[SuspensionRecord] = field(default_factory=list)
    closed_on: date | None = None  # the day it was first paid in full or written off
    written_down_on: date | None = None  # written down in the accounts: long-term monitoring from this day
    postponed_from: date | None = None  # the due date before an uppskov moved it (the nominal due stays in due)
