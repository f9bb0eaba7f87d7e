"""Samlesak: a debtor's claims of one creditor that are due for the same step on the same day go in ONE
letter or ONE enforcement request, so fees and court fees do not multiply.

Which claims may be merged (``merge_key``): one creditor, one debtor, the same step — the same notice
with the same deadline, or the same route — and the same purpose (the policy's step, or long-term
monitoring's). The creditor's policy switches it (``CollectionPolicy.merge_claims``, on by default).
Each claim's own rules must allow the step: the case flow asks every claim first
(``Claim.decide_notice`` / ``decide_enforcement``, which record nothing) and leaves a refused claim out
of the letter with its own refusal, so one claim cannot hold the others back.

The fee rule is the combined letter's (``CollectionApp.send_combined_notice`` /
``request_combined_enforcement``, ADR 0012): ONE fee, on the first claim of the letter whose own fee cap
still allows one; ONE court or enforcement fee per request, on the first claim. A letter lists its
claims oldest first (``letter_order``), so the fee falls on the oldest claim that may carry it.

``priced_alone`` is the counterfactual the demo reports: what a claim's trail would have cost had every
letter and request gone for it alone — the same steps on the same days, each priced by the claim's own
rules and fee caps (ADR 0021).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

from domain.claim import Claim
from domain.money import ZERO
from domain.policy import CollectionPolicy, PlannedAction
from domain.records import NoticeRecord
from domain.rules import Rules, rules_for

MergeKey = tuple[str, str, str, str, date | None, bool]
Planned = tuple[Claim, PlannedAction]


def merge_key(claim: Claim, action: PlannedAction) -> MergeKey:
    """Claims with equal keys may share one letter or request: creditor, debtor, step, deadline, purpose."""
    return (claim.creditor_id, claim.debtor_id, action.kind, action.name, action.deadline, action.monitoring)


def letter_order(claim: Claim) -> tuple[date, str]:
    """The order of a letter's claims: oldest effective due date first, then invoice number."""
    return claim.effective_due, claim.invoice


def merge(planned: Sequence[Planned], policy: CollectionPolicy) -> list[list[Planned]]:
    """The day's planned steps as letters: each group one letter or request (one claim alone when the policy
    does not merge or nothing matches), its claims in ``letter_order``, the groups in the order of their
    first claim in ``planned``."""
    if not policy.merge_claims:
        return [[p] for p in planned]
    groups: dict[MergeKey, list[Planned]] = {}
    for claim, action in planned:
        groups.setdefault(merge_key(claim, action), []).append((claim, action))
    return [sorted(group, key=lambda p: letter_order(p[0])) for group in groups.values()]


def cases_digest(case_ids: Iterable[UUID | str]) -> str:
    """A short digest of a set of case ids, the same whatever their order: the key of one combined command."""
    joined = ",".join(sorted(str(c) for c in case_ids))
    return hashlib.sha256(joined.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Charges:
    """What a claim's steps charged, and what they would have charged had each gone for the claim alone."""

    fees: Decimal
    costs: Decimal
    fees_alone: Decimal
    costs_alone: Decimal
    combined: int
    """Combined letters and requests the claim was in."""


def priced_alone(claim: Claim, *, fees_enabled: bool, reminder_fee_agreed: bool, rules: Rules | None = None) -> Charges:
    """The claim's notice fees and court/enforcement fees as recorded, and as they would have been with every
    combined letter and request sent for this claim alone: each combined notice priced again by the
    claim's rules on its day after the claim's trail so far — with the fees it would have carried alone,
    so a fee cap counts them — and each later notice too once that trail differs; each combined request at
    the fee of one request on its day. Recorded figures, never re-read, wherever nothing was combined."""
    rules = rules or rules_for(claim.jurisdiction.value)
    facts = claim.facts
    trail: list[NoticeRecord] = []
    fees = fees_alone = ZERO
    diverged = False
    for n in facts.notices:
        fee = n.fee
        if n.combined or diverged:
            earlier = dataclasses.replace(facts, notices=list(trail))
            fee, _ = rules.notice_fee(
                earlier, n.notice, n.sent_on, fees_enabled=fees_enabled, reminder_fee_agreed=reminder_fee_agreed
            )
            diverged = diverged or fee != n.fee
        trail.append(dataclasses.replace(n, fee=fee))
        fees, fees_alone = fees + n.fee, fees_alone + fee
    costs = sum((e.cost for e in facts.enforcements), ZERO)
    costs_alone = sum(
        (rules.enforcement_cost(e.route, e.requested_on)[0] if e.combined else e.cost for e in facts.enforcements),
        ZERO,
    )
    combined = sum(n.combined for n in facts.notices) + sum(e.combined for e in facts.enforcements)
    return Charges(fees, costs, fees_alone, costs_alone, combined)
