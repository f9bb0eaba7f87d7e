"""What every jurisdiction's rules share: parameters, calendar, interest and limitation arithmetic.

A jurisdiction subclass decides notices (fee, deadline, prerequisites) and enforcement routes. Every
decision returns its *result* (fee, deadline, rate, rule version, warnings) so the claim records it
in an event and a replay never re-reads today's rules.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from domain.calendar import BusinessCalendar, add_years, calendar_for
from domain.errors import CommandRefused, ErrorCode
from domain.records import ClaimFacts, DebtorKind, Jurisdiction, NoticeRecord, Stage
from domain.rules.parameters import ParameterSet, Segment

DAYS_IN_YEAR = Decimal(365)
HUNDRED = Decimal(100)
ANSWERS_KEPT = 4096
"""How many answers of a date rule a ``Rules`` remembers (an import asks about a few dozen days, per payment)."""


@dataclass(frozen=True, slots=True)
class NoticeDecision:
    notice: str
    sent_on: date
    deadline: date
    fee: Decimal
    fee_reason: str
    stage: Stage | None
    interrupts_limitation: bool
    legal_basis: str
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EnforcementDecision:
    route: str
    cost: Decimal
    cost_basis: str
    stage: Stage
    limitation_years: int
    legal_basis: str
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SuspensionDecision:
    service: str
    cost: Decimal
    cost_basis: str
    legal_basis: str


@dataclass(frozen=True, slots=True)
class InterestPiece:
    start: date
    end: date
    rate: Decimal
    amount: Decimal  # exact, unrounded

    def as_dict(self) -> dict[str, str]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "rate": str(self.rate),
            "amount": str(self.amount),
        }


@dataclass(frozen=True, slots=True)
class LimitationStep:
    ground: str
    legal_basis: str
    years: int


class Rules(ABC):
    """The law of one jurisdiction, as dated parameters and decisions."""

    jurisdiction: Jurisdiction
    currency: str
    notices: frozenset[str]
    notices_elsewhere: frozenset[str] = frozenset()  # the contract's notices this jurisdiction refuses as a route
    # notices that interrupt limitation, so long-term monitoring of a written-down claim may still send them
    monitoring_notices: frozenset[str] = frozenset()
    # the notice long-term monitoring sends to interrupt limitation before the limitation date; None where no
    # notice interrupts (then it takes the policy's enforcement route)
    monitoring_notice: str | None = None
    routes: frozenset[str]
    claim_types: frozenset[str]
    lien_claim_types: frozenset[str] = frozenset()
    court_routes_when_disputed: frozenset[str] = frozenset()

    def __init__(self, parameters: ParameterSet | None = None) -> None:
        folder = Path(__file__).parent / self.jurisdiction.value.lower() / "parameters"
        self.params = parameters or ParameterSet(folder)
        self.calendar: BusinessCalendar = calendar_for(self.jurisdiction.value)
        self.version = f"{self.jurisdiction.value.lower()}-{self.params.digest}"
        self._period_ends: dict[tuple[date, int], date] = {}  # period_end's answers: a payment asks each time

    # --- dates -------------------------------------------------------------------------------

    def effective_due(self, due: date) -> date:
        """A due date on a weekend or holiday moves to the next working day (debtor-friendly)."""
        return self.calendar.next_working_day(due)

    def period_end(self, start: date, years: int) -> date:
        """Last day of a period of ``years`` from ``start``, moved off weekends and holidays."""
        end = self._period_ends.get((start, years))
        if end is None:
            if len(self._period_ends) >= ANSWERS_KEPT:
                self._period_ends.clear()
            end = self._period_ends[(start, years)] = self.calendar.next_working_day(add_years(start, years))
        return end

    # --- interest ----------------------------------------------------------------------------

    @abstractmethod
    def interest_rate_segments(self, start: date, end: date) -> list[Segment]:
        """Rates in percent a year for each stretch of ``start``..``end``."""

    def interest(self, amount: Decimal, start: date, end: date) -> tuple[list[InterestPiece], tuple[str, ...]]:
        """Simple interest on ``amount`` for the days ``start``..``end`` inclusive, actual/365,
        exact per segment (no rounding here: the claim rounds the total)."""
        if amount <= 0 or end < start:
            return [], ()
        segments = self.interest_rate_segments(start, end)
        warnings = tuple(dict.fromkeys(s.warning for s in segments if s.warning))
        return self._pieces(amount, segments), warnings

    def interest_pieces(self, amount: Decimal, start: date, end: date) -> list[InterestPiece]:
        """``interest``'s pieces without its warnings (a settlement records the rates, not the warnings)."""
        if amount <= 0 or end < start:
            return []
        return self._pieces(amount, self.interest_rate_segments(start, end))

    @staticmethod
    def _pieces(amount: Decimal, segments: list[Segment]) -> list[InterestPiece]:
        return [
            InterestPiece(s.start, s.end, s.value, amount * s.value / HUNDRED * s.days / DAYS_IN_YEAR) for s in segments
        ]

    # --- limitation --------------------------------------------------------------------------

    @abstractmethod
    def initial_limitation(self, debtor_kind: DebtorKind, claim_type: str, due: date) -> LimitationStep:
        """The period that runs from ``limitation_start``."""

    def limitation_start(self, due: date, arose: date) -> date:
        """The day the first limitation period runs from: the nominal due date (NO, foreldelsesloven
        § 3 nr. 1: when the creditor can first demand payment)."""
        return due

    @abstractmethod
    def acknowledgement(self, ground: str, current_years: int, on: date) -> LimitationStep | None:
        """A debtor's acknowledgement (payment, plan, deferral asked for) and the new period."""

    # --- notices and enforcement -------------------------------------------------------------

    @abstractmethod
    def decide_notice(
        self,
        facts: ClaimFacts,
        notice: str,
        sent_on: date,
        deadline: date | None,
        fees_enabled: bool,
        reminder_fee_agreed: bool,
    ) -> NoticeDecision:
        """Check a notice and price it; raises ``CommandRefused`` for the rule it breaks."""

    @abstractmethod
    def notice_fee(
        self, facts: ClaimFacts, notice: str, sent_on: date, *, fees_enabled: bool, reminder_fee_agreed: bool
    ) -> tuple[Decimal, str]:
        """The fee a notice carries on its own on ``sent_on`` after the claim's trail in ``facts``, and why:
        the pricing half of ``decide_notice``, without its checks (a combined letter's counterfactual)."""

    @abstractmethod
    def decide_enforcement(self, facts: ClaimFacts, route: str, on: date) -> EnforcementDecision:
        """Check an enforcement or court step and price it."""

    @abstractmethod
    def enforcement_cost(self, route: str, on: date) -> tuple[Decimal, str, tuple[str, ...]]:
        """The court or enforcement fee of one request by ``route`` on ``on``, its basis and warnings: the
        pricing half of ``decide_enforcement``."""

    @abstractmethod
    def judgment_limitation(self, on: date, debtor_kind: DebtorKind) -> LimitationStep:
        """The new period a judgment (dom, utslag) starts."""

    def decide_suspension(
        self, facts: ClaimFacts, service: str, on: date, visit_fee: Decimal, earliest_months: int | None
    ) -> SuspensionDecision:
        """Stopping a service for non-payment; by default no jurisdiction allows it as a collection step."""
        raise CommandRefused(
            ErrorCode.ROUTE_NOT_AVAILABLE,
            f"a {self.jurisdiction} municipality cannot collect by stopping a service ({service})",
        )

    def estate_report_deadline(self, last_publication: date) -> date:
        weeks = int(self.params.value("estate_report_weeks", last_publication))
        return last_publication + timedelta(weeks=weeks)

    # --- helpers for subclasses -------------------------------------------------------------

    @staticmethod
    def latest_with_deadline(facts: ClaimFacts, kinds: frozenset[str], min_days: int = 0) -> NoticeRecord | None:
        candidates = [n for n in facts.notices if n.notice in kinds and n.deadline_days >= min_days]
        return max(candidates, key=lambda n: (n.deadline, n.sent_on)) if candidates else None
