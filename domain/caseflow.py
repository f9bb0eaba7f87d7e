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

A day of several claims of one creditor (``run_days``) runs steps 1–3 for each, then takes the
policy steps together: claims of one debtor due for the same step go in ONE letter or request when the
policy merges (samlesak, ``domain.merging``) — each claim asked first whether its own rules allow the
step, a refused one left out with its own refusal — then step 5 for each.

Command ids have one format, ``<prefix>/<case id>/<step>/<day>``: ``step`` is the notice, the
enforcement route or ``plan`` (the plan check), ``day`` the ISO date, ``prefix`` the driver's —
``auto`` for the process manager, the scenario step's own command id for ``run_policies``. A combined
letter or request has one id for all its claims, ``<prefix>/samlesak-<digest>/<step>/<day>``, the
digest taken over its sorted case ids (``combined_command_id``). They are deterministic and a claim
ignores a command id it has seen, so running a day again (a restarted process, a tick repeated after
a crash) sends nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING
from uuid import UUID

from domain import merging
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


def combined_command_id(prefix: str, case_ids: Iterable[UUID | str], step: str, day: date) -> str:
    """``<prefix>/samlesak-<digest>/<step>/<day>``: the one id of a letter or request covering several claims,
    the digest of their sorted case ids — the same whatever order the claims come in."""
    return command_id(prefix, f"samlesak-{merging.cases_digest(case_ids)}", step, day)


def is_closed(claim: Claim) -> bool:
    return claim.closed_on is not None or claim.write_off_reason is not None


@dataclass(frozen=True, slots=True)
class Step:
    """A notice or enforcement request the day's flow issued, and the refusal if the law said no."""

    command_id: str
    action: PlannedAction
    refused: CommandRefused | None = None
    letter: tuple[str, ...] = ()
    """The invoices of the combined letter or request the step went in (empty: the claim alone)."""

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
    """Run ``day`` of the case flow for the claim ``creditor``/``invoice`` alone (see ``run_days``)."""
    (done,) = run_days(
        app,
        creditor=creditor,
        claims=[(invoice, refusals)],
        day=day,
        policy=policy,
        prefix=prefix,
        plan_grace_days=plan_grace_days,
        schedule=schedule,
    )
    return done


def run_days(
    app: CollectionApp,
    *,
    creditor: str,
    claims: Sequence[tuple[str, int]],
    day: date,
    policy: CollectionPolicy,
    prefix: str,
    plan_grace_days: int = PLAN_GRACE_DAYS,
    schedule: bool = True,
) -> list[CaseDay]:
    """Run ``day`` of the case flow for ``claims`` of ``creditor`` — (invoice, steps refused in a row before
    today) each — merging the policy steps of one debtor's claims (see the module's docstring). One
    ``CaseDay`` per claim, in the order given.

    ``plan_grace_days``: days after an instalment's due date before it counts as missed (``run_policies``
    passes 0, the contract's reading: the worked cases expect a breach the day after). ``schedule``: also
    compute the next checks. Commands go through ``app`` and are saved there (inside its ``unit_of_work``
    if open)."""
    results: list[CaseDay] = []
    planned: list[merging.Planned] = []
    for invoice, refusals in claims:
        claim = app.claim(creditor, invoice)
        result = CaseDay(day, claim, refusals)
        results.append(result)
        if is_closed(claim):
            continue
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
            planned.append((claim, action))
    steps: dict[UUID, Step] = {}
    for letter in merging.merge(planned, policy):
        steps.update(_take(app, creditor, letter, day, prefix, policy))
    for result in results:
        step = steps.get(result.claim.id)
        if step is not None:
            result.step = step
            result.refusals = 0 if step.accepted else result.refusals + 1
            result.claim = app.claim(creditor, result.claim.invoice)  # the fresh claim decides the next check
        if schedule and not result.closed:
            rules = rules_for(result.claim.jurisdiction.value)
            result.next_check = next_check(
                result.claim,
                policy,
                day,
                open_total=open_total(result.claim, day, rules),
                refusals=result.refusals,
                plan_grace_days=plan_grace_days,
            )
    return results


def _take(
    app: CollectionApp, creditor: str, letter: list[merging.Planned], day: date, prefix: str, policy: CollectionPolicy
) -> dict[UUID, Step]:
    """One letter's step: the claims whose own rules allow it in one command (alone under the claim's own
    command id, several under the combined id); a claim the rules refuse gets its own refusal."""
    steps: dict[UUID, Step] = {}
    allowed = letter
    if len(letter) > 1:
        allowed = []
        for claim, action in letter:
            refused = refusal(claim, action, day, policy)
            if refused is None:
                allowed.append((claim, action))
            else:
                steps[claim.id] = Step(command_id(prefix, claim.id, action.name, day), action, refused)
    if len(allowed) == 1:
        claim, action = allowed[0]
        step_id = command_id(prefix, claim.id, action.name, day)
        steps[claim.id] = Step(step_id, action, _issue(app, creditor, [claim.invoice], action, day, step_id))
    elif allowed:
        action = allowed[0][1]
        step_id = combined_command_id(prefix, (c.id for c, _ in allowed), action.name, day)
        invoices = [c.invoice for c, _ in allowed]
        refused = _issue(app, creditor, invoices, action, day, step_id)
        for claim, own in allowed:
            steps[claim.id] = Step(step_id, own, refused, tuple(invoices))
    return steps


def refusal(claim: Claim, action: PlannedAction, day: date, policy: CollectionPolicy) -> CommandRefused | None:
    """Why the claim's own rules refuse ``action`` on ``day`` (None: they allow it), recording nothing: the
    test a claim passes before it joins a combined letter or request."""
    rules = rules_for(claim.jurisdiction.value)
    try:
        if action.kind == "notice":
            claim.decide_notice(
                on=day,
                notice=action.name,
                deadline=action.deadline,
                died=claim.facts.died,
                fees_enabled=policy.fees_enabled,
                reminder_fee_agreed=policy.reminder_fee_agreed,
                rules=rules,
            )
        else:
            claim.decide_enforcement(on=day, route=action.name, died=claim.facts.died, rules=rules)
    except CommandRefused as refused:
        return refused
    return None


def _issue(
    app: CollectionApp, creditor: str, invoices: list[str], action: PlannedAction, day: date, step_id: str
) -> CommandRefused | None:
    """The step as one command: for one claim the ordinary one, for several the combined letter or request."""
    try:
        if action.kind == "notice" and len(invoices) == 1:
            app.send_notice(
                creditor=creditor,
                invoice=invoices[0],
                notice=action.name,
                on=day,
                command_id=step_id,
                deadline=action.deadline,
                monitoring=action.monitoring,
            )
        elif action.kind == "notice":
            app.send_combined_notice(
                creditor=creditor,
                invoices=invoices,
                notice=action.name,
                on=day,
                command_id=step_id,
                deadline=action.deadline,
                monitoring=action.monitoring,
            )
        elif len(invoices) == 1:
            app.request_enforcement(
                creditor=creditor,
                invoice=invoices[0],
                route=action.name,
                on=day,
                command_id=step_id,
                monitoring=action.monitoring,
            )
        else:
            app.request_combined_enforcement(
                creditor=creditor,
                invoices=invoices,
                route=action.name,
                on=day,
                command_id=step_id,
                monitoring=action.monitoring,
            )
    except CommandRefused as refused:
        return refused
    return None
