"""Who may do what: decided here, once, for every route — from the token's roles and the case.

- caseworker: every case command on the creditors of their office and on its debtors; reads the
  office's cases, worklists, debtor overviews, findings and settlement.
- office lead: as a caseworker, plus registering creditors and changing their policies; reads parked events.
- complaints board: decides complaints on cases with a filed complaint; reads only such cases and
  the complaints worklist.
- auditor: no commands; reads everything — every office, a case as known on a past date, the event
  export, the access log.
- debtor (a resident): reads only their own cases (the token's ``pid`` → their debtor records); on
  their own claims disputes the claim (``register_objection``), complains about the conduct
  (``file_complaint``) and applies for a payment plan or a deferral (decided by the creditor's
  policy); writes to and reads their own message thread.
- billing system: issues invoices and credit notes and registers debtors, for its own municipality
  only; reads nothing.

A request whose roles allow the route at all but not this case or creditor is refused with 403 too.
Every read of a case by a person is written to the access log before the answer leaves.

The pages (``web.pages``) ask the same questions: ``PAGES`` says which roles open each area.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from domain.application import CollectionApp
from web.auth import Principal, Role
from web.problems import Problem
from web.services import Services

CASEWORK = frozenset({Role.CASEWORKER, Role.OFFICE_LEAD})
CASE_READERS = frozenset({Role.CASEWORKER, Role.OFFICE_LEAD, Role.COMPLAINTS_BOARD, Role.AUDITOR, Role.DEBTOR})
OFFICE_READERS = frozenset({Role.CASEWORKER, Role.OFFICE_LEAD, Role.AUDITOR})
DEBTOR_ACTS = CASEWORK | {Role.DEBTOR}
"""Commands a debtor may give on their own claims (a caseworker on the office's, for a debtor who called)."""

PAGES: dict[str, frozenset[Role]] = {
    "my": frozenset({Role.DEBTOR}),  # the debtor's own page
    "desk": CASEWORK,  # the caseworker's desk
    "parked": frozenset({Role.OFFICE_LEAD, Role.AUDITOR}),  # events the projections parked (as the API)
    "board": frozenset({Role.COMPLAINTS_BOARD}),  # the complaints board
    "audit": frozenset({Role.AUDITOR}),  # history, export, projections, access log
    "dashboard": CASEWORK | {Role.AUDITOR},  # the office's (an auditor's: every office's) figures
}
"""Which roles open each area of the pages."""


@dataclass(frozen=True)
class Case:
    """What access depends on, read from the event store (so a decision never waits for a projection)."""

    creditor: str
    invoice: str
    case_id: str
    office: str
    debtor_id: str
    complaint_filed: bool


@dataclass(frozen=True)
class Target:
    """What a command acts on: a creditor's claim, a creditor, or a collection office's debtor."""

    creditor: str | None = None
    invoice: str | None = None
    office: str | None = None


def forbidden(detail: str, rule: str) -> Problem:
    return Problem("forbidden", detail, rule=rule)


@dataclass
class Access:
    services: Services
    principal: Principal
    _debtor_ids: list[str] | None = field(default=None, repr=False)

    def require(self, roles: Iterable[Role], what: str) -> None:
        allowed = frozenset(roles)
        if not self.principal.roles & allowed:
            have = ", ".join(sorted(self.principal.roles)) or "no role"
            raise forbidden(
                f"{what} is not open to {have}", f"needs one of the roles {', '.join(sorted(r.value for r in allowed))}"
            )

    # --- cases ---------------------------------------------------------------------------------

    def case(self, app: CollectionApp, creditor: str, invoice: str) -> Case:
        claim = app.claim(creditor, invoice)  # unknown_invoice (404) when there is none
        return Case(
            creditor=creditor,
            invoice=invoice,
            case_id=str(claim.id),
            office=self.services.office_of(creditor),
            debtor_id=claim.debtor_id,
            complaint_filed=bool(claim.facts.complaints),
        )

    def may_read(self, case: Case) -> bool:
        p, roles = self.principal, self.principal.roles
        return (
            Role.AUDITOR in roles
            or (bool(roles & CASEWORK) and p.office is not None and p.office == case.office)
            or (Role.COMPLAINTS_BOARD in roles and case.complaint_filed)
            or (Role.DEBTOR in roles and case.debtor_id in self.debtor_ids())
        )

    def check_read(self, case: Case) -> None:
        if not self.may_read(case):
            raise forbidden(
                f"invoice {case.invoice} of creditor {case.creditor} is not yours to read",
                "caseworkers read their office's cases, the complaints board cases with a complaint, debtors their own",
            )

    def debtor_ids(self) -> list[str]:
        """The debtor records of a resident (empty for staff)."""
        if self._debtor_ids is None:
            pid = self.principal.pid
            self._debtor_ids = self.services.debtor_ids_of_person(pid) if pid else []
        return self._debtor_ids

    # --- lists ---------------------------------------------------------------------------------

    def office_creditors(self, office: str | None = None) -> list[str] | None:
        """The creditors a list may show: the principal's office (or, for an auditor, ``office`` or all: None)."""
        p = self.principal
        if Role.AUDITOR in p.roles:
            return None if office is None else self.services.creditors_of(office)
        if p.roles & CASEWORK and p.office:
            if office is not None and office != p.office:
                raise forbidden(f"office {office} is not yours", "caseworkers and office leads see their own office")
            return self.services.creditors_of(p.office)
        return []

    # --- commands ------------------------------------------------------------------------------

    def check_command(self, name: str, roles: frozenset[Role], target: Target, app: CollectionApp) -> None:
        self.require(roles, f"the command {name}")
        p, mine = self.principal, self.principal.roles & roles
        office = target.office or (self.services.office_of(target.creditor) if target.creditor else None)
        if mine & CASEWORK and p.office is not None and office == p.office:
            return
        if Role.BILLING_SYSTEM in mine and p.municipality is not None:
            if target.creditor == p.municipality:
                return
            if target.creditor is None and office == self.services.office_of(p.municipality):
                return
        if Role.COMPLAINTS_BOARD in mine and target.creditor and target.invoice:
            if self.case(app, target.creditor, target.invoice).complaint_filed:
                return
        if Role.DEBTOR in mine and target.creditor and target.invoice:
            if self.case(app, target.creditor, target.invoice).debtor_id in self.debtor_ids():
                return
        where = f"creditor {target.creditor}" if target.creditor else f"office {office}"
        raise forbidden(
            f"{name} on {where} is not yours to do",
            "caseworkers act for their office's creditors, billing systems for their own municipality, "
            "the complaints board on cases with a complaint, debtors on their own claims",
        )
