"""Norwegian rules for a municipality collecting its own claims (egeninkasso).

Notices: purring and inkassovarsel (inkassoloven § 9, inkassoforskriften §§ 1-2, 1-3), the
creditor's own betalingsoppfordring (inkassoloven § 10, also the tvangsfullbyrdelsesloven § 4-18
warning), and a standalone § 4-18 warning. Enforcement: forliksklage, utleggsbegjæring to the
namsmann, and the municipality's own utleggstrekk and utleggsforretning as særnamsmann (only for
claims with a særskilt tvangsgrunnlag: kommunale avgifter and eiendomsskatt).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from domain.errors import CommandRefused, ErrorCode, Refusals
from domain.money import ZERO, floor_krone, to_cents
from domain.records import ClaimFacts, DebtorKind, Jurisdiction, ObjectionOutcome, Stage
from domain.rules.base import ANSWERS_KEPT, EnforcementDecision, LimitationStep, NoticeDecision, Rules
from domain.rules.parameters import ParameterSet, Segment

PURRING = "purring"
INKASSOVARSEL = "inkassovarsel"
BETALINGSOPPFORDRING = "betalingsoppfordring"
VARSEL_4_18 = "varsel_4_18"
FEE_NOTICES = frozenset({PURRING, INKASSOVARSEL})
PRE_DEMAND_NOTICES = frozenset({PURRING, INKASSOVARSEL})
SAERNAMSMANN_ROUTES = frozenset({"utleggstrekk", "utleggsforretning"})
COURT_ROUTES = {"forliksklage": "forliksklage_fee_r", "utleggsbegjaering": "utleggsbegjaering_fee_r"}

NOTICE_STAGE = {
    PURRING: Stage.REMINDED,
    INKASSOVARSEL: Stage.WARNED,
    BETALINGSOPPFORDRING: Stage.DEMANDED,
    VARSEL_4_18: None,
}
NOTICE_BASIS = {
    PURRING: "inkassoforskriften §§ 1-2, 1-3",
    INKASSOVARSEL: "inkassoloven § 9; inkassoforskriften § 1-2",
    BETALINGSOPPFORDRING: "inkassoloven § 10; inkassoforskriften § 1-2; tvangsfullbyrdelsesloven § 4-18",
    VARSEL_4_18: "tvangsfullbyrdelsesloven § 4-18",
}
FEE_FRACTION = {
    PURRING: "purring_fee_fraction",
    INKASSOVARSEL: "inkassovarsel_fee_fraction",
    BETALINGSOPPFORDRING: "betalingsoppfordring_fee_fraction",
}
MIN_DEADLINE = {
    PURRING: None,
    INKASSOVARSEL: "inkassovarsel_min_deadline_days",
    BETALINGSOPPFORDRING: "betalingsoppfordring_min_deadline_days",
    VARSEL_4_18: "varsel_4_18_wait_days",
}


class NorwegianRules(Rules):
    jurisdiction = Jurisdiction.NO
    currency = "NOK"
    notices = frozenset({PURRING, INKASSOVARSEL, BETALINGSOPPFORDRING, VARSEL_4_18})
    notices_elsewhere = frozenset({"avstangningsvarsel"})
    routes = frozenset({"forliksklage", "utleggsbegjaering", "utleggstrekk", "utleggsforretning"})
    claim_types = frozenset(
        {"barnehage", "sfo", "kulturskole", "husleie", "helse_omsorg", "kommunale_avgifter", "eiendomsskatt", "other"}
    )
    lien_claim_types = frozenset({"kommunale_avgifter", "eiendomsskatt"})
    court_routes_when_disputed = frozenset({"forliksklage"})
    # no notice interrupts Norwegian limitation (foreldelsesloven §§ 14-17): long-term monitoring takes the
    # policy's enforcement route, § 17 (ADR 0021)
    monitoring_notice = None

    def __init__(self, parameters: ParameterSet | None = None) -> None:
        super().__init__(parameters)
        self._acknowledgements: dict[tuple[str, date], LimitationStep] = {}

    def interest_rate_segments(self, start: date, end: date) -> list[Segment]:
        return self.params["forsinkelsesrente"].segments(start, end)

    # --- limitation (foreldelsesloven) -------------------------------------------------------

    def initial_limitation(self, debtor_kind: DebtorKind, claim_type: str, due: date) -> LimitationStep:
        return LimitationStep("due_date", "foreldelsesloven §§ 2-3", int(self.params.value("limitation_years", due)))

    def acknowledgement(self, ground: str, current_years: int, on: date) -> LimitationStep | None:
        step = self._acknowledgements.get((ground, on))  # every payment asks: remembered per ground and day
        if step is None:
            if len(self._acknowledgements) >= ANSWERS_KEPT:
                self._acknowledgements.clear()
            years = int(self.params.value("acknowledgement_limitation_years", on))
            step = self._acknowledgements[(ground, on)] = LimitationStep(
                ground, "foreldelsesloven §§ 14, 20 (acknowledgement)", years
            )
        return step

    def judgment_limitation(self, on: date, debtor_kind: DebtorKind) -> LimitationStep:
        return LimitationStep(
            "judgment", "foreldelsesloven § 21", int(self.params.value("judgment_limitation_years", on))
        )

    # --- notices -----------------------------------------------------------------------------

    def decide_notice(
        self,
        facts: ClaimFacts,
        notice: str,
        sent_on: date,
        deadline: date | None,
        fees_enabled: bool,
        reminder_fee_agreed: bool,
    ) -> NoticeDecision:
        if notice in self.notices_elsewhere:
            raise CommandRefused(
                ErrorCode.ROUTE_NOT_AVAILABLE,
                f"a Norwegian municipality cannot collect by shutting off a service: no {notice}",
            )
        refusals = Refusals()
        warnings: list[str] = []
        min_days_param = MIN_DEADLINE[notice]
        min_days = int(self.params.value(min_days_param, sent_on)) if min_days_param else 1
        default_days = int(self.params.value("purring_fee_deadline_days", sent_on)) if notice == PURRING else min_days
        if deadline is None:
            deadline = sent_on + timedelta(days=default_days)
        elif (deadline - sent_on).days < min_days:
            refusals.add(
                ErrorCode.DEADLINE_TOO_SHORT,
                f"the {notice} deadline {deadline} gives {(deadline - sent_on).days} days; "
                f"at least {min_days} days from the sending day {sent_on} are required "
                f"({NOTICE_BASIS[notice]})",
            )
        if notice == BETALINGSOPPFORDRING:
            self._require_missed_warning(facts, sent_on, refusals)
        refusals.raise_first()

        fee, reason = self._notice_fee(facts, notice, sent_on, fees_enabled, warnings)
        return NoticeDecision(
            notice, sent_on, deadline, fee, reason, NOTICE_STAGE[notice], False, NOTICE_BASIS[notice], tuple(warnings)
        )

    def _require_missed_warning(self, facts: ClaimFacts, on: date, refusals: Refusals) -> None:
        """A betalingsoppfordring needs a purring or inkassovarsel whose ≥ 14-day deadline passed."""
        min_days = int(self.params.value("purring_fee_deadline_days", on))
        previous = self.latest_with_deadline(facts, PRE_DEMAND_NOTICES, min_days)
        if previous is None:
            refusals.add(
                ErrorCode.MISSING_PREREQUISITE,
                f"a betalingsoppfordring needs a purring or inkassovarsel with a deadline of at least "
                f"{min_days} days that has passed (inkassoloven § 10, inkassoforskriften § 1-2)",
            )
        elif previous.deadline >= on:
            refusals.add(
                ErrorCode.DEADLINE_NOT_EXPIRED, f"the {previous.notice} deadline {previous.deadline} has not passed"
            )

    def notice_fee(
        self, facts: ClaimFacts, notice: str, sent_on: date, *, fees_enabled: bool, reminder_fee_agreed: bool
    ) -> tuple[Decimal, str]:
        return self._notice_fee(facts, notice, sent_on, fees_enabled, [])

    def _notice_fee(
        self, facts: ClaimFacts, notice: str, sent_on: date, fees_enabled: bool, warnings: list[str]
    ) -> tuple[Decimal, str]:
        if notice == VARSEL_4_18:
            return ZERO, "no fee for a standalone tvangsfullbyrdelsesloven § 4-18 warning"
        if not fees_enabled:
            return ZERO, "the creditor's collection policy charges no fees"
        sats = self.params.on("inkassosats", sent_on)
        fraction = self.params.on(FEE_FRACTION[notice], sent_on)
        warnings.extend(w for w in (sats.warning, fraction.warning) if w)
        fee = to_cents(sats.value * fraction.value)
        basis = f"{fraction.value} × inkassosats {sats.value} on {sent_on}"
        demands = [n for n in facts.notices if n.notice == BETALINGSOPPFORDRING]
        if notice == BETALINGSOPPFORDRING:
            if any(n.fee > 0 for n in demands):
                return ZERO, "one betalingsoppfordring fee per claim (inkassoforskriften § 1-3)"
            return fee, basis
        if demands:
            return ZERO, "no notice fee after the betalingsoppfordring (inkassoforskriften § 1-3)"
        days_after_due = (sent_on - facts.effective_due).days
        min_after = int(self.params.value("notice_fee_min_days_after_due", sent_on))
        if days_after_due < min_after:
            return ZERO, (
                f"sent {days_after_due} days after the due date {facts.effective_due}; a fee needs "
                f"{min_after} days or more (inkassoforskriften § 1-2)"
            )
        charged = [n for n in facts.notices if n.notice in FEE_NOTICES and n.fee > 0]
        cap = int(self.params.value("max_fee_notices_before_demand", sent_on))
        if len(charged) >= cap:
            return (
                ZERO,
                f"fee cap reached: {cap} fee-bearing notices before the betalingsoppfordring "
                "(inkassoforskriften § 1-3)",
            )
        if charged:
            first = charged[0]
            if notice == INKASSOVARSEL and first.notice == INKASSOVARSEL:
                return ZERO, "only one inkassovarsel fee per claim (inkassoforskriften § 1-3)"
            need = int(self.params.value("purring_fee_deadline_days", sent_on))
            if first.deadline_days < need or first.deadline >= sent_on:
                return ZERO, (
                    f"a second fee needs the first notice's deadline of at least {need} days to have "
                    f"been missed; it was {first.deadline} (inkassoforskriften § 1-3)"
                )
        return fee, basis

    # --- enforcement -------------------------------------------------------------------------

    def decide_enforcement(self, facts: ClaimFacts, route: str, on: date) -> EnforcementDecision:
        refusals = Refusals()
        warnings: list[str] = []
        if route in SAERNAMSMANN_ROUTES and facts.claim_type not in self.lien_claim_types:
            refusals.add(
                ErrorCode.ROUTE_NOT_AVAILABLE,
                f"{route} by the municipality as særnamsmann is only for kommunale_avgifter and "
                f"eiendomsskatt; a {facts.claim_type} claim must go to the namsmann or the "
                "conciliation board",
            )
        if facts.judgment_on is None:
            self._require_missed_demand(facts, route, on, refusals)
        else:
            self._require_compliance_period_passed(facts, on, refusals)
        refusals.raise_first()

        cost, cost_basis, cost_warnings = self.enforcement_cost(route, on)
        warnings.extend(cost_warnings)
        if route in SAERNAMSMANN_ROUTES:
            years = int(self.params.value("saernamsmann_limitation_years", on))
            basis = "foreldelsesloven § 17 nr. 2; rettsgebyrloven § 14(6): no court fee"
            return EnforcementDecision(route, cost, cost_basis, Stage.ENFORCEMENT, years, basis, tuple(warnings))
        years = int(self.params.value("legal_step_limitation_years", on))
        basis = (
            "foreldelsesloven § 15 (forliksklage)"
            if route == "forliksklage"
            else "foreldelsesloven § 17 nr. 1 (utleggsbegjæring)"
        )
        return EnforcementDecision(route, cost, cost_basis, Stage.ENFORCEMENT, years, basis, tuple(warnings))

    def enforcement_cost(self, route: str, on: date) -> tuple[Decimal, str, tuple[str, ...]]:
        if route in SAERNAMSMANN_ROUTES:
            return ZERO, "særnamsmann step: no court fee", ()
        r = self.params.on("rettsgebyr", on)
        multiple = self.params.on(COURT_ROUTES[route], on)
        warnings = tuple(w for w in (r.warning, multiple.warning) if w)
        return floor_krone(r.value * multiple.value), f"floor({multiple.value} × R {r.value})", warnings

    def compliance_end(self, served: date) -> date:
        """Last day of a judgment's compliance period: two weeks from service (tvisteloven § 19-7), moved off
        a weekend or holiday (domstolloven § 149)."""
        days = int(self.params.value("judgment_compliance_days", served))
        return self.calendar.next_working_day(served + timedelta(days=days))

    def _require_compliance_period_passed(self, facts: ClaimFacts, on: date, refusals: Refusals) -> None:
        """Enforcement on a judgment only once its oppfyllelsesfrist has run out (the judgment is tvangskraftig
        only then, tvangsfullbyrdelsesloven ch. 4)."""
        served = facts.judgment_served or facts.judgment_on
        assert served is not None
        end = self.compliance_end(served)
        if on <= end:
            refusals.add(
                ErrorCode.DEADLINE_NOT_EXPIRED,
                f"the judgment served {served} may be complied with until {end} (tvisteloven § 19-7); enforcement "
                f"on it may be requested from {end + timedelta(days=1)}",
            )

    def _require_missed_demand(self, facts: ClaimFacts, route: str, on: date, refusals: Refusals) -> None:
        demand = self.latest_with_deadline(facts, frozenset({BETALINGSOPPFORDRING}))
        disputed = any(o.outcome == ObjectionOutcome.MAINTAINED for o in facts.objections)
        if demand is None and route == "forliksklage" and disputed:
            # the court route after a maintained objection: any written notice with a passed deadline
            demand = self.latest_with_deadline(facts, frozenset({PURRING, INKASSOVARSEL}))
        if demand is None:
            refusals.add(
                ErrorCode.MISSING_PREREQUISITE,
                f"{route} needs a betalingsoppfordring (the § 4-18 warning) whose deadline has passed",
            )
        elif demand.deadline >= on:
            refusals.add(
                ErrorCode.DEADLINE_NOT_EXPIRED, f"the {demand.notice} deadline {demand.deadline} has not passed"
            )
