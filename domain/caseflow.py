"""One day of one claim's case flow: what the creditor's policy and the law call for, as commands.

One piece of code serves both drivers of the case flow:

- ``CollectionApp.run_policies`` (the scenario contract's ``run_policies``) runs it for every day
  of a window;
- the process manager (``consumers.automate``, ``kravsak automate``) runs it on the days its
  worklist says something may be due, and keeps what it answers (steps, alert, next check).

What a day does, in order:

1. A closed claim (paid, written off) gets nothing.
2. The payment plan: once no instalment is within its grace days (``policy.plan_checkable``),
   ``Claim.check_plan`` records a breach of a missed instalment.
3. The limitation alert: the days left when the limitation date lies within the policy's alert
   days (``policy.limitation_alert``); the driver records it.
4. The policy's step (``policy.due_action``): a notice or an enforcement request, issued through
   the application. The law still decides: a refusal is kept with its code, nothing is recorded.
5. When to look again (``policy.next_check``) on the claim as it now stands, with the back-off
   after refusals in a row.

Command ids have one format, ``<prefix>/<case id>/<step>/<day>``: ``step`` is the notice, the
enforcement route or ``plan`` (the plan check), ``day`` the ISO date, ``prefix`` the driver's —
``auto`` for the process manager, the scenario step's own command id for ``run_policies``. They
are deterministic and a claim ignores a command id it has seen, so running a day again (a
restarted process, a tick repeated after a crash) sends nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING
from uuid import UUID

from domain.claim import Claim
from domain.errors import CommandRefused
from domain.policy import (
    PLAN_GRACE_DAYS,
    CollectionPolicy,
    PlannedAction,
    due_action,
    limitation_alert,
    next_check,
    open_total,
    plan_checkable,
)
from domain.rules import rules_for

if TYPE_CHECKING:  # the application calls this module; it is only named here for the types
    from domain.application import CollectionApp

AUTOMATE_PREFIX = "auto"
"""The command-id prefix of the process manager."""


def command_id(prefix: str, case_id: UUID | str, step: str, day: date) -> str:
    """``<prefix>/<case id>/<step>/<day>``: the id of a step the case flow takes on ``day``."""
    return f"{prefix}/{case_id}/{step}/{day.isoformat()}"


def is_closed(claim: Claim) -> bool:
    return claim.closed_on is not None or claim.write_off_reason is not None


@dataclass(frozen=True, slots=True)
class Step:
    """A notice or enforcement request the day's flow issued, and the refusal if the law said no."""

    command_id: str
    action: PlannedAction
    refused: CommandRefused | None = None

    @property
    def accepted(self) -> bool:
        return self.refused is None


@dataclass(slots=True)
class CaseDay:
    """What one day of the case flow did to one claim."""

    day: date
    claim: Claim
    """The claim as it stands after the day (loaded again after a command)."""
    refusals: int
    """Steps refused in a row, this day's included (0 after an accepted one): the back-off."""
    plan_breach: str | None = None
    """The command id of the payment-plan breach recorded today."""
    alert_days_left: int | None = None
    """Days left to the limitation date, when within the policy's alert days."""
    step: Step | None = None
    next_check: date | None = None
    """When to look at the claim again (None: closed, time-barred, or with ``schedule=False``)."""

    @property
    def closed(self) -> bool:
        return is_closed(self.claim)


def run_day(
    app: CollectionApp,
    *,
    creditor: str,
    invoice: str,
    day: date,
    policy: CollectionPolicy,
    prefix: str,
    refusals: int = 0,
    plan_grace_days: int = PLAN_GRACE_DAYS,
    schedule: bool = True,
) -> CaseDay:
    """Run ``day`` of the case flow for the claim ``creditor``/``invoice`` (see the module's docstring).

    ``refusals``: steps refused in a row before today. ``plan_grace_days``: days after an
    instalment's due date before it counts as missed (``run_policies`` passes 0, the contract's
    reading: the worked cases expect a breach the day after). ``schedule``: also compute the next
    check. Commands go through ``app`` and are saved there (inside its ``unit_of_work`` if open)."""
    claim = app.claim(creditor, invoice)
    result = CaseDay(day, claim, refusals)
    if is_closed(claim):
        return result
    rules = rules_for(claim.jurisdiction.value)
    breach_id = command_id(prefix, claim.id, "plan", day)
    if plan_checkable(claim, day, plan_grace_days) and claim.check_plan(command_id=breach_id, on=day, rules=rules):
        app.save(claim)
        result.plan_breach = breach_id
    result.alert_days_left = limitation_alert(claim, policy, day)
    action = due_action(
        claim,
        day,
        policy,
        debtor_open_total=open_total(claim, day, rules),
        is_working_day=rules.calendar.is_working_day(day),
    )
    if action is not None:
        step_id = command_id(prefix, claim.id, action.name, day)
        result.step = Step(step_id, action, _issue(app, creditor, invoice, action, day, step_id))
        result.refusals = 0 if result.step.accepted else refusals + 1
        claim = result.claim = app.claim(creditor, invoice)  # the fresh claim decides the next check
    if schedule and not is_closed(claim):
        result.next_check = next_check(
            claim,
            policy,
            day,
            open_total=open_total(claim, day, rules),
            refusals=result.refusals,
            plan_grace_days=plan_grace_days,
        )
    return result


def _issue(
    app: CollectionApp, creditor: str, invoice: str, action: PlannedAction, day: date, step_id: str
) -> CommandRefused | None:
    try:
        if action.kind == "notice":
            app.send_notice(
                creditor=creditor,
                invoice=invoice,
                notice=action.name,
                on=day,
                command_id=step_id,
                deadline=action.deadline,
            )
        else:
            app.request_enforcement(creditor=creditor, invoice=invoice, route=action.name, on=day, command_id=step_id)
    except CommandRefused as refused:
        return refused
    return None
