"""Erasure by destroying the key: when the law lets the office forget a debtor, and doing it.

Two grounds:

- ``retention_expired`` — every claim of the debtor is closed (paid or written off) and the
  accounting retention of the latest closing has run out (``domain.retention``).
- ``request`` — the debtor asks (GDPR art. 17(1)). Reading recorded (ADR 0014): while a claim is
  open the request is refused under art. 17(3)(b) (the collection is a task in the public interest /
  official authority, and a legal obligation) and 17(3)(e) (establishing and defending the claim);
  after the claims are closed it is refused under art. 17(3)(b) until the accounting retention has
  run out, because the documentation that must be kept names the debtor. A debtor with no claim at
  all has nothing the office must keep: the request is granted. A refusal is recorded with its
  reasons, so the office can answer within the month art. 12(3) gives.

``erase`` destroys the debtor's data key, the sealed fields and the look-up index in one transaction,
runs the hooks of the other stores that hold data sealed with that key (the letters archive) in the
same transaction, and queues the debtor stream's tombstone. The case events are untouched: they never
held the person, and they stay valid and replayable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

import psycopg
import structlog

from domain.retention import retention_end
from personal.register import DebtorRegister

log = structlog.get_logger("kravsak.personal.erasure")

RETENTION_EXPIRED = "retention_expired"
REQUEST = "request"
GROUNDS = (RETENTION_EXPIRED, REQUEST)
BASIS = {
    RETENTION_EXPIRED: "GDPR art. 5(1)(e) storage limitation; accounting retention ended "
    "(bokføringsloven § 13 / lag (2018:597) 3 kap.)",
    REQUEST: "GDPR art. 17(1)",
}

Hook = Callable[[psycopg.Cursor[Any], str], None]


class ErasureRefused(Exception):
    """The law does not let the office forget this debtor yet; ``assessment.reasons`` says why."""

    def __init__(self, assessment: Assessment) -> None:
        super().__init__("; ".join(assessment.reasons))
        self.assessment = assessment


@dataclass(frozen=True, slots=True)
class Assessment:
    debtor_id: str
    ground: str
    eligible: bool
    reasons: tuple[str, ...]
    open_claims: tuple[str, ...]
    retained_until: date | None


def assess(app: Any, debtor_id: str, *, ground: str, today: date) -> Assessment:
    """Whether ``debtor_id`` may be erased on ``ground`` on ``today``, and why not."""
    if ground not in GROUNDS:
        raise ValueError(f"ground: {ground!r} is not one of {', '.join(GROUNDS)}")
    debtor = app.repository.get(UUID(debtor_id))
    open_claims: list[str] = []
    reasons: list[str] = []
    retained: date | None = None
    claim_ids = app.claims_of_debtor(debtor)
    for claim_id in claim_ids:
        claim = app.repository.get(claim_id)
        closed = claim.write_off_reason is not None or (claim.closed_on is not None and claim.account.balance() == 0)
        if not closed:
            open_claims.append(claim.invoice)
            barred = today > claim.limitation_date
            reasons.append(
                f"invoice {claim.invoice} (creditor {claim.creditor_id}) is open"
                + (" (time-barred: write it off first)" if barred else "")
                + ": GDPR art. 17(3)(b) and (e), the office needs the identity to collect and defend the claim"
            )
            continue
        end = retention_end(claim.jurisdiction.value, claim.closed_on or today)
        retained = end if retained is None else max(retained, end)
    if not open_claims and retained is not None and today <= retained:
        law = "bokføringsloven § 13" if debtor.jurisdiction == "NO" else "lag (2018:597) om kommunal bokföring 3 kap."
        reasons.append(
            f"the accounting documentation of the closed claims names the debtor and must be kept until "
            f"{retained} ({law}; GDPR art. 17(3)(b))"
        )
    if ground == RETENTION_EXPIRED and not claim_ids:
        reasons.append("the debtor has no claims, so no retention period runs out: erase on request")
    return Assessment(debtor_id, ground, not reasons, tuple(reasons), tuple(open_claims), retained)


def erase(
    app: Any,
    register: DebtorRegister,
    debtor_id: str,
    *,
    ground: str,
    today: date,
    reference: str = "",
    hooks: Sequence[Hook] = (),
) -> Assessment:
    """Destroy the debtor's key if the law allows it; ``ErasureRefused`` (and nothing changed) if not."""
    found = assess(app, debtor_id, ground=ground, today=today)
    if not found.eligible:
        if ground == REQUEST:
            register.record_request(
                debtor_id=debtor_id,
                ground=ground,
                received_on=today,
                reference=reference,
                outcome="refused",
                reasons="; ".join(found.reasons),
            )
        log.info("erasure refused", debtor_id=debtor_id, ground=ground, open_claims=len(found.open_claims))
        raise ErasureRefused(found)
    with register.conn.transaction(), register.conn.cursor() as cur:
        done = register.destroy(
            cur, debtor_id=debtor_id, ground=ground, basis=BASIS[ground], reference=reference, decided_on=today
        )
        for hook in hooks:
            hook(cur, debtor_id)
    if ground == REQUEST:
        register.record_request(
            debtor_id=debtor_id,
            ground=ground,
            received_on=today,
            reference=reference,
            outcome="erased" if done else "already erased",
            reasons="",
        )
    log.info("debtor erased", debtor_id=debtor_id, ground=ground, already=not done)
    return found


def erasable(app: Any, register: DebtorRegister, *, today: date) -> list[Assessment]:
    """The register's debtors whose retention has run out on ``today``."""
    with register.conn.cursor() as cur:
        cur.execute(f"SELECT debtor_id FROM {register.t('debtors')} ORDER BY debtor_id")
        ids = [str(r[0]) for r in cur.fetchall()]
    register.conn.commit()
    found = [assess(app, debtor_id, ground=RETENTION_EXPIRED, today=today) for debtor_id in ids]
    return [a for a in found if a.eligible]
