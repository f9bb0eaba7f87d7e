"""Collection policies: which step is due for a claim on a given day.

Each creditor has a policy — the notices it sends, how many days after the due date or the
previous deadline, whether it charges fees, the smallest amount worth a notice. ``due_action`` is a
pure function of the claim, the day and the policy; the application (or the process manager) turns
its answer into a command. The law still decides: a planned step that the rules refuse is skipped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from domain.claim import Claim
from domain.records import Jurisdiction


@dataclass(frozen=True, slots=True)
class PolicyStep:
    """One step: a notice (with its deadline) or an enforcement request, ``after_days`` after the
    previous step's deadline (or after the effective due date for the first step)."""

    after_days: int
    notice: str | None = None
    deadline_days: int | None = None
    enforce: bool = False


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

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["jurisdiction"] = self.jurisdiction.value
        d["min_amount"] = str(self.min_amount)
        d["shutoff_visit_fee"] = str(self.shutoff_visit_fee)
        d["steps"] = [asdict(s) for s in self.steps]
        return d

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
        )


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


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


def due_action(
    claim: Claim, day: date, policy: CollectionPolicy, *, debtor_open_total: Decimal, is_working_day: bool = True
) -> PlannedAction | None:
    """The policy step that is due on ``day`` for ``claim``, or None."""
    if not is_working_day or claim.closed_on is not None or claim.write_off_reason is not None:
        return None
    if claim.disputed or claim.facts.died is not None or day > claim.limitation_date:
        return None
    if claim.facts.judgment_on is not None:
        return None
    if any(d.granted_on <= day <= d.until for d in claim.facts.deferrals):
        return None
    if claim.facts.plans and not claim.plan_breached:
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
