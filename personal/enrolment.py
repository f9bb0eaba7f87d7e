"""Registering a debtor: the case side (an opaque debtor aggregate) and the register side (the person).

The national id never reaches the domain: the debtor aggregate is keyed by the office's reference,
its opaque id is an HMAC of office and reference under the office's secret, and the register maps the
national id to the debtor id through its keyed look-up index. Erasing the register entry therefore
leaves nothing in the case events that leads back to the person.

Order: every check first (the fields, the national id, a conflicting reference), then the domain
command (idempotent by reference), then the register (idempotent by debtor id). A failure between the
two leaves a debtor without personal data, which the same registration repeated completes.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from personal.model import Person
from personal.register import DebtorRegister


def register_person(
    app: Any, register: DebtorRegister, *, office: str, ref: str, person: Person, on: date, command_id: str
) -> str:
    """The debtor id (the id case events carry) of the registered person."""
    register.check_enrolment(office=office, ref=ref, person=person)
    debtor = app.register_debtor(
        office=office,
        ref=ref,
        kind=person.kind,
        jurisdiction=person.jurisdiction,
        on=on,
        command_id=command_id,
        contact=person.contact_flags(),
    )
    register.enrol(debtor_id=str(debtor), office=office, ref=ref, person=person)
    return str(debtor)
