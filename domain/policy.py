"""Collection policies: which step is due for a claim on a given day, and when to look again.

Each creditor has a policy — the notices it sends, how many days after the due date or the
previous deadline, whether it charges fees, the smallest amount worth a notice. ``due_action`` is a
pure function of the claim, the day and the policy; ``domain.caseflow`` turns its answer into a
command. The law still decides: a planned step that the rules refuse is skipped.

When to look at a claim again is decided here too (``next_check``), from the claim's own state:
the policy's next step after its anchor and any deferral, each instalment of a plan once its grace
days are over (``PLAN_GRACE_DAYS``), a month later for a claim under the minimum, later and later
after refusals (``backoff_days``), the limitation alert (``limitation_alert``). These are
collection practice, not statute, so they are constants here rather than dated parameters.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from domain.claim import Claim
from domain.errors import invalid
from domain.records import Installment, Jurisdiction, Stage
from domain.rules import Rules, rules_for

CENT = Decimal("0.01")
PLAN_GRACE_DAYS = 7
"""An instalment is checked this many days after its due date: a payment ordered on the due date
reaches the creditor's account statement a few (working) days later, and a breach must not be
recorded for money that is on its way (``Claim.check_plan`` counts booked payments only)."""
BELOW_MINIMUM_RECHECK_DAYS = 30
"""A claim under the policy's minimum amount is looked at again monthly (interest may lift it)."""
MAX_BACKOFF_DAYS = 32
"""After a refused step the claim is looked at again 1, 2, 4 … days later, never more than this."""
MONITORING_DAYS_BEFORE_LIMITATION = 60
"""Long-term monitoring takes its step this many days before the limitation date (the policy's default):
time for the letter to reach the debtor (SE: the demand interrupts when the debtor *gets* it,
preskriptionslagen 5 § 2) or for the enforcement request to be filed, and for a refused step to be
tried again after its back-off."""


@dataclass(frozen=True, slots=True)
class PolicyStep:
    """One step: a notice (with its deadline) or an enforcement request, ``after_days`` after the
    previous step's deadline (or after the effective due date for the first step)."""

    after_days: int
    notice: str | None = None
    deadline_days: int | None = None
    enforce: bool = False


@dataclass(frozen=True, slots=True)
class SelfServiceLimits:
    """What a debtor may get on the self-service page at once, without a caseworker: the creditor's
    delegation (an application outside these limits goes to a caseworker's worklist, with the reason).

    Not law but the creditor's guidelines, so part of its collection policy (dated by the policy's
    change events); the defaults below are each jurisdiction's, chosen with the debtor in mind."""

    max_instalments: int = 12  # monthly instalments of a self-service plan
    min_instalment: Decimal = Decimal("300.00")  # the smallest instalment (a last one may be smaller)
    max_plan_total: Decimal = Decimal("30000.00")  # larger debts are looked at by a caseworker
    first_instalment_within_days: int = 30  # the first instalment falls due at the latest this many days on
    max_deferral_days: int = 30  # a deferral lasts at most this many days from the day it is granted
    deferrals_per_claim: int = 1  # self-service deferrals one claim may get

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["min_instalment"] = str(self.min_instalment)
        d["max_plan_total"] = str(self.max_plan_total)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SelfServiceLimits:
        base = cls()
        return cls(
            max_instalments=int(d.get("max_instalments", base.max_instalments)),
            min_instalment=Decimal(str(d.get("min_instalment", base.min_instalment))),
            max_plan_total=Decimal(str(d.get("max_plan_total", base.max_plan_total))),
            first_instalment_within_days=int(d.get("first_instalment_within_days", base.first_instalment_within_days)),
            max_deferral_days=int(d.get("max_deferral_days", base.max_deferral_days)),
            deferrals_per_claim=int(d.get("deferrals_per_claim", base.deferrals_per_claim)),
        )


SELF_SERVICE_DEFAULTS = {
    Jurisdiction.NO: SelfServiceLimits(),
    Jurisdiction.SE: SelfServiceLimits(min_instalment=Decimal("300.00"), max_plan_total=Decimal("30000.00")),
}


@dataclass(frozen=True, slots=True)
class CollectionPolicy:
    name: str
    jurisdiction: Jurisdiction
    steps: tuple[PolicyStep, ...]
    fees_enabled: bool = True
    reminder_fee_agreed: bool = False
    min_amount: Decimal = Decimal("50.00")
    lien_route: str | None = None
    default_route: str | None = None
    limitation_alert_days: int = 90
    extra: dict[str, str] = field(default_factory=dict)
    # the creditor's own guidelines for services and deferrals (format 1.1; Svenljunga's in the Swedish default)
    water_shutoff_within_days: int | None = None  # a threatened shut-off is carried out at the latest N days after due
    shutoff_visit_fee: Decimal = Decimal("0.00")  # the taxa's fee per visit to shut the water off (a cost)
    childcare_end_after_months: int | None = None  # a childcare place ends at the earliest N months after due
    deferral_after_due_refused: bool = False  # anstånd asked for after the due date is refused
    # samlesak: a debtor's claims due for the same step on the same day go in one letter / request (domain.merging)
    merge_claims: bool = True
    # long-term monitoring of a written-down claim: its limitation-interrupting step this many days before the
    # limitation date (None: the creditor monitors by hand); collection practice, so a policy value
    monitoring_days_before_limitation: int | None = MONITORING_DAYS_BEFORE_LIMITATION
    self_service: SelfServiceLimits | None = None  # None: the jurisdiction's defaults (SELF_SERVICE_DEFAULTS)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["jurisdiction"] = self.jurisdiction.value
        d["min_amount"] = str(self.min_amount)
        d["shutoff_visit_fee"] = str(self.shutoff_visit_fee)
        d["steps"] = [asdict(s) for s in self.steps]
        if self.self_service is None:
            del d["self_service"]  # a policy without its own limits stays as it was recorded before they existed
        else:
            d["self_service"] = self.self_service.as_dict()
        return d

    @property
    def limits(self) -> SelfServiceLimits:
        """The self-service limits in force: the creditor's own, else the jurisdiction's defaults."""
        return self.self_service or SELF_SERVICE_DEFAULTS[self.jurisdiction]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CollectionPolicy:
        return cls(
            name=str(d["name"]),
            jurisdiction=Jurisdiction(d["jurisdiction"]),
            steps=tuple(PolicyStep(**s) for s in d["steps"]),
            fees_enabled=bool(d["fees_enabled"]),
            reminder_fee_agreed=bool(d["reminder_fee_agreed"]),
            min_amount=Decimal(str(d["min_amount"])),
            lien_route=d.get("lien_route"),
            default_route=d.get("default_route"),
            limitation_alert_days=int(d.get("limitation_alert_days", 90)),
            extra=dict(d.get("extra", {})),
            water_shutoff_within_days=_optional_int(d.get("water_shutoff_within_days")),
            shutoff_visit_fee=Decimal(str(d.get("shutoff_visit_fee", "0.00"))),
            childcare_end_after_months=_optional_int(d.get("childcare_end_after_months")),
            deferral_after_due_refused=bool(d.get("deferral_after_due_refused", False)),
            merge_claims=_flag(d.get("merge_claims", True), "merge_claims"),
            monitoring_days_before_limitation=_monitoring_days(
                d.get("monitoring_days_before_limitation", MONITORING_DAYS_BEFORE_LIMITATION)
            ),
            self_service=SelfServiceLimits.from_dict(d["self_service"]) if d.get("self_service") else None,
        )


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise invalid(f"policy.{name}", f"{value!r} is not true or false")
    return value


def _monitoring_days(value: Any) -> int | None:
    """A policy written before long-term monitoring existed has no value: the default applies."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3650:
        raise invalid(
            "policy.monitoring_days_before_limitation",
            f"{value!r} is not a number of days from 1 to 3650 (or null: no automatic long-term monitoring)",
        )
    return value


NORWEGIAN_DEFAULT = CollectionPolicy(
    name="NO default: purring, inkassovarsel, betalingsoppfordring, enforcement",
    jurisdiction=Jurisdiction.NO,
    steps=(
        PolicyStep(after_days=14, notice="purring", deadline_days=14),
        PolicyStep(after_days=1, notice="inkassovarsel", deadline_days=14),
        PolicyStep(after_days=1, notice="betalingsoppfordring", deadline_days=14),
        PolicyStep(after_days=1, enforce=True),
    ),
    min_amount=Decimal("50.00"),
    lien_route="utleggstrekk",
    default_route="utleggsbegjaering",
)

SWEDISH_MUNICIPAL_DEFAULT = CollectionPolicy(
    name="SE municipal (Svenljunga guidelines): påminnelse, inkassokrav, betalningsföreläggande",
    jurisdiction=Jurisdiction.SE,
    steps=(
        PolicyStep(after_days=7, notice="paminnelse", deadline_days=10),
        PolicyStep(after_days=1, notice="inkassokrav", deadline_days=10),
        PolicyStep(after_days=1, enforce=True),
    ),
    reminder_fee_agreed=False,
    min_amount=Decimal("50.00"),
    lien_route="betalningsforelaggande",
    default_route="betalningsforelaggande",
    water_shutoff_within_days=45,
    shutoff_visit_fee=Decimal("500.00"),
    childcare_end_after_months=2,
    deferral_after_due_refused=True,
)


def default_policy(jurisdiction: Jurisdiction) -> CollectionPolicy:
    return NORWEGIAN_DEFAULT if jurisdiction == Jurisdiction.NO else SWEDISH_MUNICIPAL_DEFAULT


@dataclass(frozen=True, slots=True)
class PlannedAction:
    kind: str  # "notice" | "enforcement"
    name: str
    deadline: date | None
    planned_for: date
    monitoring: bool = False  # long-term monitoring's limitation-interrupting step for a written-down claim


def due_action(
    claim: Claim, day: date, policy: CollectionPolicy, *, debtor_open_total: Decimal, is_working_day: bool = True
) -> PlannedAction | None:
    """The policy step that is due on ``day`` for ``claim``, or None."""
    if not is_working_day or claim.closed_on is not None or claim.write_off_reason is not None:
        return None
    if claim.disputed or claim.facts.died is not None or day > claim.limitation_date:
        return None
    if deferred_until(claim, day) is not None:
        return None
    if claim.facts.plans and not claim.plan_breached:
        return None
    if claim.facts.written_down_on is not None:
        return monitoring_action(claim, day, policy, open_total=debtor_open_total)
    if claim.facts.judgment_on is not None:
        return None
    done = _steps_done(claim, policy)
    if done >= len(policy.steps):
        return None
    step = policy.steps[done]
    if done == 0:
        anchor = claim.effective_due
    else:
        notices = [n for n in claim.facts.notices if n.notice == policy.steps[done - 1].notice]
        anchor = notices[-1].deadline if notices else claim.effective_due
    planned = anchor + timedelta(days=step.after_days)
    if day < planned:
        return None
    if _principal_paid_by(claim, anchor):
        return None  # a further step would be escalated_after_timely_payment in the audit (domain.audit)
    if step.enforce:
        route = policy.lien_route if claim.lien_secured else policy.default_route
        return PlannedAction("enforcement", route, None, planned) if route else None
    if debtor_open_total < policy.min_amount:
        return None
    assert step.notice is not None
    deadline = day + timedelta(days=step.deadline_days) if step.deadline_days else None
    return PlannedAction("notice", step.notice, deadline, planned)


def monitoring_day(claim: Claim, policy: CollectionPolicy) -> date | None:
    """The day long-term monitoring of a written-down claim takes its step: the policy's days before the
    limitation date, not before the write-down. None when the claim is not written down or the policy
    leaves monitoring to the caseworkers."""
    written_down, days = claim.facts.written_down_on, policy.monitoring_days_before_limitation
    if written_down is None or days is None:
        return None
    return max(claim.limitation_date - timedelta(days=days), written_down)


def monitoring_action(
    claim: Claim, day: date, policy: CollectionPolicy, *, open_total: Decimal
) -> PlannedAction | None:
    """Long-term monitoring (långtidsbevakning) of a written-down claim: the policy's steps rest; from
    ``monitoring_day`` until the limitation date the claim gets the limitation-interrupting step its
    jurisdiction allows (``Rules.monitoring_notice``: SE a påminnelse; NO none, so the policy's enforcement
    route — the særnamsmann step for a lien-secured claim, else the default route). Once per limitation
    date: the step moves the date, which brings the next round. Not for a claim under the minimum amount:
    a court fee on a trifle is no protection of anyone."""
    first = monitoring_day(claim, policy)
    if first is None or day < first:
        return None
    facts = claim.facts
    if any(n.sent_on >= first for n in facts.notices) or any(e.requested_on >= first for e in facts.enforcements):
        return None
    if open_total < policy.min_amount:
        return None
    notice = rules_for(claim.jurisdiction.value).monitoring_notice
    if notice is not None:
        return PlannedAction("notice", notice, None, first, monitoring=True)
    route = policy.lien_route if claim.lien_secured else policy.default_route
    return PlannedAction("enforcement", route, None, first, monitoring=True) if route else None


def _principal_paid_by(claim: Claim, deadline: date) -> bool:
    """Whether payments ordered by ``deadline`` cover the principal: what is left (interest, fees) is
    no ground for the next step (the audit's ``escalated_after_timely_payment``)."""
    principal = claim.facts.principal
    return (
        principal > 0
        and sum((p.amount for p in claim.facts.payments if p.ordered <= deadline), Decimal(0)) >= principal
    )


def _steps_done(claim: Claim, policy: CollectionPolicy) -> int:
    """How far along the policy the claim is: the last policy step its trail shows."""
    sent = {n.notice for n in claim.facts.notices}
    done = 0
    for i, step in enumerate(policy.steps):
        if step.enforce and claim.facts.enforcements:
            done = i + 1
        elif step.notice is not None and step.notice in sent:
            done = i + 1
    return done


def open_total(claim: Claim, day: date, rules: Rules) -> Decimal:
    """What the claim amounts to on ``day``, interest included: the figure the minimum is compared with."""
    exact, _ = claim.interest_exact_on(day, rules)
    return claim.account.balance(exact)


def deferred_until(claim: Claim, day: date) -> date | None:
    """The last day of a deferral (henstand/anstånd) that covers ``day``, or None: the one deferral
    window check. A deferral covers the days from when it was granted through ``until``."""
    ends = [d.until for d in claim.facts.deferrals if d.granted_on <= day <= d.until]
    return max(ends) if ends else None


def first_day_not_deferred(claim: Claim, day: date) -> date:
    """``day``, or the first day after the deferrals covering it (one may follow another)."""
    while (until := deferred_until(claim, day)) is not None:
        day = until + timedelta(days=1)
    return day


# --- when to look again --------------------------------------------------------------------------


def plan_check_day(due: date, grace_days: int = PLAN_GRACE_DAYS) -> date:
    """The first day an instalment due on ``due`` counts as missed: after its grace days."""
    return due + timedelta(days=grace_days + 1)


def plan_checkable(claim: Claim, day: date, grace_days: int = PLAN_GRACE_DAYS) -> bool:
    """Whether ``Claim.check_plan`` may run on ``day``: a plan is being kept and no instalment is
    still within its grace days (the domain's check counts every instalment whose due date passed)."""
    if not claim.facts.plans or claim.plan_breached:
        return False
    return not any(i.due < day < plan_check_day(i.due, grace_days) for i in claim.facts.plans[-1].installments)


def planned_step(claim: Claim, policy: CollectionPolicy) -> PlannedAction | None:
    """The policy's next step and the day it is planned for, whatever today is: ``due_action`` asked
    on the last day collection is possible, with no amount threshold. None while the policy is
    paused (objection, death, judgment, a plan being kept) or done."""
    return due_action(claim, claim.limitation_date, policy, debtor_open_total=Decimal("Infinity"))


def backoff_days(refusals: int) -> int:
    """Days until a claim whose last ``refusals`` steps were refused is looked at again (1, 2, 4 … 32)."""
    return min(2 ** (refusals - 1), MAX_BACKOFF_DAYS) if refusals > 0 else 0


def limitation_alert(claim: Claim, policy: CollectionPolicy, day: date) -> int | None:
    """Days left to the limitation date when ``day`` lies within the policy's alert days before it
    (the date itself included), else None."""
    limitation = claim.limitation_date
    if limitation - timedelta(days=policy.limitation_alert_days) <= day <= limitation:
        return (limitation - day).days
    return None


def next_check(
    claim: Claim,
    policy: CollectionPolicy,
    day: date,
    *,
    open_total: Decimal,
    refusals: int = 0,
    plan_grace_days: int = PLAN_GRACE_DAYS,
) -> date | None:
    """The first day after ``day`` on which something may be due for ``claim``: the policy's next
    step (after its anchor — due date or the last notice's deadline — and after any deferral), each
    instalment of a plan being kept once its grace days are over, the limitation alert. Never later
    than needed; a check that finds nothing simply schedules the next one. ``refusals``: how many
    steps in a row were refused (the back-off)."""
    if claim.closed_on is not None or claim.write_off_reason is not None or day >= claim.limitation_date:
        return None
    candidates: list[date] = []
    alert_from = claim.limitation_date - timedelta(days=policy.limitation_alert_days)
    if alert_from > day:
        candidates.append(alert_from)
    if claim.facts.plans and not claim.plan_breached:
        checks = (plan_check_day(i.due, plan_grace_days) for i in claim.facts.plans[-1].installments)
        candidates += [c for c in checks if c > day]
    planned = planned_step(claim, policy)
    if planned is not None:
        step = first_day_not_deferred(claim, max(planned.planned_for, day + timedelta(days=1)))
        if (planned.kind == "notice" or planned.monitoring) and open_total < policy.min_amount:
            step = max(step, day + timedelta(days=BELOW_MINIMUM_RECHECK_DAYS))
        if refusals:
            step = max(step, day + timedelta(days=backoff_days(refusals)))
        candidates.append(step)
    return min(candidates) if candidates else None


# --- self-service applications: the instant decision ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Decision:
    """A self-service application decided at once: ``approved`` (the plan or deferral to record), or
    referred to a caseworker with ``reason`` (a stable code the pages explain) and ``limit`` (the
    figure the application went beyond, where there is one)."""

    approved: bool
    reason: str | None = None
    limit: str | None = None
    installments: tuple[Installment, ...] = ()
    until: date | None = None


def _case_blocks(claim: Claim, day: date) -> str | None:
    """Why a caseworker must look at any application on this claim, or None."""
    if claim.closed_on is not None or claim.write_off_reason is not None:
        return "closed"
    if claim.facts.died is not None:
        return "deceased"
    if claim.disputed:
        return "disputed"
    if claim.stage in (Stage.ENFORCEMENT, Stage.JUDGMENT):
        return "enforcement"
    if day > claim.limitation_date:
        return "time_barred"
    return None


def monthly_plan(total: Decimal, count: int, first_due: date) -> tuple[Installment, ...]:
    """``count`` monthly instalments from ``first_due`` (the same day of each month, or the month's last
    day) that add up to ``total``: equal whole kroner/kronor, the remainder on the last."""
    if count < 1:
        raise ValueError("count: at least one instalment")
    each = (total / count).quantize(Decimal("1"), rounding=ROUND_DOWN).quantize(CENT) if count > 1 else total
    amounts = [each] * (count - 1) + [total - each * (count - 1)]
    return tuple(Installment(_add_months(first_due, i), a) for i, a in enumerate(amounts))


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def decide_plan(
    claim: Claim, policy: CollectionPolicy, *, day: date, total: Decimal, count: int, first_due: date
) -> Decision:
    """A debtor's application for a payment plan of ``count`` monthly instalments from ``first_due``
    covering ``total`` (the claim's balance on ``day``): approved within the creditor's limits, else
    referred with the reason. Limits are inclusive: exactly the maximum is still approved."""
    limits = policy.limits
    blocked = _case_blocks(claim, day)
    if blocked is not None:
        return Decision(False, blocked)
    if total <= 0:
        return Decision(False, "nothing_owed")
    if claim.facts.plans and not claim.plan_breached:
        return Decision(False, "plan_exists")
    if claim.plan_breached:
        return Decision(False, "plan_broken_before")
    if count < 1 or count > limits.max_instalments:
        return Decision(False, "too_many_instalments", str(limits.max_instalments))
    if first_due < day or first_due > day + timedelta(days=limits.first_instalment_within_days):
        return Decision(False, "first_instalment_too_late", str(limits.first_instalment_within_days))
    if total > limits.max_plan_total:
        return Decision(False, "amount_too_large", str(limits.max_plan_total))
    plan = monthly_plan(total, count, first_due)
    if count > 1 and plan[0].amount < limits.min_instalment:
        return Decision(False, "instalment_too_small", str(limits.min_instalment))
    return Decision(True, installments=plan)


def decide_deferral(claim: Claim, policy: CollectionPolicy, *, day: date, until: date) -> Decision:
    """A debtor's application for a deferral (betalingsutsettelse, anstånd) until ``until``: approved
    within the creditor's limits, else referred with the reason."""
    limits = policy.limits
    blocked = _case_blocks(claim, day)
    if blocked is not None:
        return Decision(False, blocked)
    if until <= day:
        return Decision(False, "deferral_in_past")
    if until > day + timedelta(days=limits.max_deferral_days):
        return Decision(False, "deferral_too_long", str(limits.max_deferral_days))
    if policy.deferral_after_due_refused and day > claim.effective_due:
        return Decision(False, "deferral_after_due")
    asked = sum(1 for d in claim.facts.deferrals if d.requested_by_debtor)
    if asked >= limits.deferrals_per_claim:
        return Decision(False, "deferral_already_given", str(limits.deferrals_per_claim))
    if claim.facts.plans and not claim.plan_breached:
        return Decision(False, "plan_exists")
    return Decision(True, until=until)
