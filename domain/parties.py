"""Creditors (municipalities, possibly in an inter-municipal collection office) and debtors.

A debtor belongs to a collection office, so one person's claims from several municipalities of the
office meet in one place. Case events carry only the debtor's opaque id: national id, name and
address never enter the event stream.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from datetime import date
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate


@functools.lru_cache(maxsize=1024)
def creditor_id_for(namespace: UUID, creditor: str) -> UUID:
    return uuid5(namespace, f"creditor:{creditor}")


@functools.lru_cache(maxsize=65536)
def debtor_id_for(namespace: UUID, office: str, ref: str, salt: bytes) -> UUID:
    """A keyed hash of the office's debtor reference: opaque, so it may travel in case events. (Cached: a
    batch asks for the same debtor's id several times per command; a UUID is immutable.)"""
    digest = hmac.new(salt, f"{namespace}:debtor:{office}:{ref}".encode(), hashlib.sha256).digest()
    return UUID(bytes=digest[:16], version=4)


class Creditor(Aggregate):
    """A municipality collecting its own claims (egeninkasso) with its collection policy."""

    class Registered(Aggregate.Created):
        command_id: str
        recorded: date
        creditor: str
        name: str
        jurisdiction: str
        office: str
        policy: dict[str, Any]
        kid_algorithm: str
        kid_length: int

        def apply(self, c: Creditor) -> None:
            c.creditor, c.name, c.jurisdiction, c.office = self.creditor, self.name, self.jurisdiction, self.office
            c.policy, c.kid_algorithm, c.kid_length = self.policy, self.kid_algorithm, self.kid_length

    class PolicyChanged(Aggregate.Event):
        command_id: str
        recorded: date
        policy: dict[str, Any]

        def apply(self, c: Creditor) -> None:
            c.policy = self.policy

    creditor: str
    name: str
    jurisdiction: str
    office: str
    policy: dict[str, Any]
    kid_algorithm: str
    kid_length: int

    def __init__(self) -> None:
        """State is set by ``Registered.apply``."""

    def change_policy(self, *, command_id: str, on: date, policy: dict[str, Any]) -> None:
        self.trigger_event(self.PolicyChanged, command_id=command_id, recorded=on, policy=policy)


class Debtor(Aggregate):
    """A person or organisation owing claims to the office's municipalities."""

    class Registered(Aggregate.Created):
        command_id: str
        recorded: date
        office: str
        ref: str
        kind: str
        jurisdiction: str
        opaque_id: str
        contact: dict[str, bool]

        def apply(self, d: Debtor) -> None:
            d.office, d.ref, d.kind, d.jurisdiction = self.office, self.ref, self.kind, self.jurisdiction
            d.opaque_id, d.contact = self.opaque_id, dict(self.contact)
            d.claims, d.died, d.publications, d.estate_report_deadline = [], None, [], None

    class ClaimAttached(Aggregate.Event):
        """Recorded per invoice until the command log linked claims to their debtor (ADR 0024): kept
        so the debtors of older stores still list their claims; no longer recorded."""

        command_id: str
        recorded: date
        claim_id: UUID

        def apply(self, d: Debtor) -> None:
            d.claims.append(self.claim_id)

    class Died(Aggregate.Event):
        command_id: str
        recorded: date
        died: date

        def apply(self, d: Debtor) -> None:
            d.died = self.died

    class ProklamaPublished(Aggregate.Event):
        command_id: str
        recorded: date
        published: date
        report_deadline: date

        def apply(self, d: Debtor) -> None:
            d.publications.append(self.published)
            d.estate_report_deadline = self.report_deadline

    office: str
    ref: str
    kind: str
    jurisdiction: str
    opaque_id: str
    contact: dict[str, bool]
    claims: list[UUID]
    died: date | None
    publications: list[date]
    estate_report_deadline: date | None

    def __init__(self) -> None:
        """State is set by ``Registered.apply``."""

    def die(self, *, command_id: str, on: date, died: date) -> None:
        self.trigger_event(self.Died, command_id=command_id, recorded=on, died=died)

    def publish_proklama(self, *, command_id: str, on: date, published: date, report_deadline: date) -> None:
        self.trigger_event(
            self.ProklamaPublished,
            command_id=command_id,
            recorded=on,
            published=published,
            report_deadline=report_deadline,
        )
