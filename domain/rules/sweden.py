"""Swedish rules for a municipality collecting its own claims.

Notices: betalningspåminnelse (no inkassoåtgärd; fee only where agreed when the debt arose) and
inkassokrav (inkassolagen 5 §, god inkassosed: at least eight days). Court and enforcement via
Kronofogden: betalningsföreläggande after the inkassokrav deadline, verkställighet on an utslag.
Limitation (preskriptionslagen): a written demand interrupts, unlike Norway.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from domain.calendar import add_months
from domain.errors import ErrorCode, Refusals
from domain.money import ZERO, to_cents
from domain.records import ClaimFacts, DebtorKind, Jurisdiction, Stage
from domain.rules.base import EnforcementDecision, LimitationStep, NoticeDecision, Rules, SuspensionDecision
from domain.rules.parameters import Segment

PAMINNELSE = "paminnelse"
INKASSOKRAV = "inkassokrav"
AVSTANGNINGSVARSEL = "avstangningsvarsel"
DEMANDS = frozenset({INKASSOKRAV, AVSTANGNINGSVARSEL})  # an avstängningsvarsel is an inkassokrav in every respect
PAMINNELSE_DEFAULT_DEADLINE_DAYS = 10
WATER_CLAIM_TYPES = frozenset({"va"})
SERVICE_CLAIM_TYPES = {"water": WATER_CLAIM_TYPES, "childcare": frozenset({"barnomsorg"})}


class SwedishRules(Rules):
    jurisdiction = Jurisdiction.SE
    currency = "SEK"
    notices = frozenset({PAMINNELSE, INKASSOKRAV, AVSTANGNINGSVARSEL})
    # a written demand interrupts (preskriptionslagen 5 § 2); the avstängningsvarsel does too, but a threat of
    # shutting the water off is no monitoring step (debtor-protecting reading, ADR 0012)
    monitoring_notices = frozenset({PAMINNELSE, INKASSOKRAV})
    # långtidsbevakning: a skriftlig erinran interrupts (5 § 2) and a påminnelse is the mildest one — no
    # inkassoåtgärd, no inkassokrav fee, a reminder fee only where agreed when the debt arose (ADR 0021)
    monitoring_notice = PAMINNELSE
    routes = frozenset({"betalningsforelaggande", "verkstallighet"})
    claim_types = frozenset(
        {"barnomsorg", "va", "renhallning", "hyra", "lokalhyra", "musikskola", "vard_omsorg", "other"}
    )

    def interest_rate_segments(self, start: date, end: date) -> list[Segment]:
        """Dröjsmålsränta = referensränta + 8 points (räntelagen 6 §), also when the reference is negative."""
        margin = self.params["drojsmalsranta_margin"]
        out: list[Segment] = []
        for ref in self.params["referensranta"].segments(start, end):
            for m in margin.segments(ref.start, ref.end):
                out.append(
                    Segment(m.start, m.end, ref.value + m.value, max(ref.since, m.since), ref.warning or m.warning)
                )
        return out

    # --- limitation (preskriptionslagen) -----------------------------------------------------

    def initial_limitation(self, debtor_kind: DebtorKind, claim_type: str, due: date) -> LimitationStep:
        if debtor_kind == DebtorKind.ORGANISATION:
            return LimitationStep(
                "due_date",
                "preskriptionslagen 2 § första stycket",
                int(self.params.value("general_limitation_years", due)),
            )
        return LimitationStep(
            "due_date",
            "preskriptionslagen 2 § andra stycket (consumer claim)",
            int(self.params.value("consumer_limitation_years", due)),
        )

    def acknowledgement(self, ground: str, current_years: int, on: date) -> LimitationStep | None:
        return LimitationStep(ground, "preskriptionslagen 5 § 1, 6 § (acknowledgement)", current_years)

    def limitation_start(self, due: date, arose: date) -> date:
        """Preskriptionslagen 2 §: a claim is time-barred the set number of years after it came into
        being (tillkomsten) — for a municipal fee the end of the service period, not the due date."""
        return arose

    def judgment_limitation(self, on: date, debtor_kind: DebtorKind) -> LimitationStep:
        """After a dom or utslag the new period has the length of 2 § (6-7 §§): a consumer claim keeps its
        three years (NJA 2022 s. 150); ten years only for a claim against an organisation."""
        if debtor_kind == DebtorKind.PERSON:
            return LimitationStep(
                "judgment",
                "preskriptionslagen 2 § andra stycket, 6-7 §§ (consumer claim after dom/utslag; NJA 2022 s. 150)",
                int(self.params.value("consumer_limitation_years", on)),
            )
        return LimitationStep(
            "judgment",
            "preskriptionslagen 2 § första stycket, 7 § (dom/utslag)",
            int(self.params.value("judgment_limitation_years", on)),
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
        refusals = Refusals()
        if notice == AVSTANGNINGSVARSEL and facts.claim_type not in WATER_CLAIM_TYPES:
            refusals.add(
                ErrorCode.ROUTE_NOT_AVAILABLE,
                f"an avstängningsvarsel announces that the water is shut off (vattentjänstlagen 43 §): only for a "
                f"va claim, not {facts.claim_type}",
            )
        if notice in DEMANDS:
            min_days = int(self.params.value("inkassokrav_min_deadline_days", sent_on))
            default_days = min_days
        else:
            min_days, default_days = 1, PAMINNELSE_DEFAULT_DEADLINE_DAYS
        if deadline is None:
            deadline = sent_on + timedelta(days=default_days)
        elif (deadline - sent_on).days < min_days:
            refusals.add(
                ErrorCode.DEADLINE_TOO_SHORT,
                f"the {notice} deadline {deadline} gives {(deadline - sent_on).days} days; at least "
                f"{min_days} days from the sending day {sent_on} are required (god inkassosed)",
            )
        refusals.raise_first()
        fee, reason, warnings = self._fee(facts, notice, sent_on, fees_enabled, reminder_fee_agreed)
        stage = Stage.WARNED if notice in DEMANDS else Stage.REMINDED
        basis = {
            INKASSOKRAV: "inkassolagen 5 §; lag (1981:739) 2 §",
            AVSTANGNINGSVARSEL: "vattentjänstlagen 43 § (skriftlig uppmaning före avstängning); as an inkassokrav: "
            "inkassolagen 5 §, lag (1981:739) 2 §",
        }.get(notice, "lag (1981:739) 2 § (betalningspåminnelse)")
        return NoticeDecision(
            notice,
            sent_on,
            deadline,
            fee,
            reason,
            stage,
            True,
            basis + "; preskriptionslagen 5 § 2 (written demand interrupts)",
            warnings,
        )

    def notice_fee(
        self, facts: ClaimFacts, notice: str, sent_on: date, *, fees_enabled: bool, reminder_fee_agreed: bool
    ) -> tuple[Decimal, str]:
        fee, reason, _ = self._fee(facts, notice, sent_on, fees_enabled, reminder_fee_agreed)
        return fee, reason

    def _fee(
        self, facts: ClaimFacts, notice: str, sent_on: date, fees_enabled: bool, reminder_fee_agreed: bool
    ) -> tuple[Decimal, str, tuple[str, ...]]:
        if not fees_enabled:
            return ZERO, "the creditor's collection policy charges no fees", ()
        if notice == PAMINNELSE and not reminder_fee_agreed:
            return (
                ZERO,
                "a reminder fee needs an agreement made at the latest when the debt arose "
                "(lag 1981:739 2 §); the creditor has none",
                (),
            )
        kind = INKASSOKRAV if notice in DEMANDS else notice
        same_kind = DEMANDS if notice in DEMANDS else frozenset({notice})
        if any(n.notice in same_kind and n.fee > 0 for n in facts.notices):
            return ZERO, f"one {kind} fee per claim (lag 1981:739)", ()
        param = self.params.on(f"{kind}_fee", sent_on)
        return (
            to_cents(param.value),
            f"{notice} fee {param.value} SEK on {sent_on}",
            (param.warning,) if param.warning else (),
        )

    # --- services (the creditor's own sanctions) ---------------------------------------------

    def decide_suspension(
        self, facts: ClaimFacts, service: str, on: date, visit_fee: Decimal, earliest_months: int | None
    ) -> SuspensionDecision:
        """Water: vattentjänstlagen 43 § — after a written request (the avstängningsvarsel) whose reasonable
        time has passed; the cost of the shut-off may be charged to the owner (the taxa's visit fee).
        Childcare: the place ends at the earliest ``earliest_months`` after the due date (the creditor's
        guidelines; Svenljunga: two months)."""
        refusals = Refusals()
        if facts.claim_type not in SERVICE_CLAIM_TYPES[service]:
            refusals.add(
                ErrorCode.ROUTE_NOT_AVAILABLE,
                f"{service} can be stopped only on a {'/'.join(sorted(SERVICE_CLAIM_TYPES[service]))} claim, "
                f"not {facts.claim_type}",
            )
        if service == "water":
            varsel = self.latest_with_deadline(facts, frozenset({AVSTANGNINGSVARSEL}))
            if varsel is None:
                refusals.add(
                    ErrorCode.MISSING_PREREQUISITE,
                    "the water may be shut off only after an avstängningsvarsel (vattentjänstlagen 43 § p. 4)",
                )
            elif varsel.deadline >= on:
                refusals.add(
                    ErrorCode.DEADLINE_NOT_EXPIRED,
                    f"the avstängningsvarsel deadline {varsel.deadline} has not passed (vattentjänstlagen 43 § p. 5)",
                )
            refusals.raise_first()
            return SuspensionDecision(
                service,
                to_cents(visit_fee),
                f"the creditor's taxa: {to_cents(visit_fee)} SEK per shut-off visit",
                "vattentjänstlagen 43 § (avstängning; kostnaden får påföras fastighetsägaren)",
            )
        if earliest_months is None:
            refusals.add(
                ErrorCode.ROUTE_NOT_AVAILABLE,
                "the creditor's guidelines do not end a childcare place for non-payment",
            )
        else:
            earliest = add_months(facts.effective_due, earliest_months)
            if on < earliest:
                refusals.add(
                    ErrorCode.DEADLINE_NOT_EXPIRED,
                    f"a childcare place ends for non-payment at the earliest {earliest}, {earliest_months} months "
                    f"after the due date {facts.effective_due} (the creditor's guidelines)",
                )
        refusals.raise_first()
        return SuspensionDecision(
            service,
            ZERO,
            "no fee for ending the place",
            f"the creditor's guidelines for barnomsorg: the place ends at the earliest {earliest_months} months "
            "after the due date",
        )

    # --- enforcement (Kronofogden) -----------------------------------------------------------

    def decide_enforcement(self, facts: ClaimFacts, route: str, on: date) -> EnforcementDecision:
        refusals = Refusals()
        if route == "betalningsforelaggande":
            krav = self.latest_with_deadline(facts, DEMANDS)
            if krav is None:
                refusals.add(
                    ErrorCode.MISSING_PREREQUISITE,
                    "betalningsföreläggande needs an inkassokrav whose deadline has passed",
                )
            elif krav.deadline >= on:
                refusals.add(ErrorCode.DEADLINE_NOT_EXPIRED, f"the inkassokrav deadline {krav.deadline} has not passed")
            basis = "lag (1990:746) om betalningsföreläggande; preskriptionslagen 5 § 3"
        else:
            if facts.judgment_on is None:
                refusals.add(ErrorCode.MISSING_PREREQUISITE, "verkställighet needs an utslag or a judgment")
            basis = "utsökningsbalken; preskriptionslagen 5 § 3"
        refusals.raise_first()
        cost, cost_basis, warnings = self.enforcement_cost(route, on)
        stage = Stage.JUDGMENT if route == "verkstallighet" else Stage.ENFORCEMENT
        years = (
            self.initial_limitation(facts.debtor_kind, facts.claim_type, facts.due).years
            if facts.judgment_on is None
            else self.judgment_limitation(on, facts.debtor_kind).years
        )
        return EnforcementDecision(route, cost, cost_basis, stage, years, basis, warnings)

    def enforcement_cost(self, route: str, on: date) -> tuple[Decimal, str, tuple[str, ...]]:
        fee_name = f"{route}_fee"  # betalningsforelaggande_fee, verkstallighet_fee
        fee = self.params.on(fee_name, on)
        return to_cents(fee.value), f"{fee_name} {fee.value} SEK", (fee.warning,) if fee.warning else ()
