"""The good-collection-practice audit: a pure function over a claim's trail.

It re-reads every notice and enforcement step against *all* facts known now — including facts
registered late with an earlier effective date (an objection received before a step, a payment
ordered in time, a death) — and returns findings plus the fee consequences: the steps whose fees
or costs can no longer be recovered. The claim records those consequences as events; the steps
themselves stay in the trail.

Codes (stable, from the scenario contract): ``escalated_during_objection``,
``escalated_after_timely_payment``, ``escalated_before_deadline``, ``time_barred_collection``,
``contact_after_death``, ``costs_not_recoverable``, ``threat_not_carried_out`` (1.1); and ``complaint_breach``.

A finding is something the complaints board must look at: a step that should not have been taken
(breach), a contact that needs explaining (warning), or money the creditor lost because of such a
step (info). A notice sent without a fee because the law allows none — every Swedish påminnelse, a
purring before its fee date — is the law applied, not a finding: its reason stays on the step
(``fee_reason``). See ADR 0010.

A ``threat_not_carried_out`` finding holds only from a day on (``Finding.from_day``): a shut-off was
announced and the creditor's own window for carrying it out passed without it — unless the claim was
settled, disputed, deferred, put on a plan, written down or the debtor died within the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from domain.money import ZERO, fmt
from domain.records import ClaimFacts, EnforcementRecord, NoticeRecord, ObjectionOutcome, SuspensionRecord


class Severity(StrEnum):
    BREACH = "breach"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Finding:
    command_id: str
    code: str
    severity: Severity
    message: str
    from_day: date | None = None  # the finding holds from this day on (None: as soon as the trail shows it)

    def holds_on(self, day: date) -> bool:
        return self.from_day is None or self.from_day <= day


@dataclass(frozen=True, slots=True)
class AuditResult:
    findings: tuple[Finding, ...]
    non_recoverable: dict[str, str]  # step command id -> why its fee or cost fell away


Step = NoticeRecord | EnforcementRecord | SuspensionRecord
ESCALATING_NOTICES = frozenset({"betalingsoppfordring", "inkassokrav", "avstangningsvarsel"})
COURT_ROUTES = frozenset({"forliksklage"})


def _day(step: Step) -> date:
    if isinstance(step, SuspensionRecord):
        return step.suspended_on
    return step.sent_on if isinstance(step, NoticeRecord) else step.requested_on


def _name(step: Step) -> str:
    if isinstance(step, SuspensionRecord):
        return f"suspension of {step.service}"
    return step.notice if isinstance(step, NoticeRecord) else step.route


def _amount(step: Step) -> Decimal:
    return step.fee if isinstance(step, NoticeRecord) else step.cost


def _previous_deadline(facts: ClaimFacts, step: Step) -> tuple[date, str]:
    """The deadline a step relies on: a betalingsoppfordring on a missed purring or inkassovarsel,
    an enforcement step on a missed demand (betalingsoppfordring, inkassokrav), any other notice
    on the due date."""
    day = _day(step)
    if isinstance(step, SuspensionRecord):
        if step.service != "water":
            return facts.effective_due, "the due date"
        kinds = THREATS
    elif isinstance(step, EnforcementRecord):
        if facts.judgment_on is not None and facts.judgment_on <= day:
            return facts.effective_due, "the due date"
        kinds = ESCALATING_NOTICES
    elif step.notice == "betalingsoppfordring":
        kinds = frozenset({"purring", "inkassovarsel"})
    else:
        return facts.effective_due, "the due date"
    earlier = [n for n in facts.notices if n.notice in kinds and n.sent_on < day]
    if not earlier:
        return facts.effective_due, "the due date"
    last = max(earlier, key=lambda n: (n.deadline, n.sent_on))
    return last.deadline, f"the {last.notice} deadline"


def _paid_by(facts: ClaimFacts, step: Step) -> tuple[date, str]:
    """The deadline by which a timely payment makes the step unjustified: the last earlier notice's
    (any kind: a reminder's deadline that was met means no further notice was due), the demand's for
    an enforcement step, or the due date."""
    day = _day(step)
    if not isinstance(step, NoticeRecord):
        return _previous_deadline(facts, step)
    earlier = [n for n in facts.notices if n.sent_on < day]
    if not earlier:
        return facts.effective_due, "the due date"
    last = max(earlier, key=lambda n: (n.sent_on, n.deadline))
    return last.deadline, f"the {last.notice} deadline"


THREATS = frozenset({"avstangningsvarsel"})
THREATENED_SERVICE = {"avstangningsvarsel": "water"}


def _threat_moot(facts: ClaimFacts, threat: NoticeRecord) -> bool:
    """Whether the threatened step was carried out in its window, or something in the window made it wrong
    or needless to carry it out."""
    end = threat.carry_out_by
    assert end is not None
    if any(
        s.service == THREATENED_SERVICE[threat.notice] and threat.sent_on <= s.suspended_on <= end
        for s in facts.suspensions
    ):
        return True
    stops = [
        facts.closed_on,
        facts.died,
        facts.written_down_on,
        *(o.received for o in facts.objections),
        *(d.granted_on for d in facts.deferrals),
        *(p.agreed_on for p in facts.plans),
    ]
    return any(day is not None and day <= end for day in stops)


def _limitation_on(facts: ClaimFacts, day: date) -> date | None:
    """The limitation date in force on ``day``, from every interruption known now."""
    if facts.initial_limitation_date is None:
        return None
    return max([facts.initial_limitation_date, *(i.limitation_date for i in facts.interruptions if i.on <= day)])


def audit(facts: ClaimFacts) -> AuditResult:
    findings: list[Finding] = []
    lost: dict[str, str] = {}

    def flag(step: Step, code: str, severity: Severity, message: str, costs_fall: bool) -> None:
        findings.append(Finding(step.command_id, code, severity, message))
        if costs_fall and step.command_id not in lost:
            lost[step.command_id] = f"{code}: {message}"

    steps: list[Step] = sorted([*facts.notices, *facts.enforcements, *facts.suspensions], key=_day)
    for step in steps:
        day, name = _day(step), _name(step)
        if facts.died is not None and isinstance(step, NoticeRecord) and step.sent_on >= facts.died:
            flag(
                step,
                "contact_after_death",
                Severity.WARNING,
                f"{name} sent {day} to a debtor who died {facts.died}",
                True,
            )
        for o in facts.objections:
            pending = o.received <= day and (o.resolved_on is None or day < o.resolved_on)
            disputed_after = (
                o.outcome == ObjectionOutcome.MAINTAINED
                and o.resolved_on is not None
                and day >= o.resolved_on
                and name not in COURT_ROUTES
            )
            if pending or disputed_after:
                flag(
                    step,
                    "escalated_during_objection",
                    Severity.BREACH,
                    f"{name} on {day} while the objection received {o.received} was "
                    f"{'pending' if pending else 'maintained (disputed)'}",
                    True,
                )
                break
        paid_by, what = _paid_by(facts, step)
        timely = sum((p.amount for p in facts.payments if p.ordered <= paid_by), ZERO)
        if facts.principal > 0 and timely >= facts.principal and day > paid_by:
            flag(
                step,
                "escalated_after_timely_payment",
                Severity.BREACH,
                f"{name} on {day} although {fmt(timely)} was ordered by {what} {paid_by}",
                True,
            )
        deadline, what = _previous_deadline(facts, step)
        escalating = not isinstance(step, NoticeRecord) or name in ESCALATING_NOTICES
        if escalating and day <= deadline:
            flag(
                step,
                "escalated_before_deadline",
                Severity.BREACH,
                f"{name} on {day} before {what} {deadline} had passed",
                True,
            )
        for d in facts.deferrals:
            if d.granted_on <= day <= d.until:
                flag(
                    step,
                    "escalated_before_deadline",
                    Severity.BREACH,
                    f"{name} on {day} during the deferral granted until {d.until}",
                    True,
                )
        limit = _limitation_on(facts, day)
        if limit is not None and day > limit:
            flag(
                step,
                "time_barred_collection",
                Severity.BREACH,
                f"{name} on {day} after the limitation date {limit}",
                True,
            )

    for threat in facts.notices:
        if threat.carry_out_by is not None and not _threat_moot(facts, threat):
            findings.append(
                Finding(
                    threat.command_id,
                    "threat_not_carried_out",
                    Severity.BREACH,
                    f"the {threat.notice} of {threat.sent_on} announced a step the creditor's guidelines have it "
                    f"carry out by {threat.carry_out_by}; it was not carried out (god inkassosed: no threat of a "
                    "step one does not take)",
                    from_day=threat.carry_out_by + timedelta(days=1),
                )
            )

    for o in facts.objections:
        if o.outcome in (ObjectionOutcome.MAINTAINED, ObjectionOutcome.UPHELD) and o.resolved_on is not None:
            for step in steps:
                if _day(step) <= o.resolved_on and step.command_id not in lost:
                    lost[step.command_id] = (
                        f"objection {o.outcome} on {o.resolved_on}: collection costs can no longer be recovered"
                    )
    for c in facts.complaints:
        if c.outcome == "breach" and c.decided_on is not None:
            findings.append(
                Finding(
                    c.command_id,
                    "complaint_breach",
                    Severity.BREACH,
                    f"the complaints board found a breach of good collection practice on "
                    f"{c.decided_on}; all collection costs fall away",
                )
            )
            for step in steps:
                if _day(step) <= c.decided_on and step.command_id not in lost:
                    lost[step.command_id] = f"complaints board found a breach on {c.decided_on}"

    for step in steps:
        if step.command_id in lost and _amount(step) > 0:
            findings.append(
                Finding(
                    step.command_id,
                    "costs_not_recoverable",
                    Severity.INFO,
                    f"{'fee' if isinstance(step, NoticeRecord) else 'cost'} "
                    f"{fmt(_amount(step))} of the {_name(step)} on {_day(step)} can no longer "
                    f"be recovered ({lost[step.command_id]})",
                )
            )
    return AuditResult(tuple(findings), lost)
