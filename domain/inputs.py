"""Checks of a command's own arguments, decided without the claim they name.

Each raises ``invalid_input`` naming the field and the rule. The claim's command methods call them
first; the application also calls them when the invoice is unknown, because the contract reports
``invalid_input`` before ``unknown_invoice`` when both apply (FORMAT.md 1.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from domain.errors import invalid
from domain.records import Installment, ObjectionOutcome
from domain.rules import Rules

WRITE_OFF_REASONS = frozenset({"time_barred", "deceased", "bankruptcy", "uneconomic", "other"})
COMPLAINT_OUTCOMES = frozenset({"breach", "no_breach"})
SERVICES = frozenset({"water", "childcare"})


def require_amount(field: str, amount: Decimal) -> None:
    """Money in a command: more than zero, in whole øre/öre."""
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise invalid(field, f"{amount} must be an amount greater than zero in whole øre/öre")


def check_payment(amount: Decimal, ordered: date, on: date, designation: str | None) -> None:
    require_amount("amount", amount)
    if ordered > on:
        raise invalid("ordered", f"the payment order date {ordered} lies after the registration date {on}")
    if designation not in (None, "principal"):
        raise invalid("designation", f"'{designation}' is not a designation (only 'principal')")


def check_notice(rules: Rules, notice: str, deadline: date | None, on: date) -> None:
    if notice not in rules.notices and notice not in rules.notices_elsewhere:
        known = ", ".join(sorted(rules.notices))
        raise invalid("notice", f"'{notice}' is not a {rules.jurisdiction} notice ({known})")
    if deadline is not None and deadline <= on:
        raise invalid("deadline", f"the deadline {deadline} must lie after the sending day {on}")


def check_received(what: str, received: date, on: date) -> None:
    if received > on:
        raise invalid("received", f"the {what} cannot be received {received}, after it is registered {on}")


def objection_outcome(outcome: str, amount: Decimal | None) -> ObjectionOutcome:
    try:
        result = ObjectionOutcome(outcome)
    except ValueError:
        raise invalid("outcome", f"'{outcome}' is not upheld, maintained or unfounded") from None
    if result == ObjectionOutcome.UPHELD and amount is not None:
        require_amount("amount", amount)
    return result


def check_deferral(until: date, on: date) -> None:
    if until <= on:
        raise invalid("until", f"the deferral must end after it is granted ({until} ≤ {on})")


def check_installments(installments: Sequence[Installment], on: date) -> None:
    if not installments:
        raise invalid("installments", "a payment plan needs at least one instalment")
    for i, inst in enumerate(installments):
        require_amount(f"installments[{i}].amount", inst.amount)
    dues = [i.due for i in installments]
    if dues != sorted(dues) or len(set(dues)) != len(dues) or dues[0] < on:
        raise invalid(
            "installments", f"instalment due dates must be distinct, ascending and not before the agreement day {on}"
        )


def check_judgment_dates(on: date, decided: date, served: date | None) -> None:
    """A judgment is decided, then served, both by the day it is registered."""
    if decided > on:
        raise invalid("decided", f"the judgment date {decided} lies after the registration date {on}")
    if served is not None and not decided <= served <= on:
        raise invalid("served", f"service {served} must lie between the judgment {decided} and the registration {on}")


def check_write_off(reason: str) -> None:
    if reason not in WRITE_OFF_REASONS:
        raise invalid("reason", f"'{reason}' is not one of {', '.join(sorted(WRITE_OFF_REASONS))}")


def check_reason(reason: str, what: str) -> None:
    if not reason.strip():
        raise invalid("reason", f"a {what} needs a reason")


def check_service(service: str) -> None:
    if service not in SERVICES:
        raise invalid("service", f"'{service}' is not one of {', '.join(sorted(SERVICES))}")


def check_complaint_outcome(outcome: str) -> None:
    if outcome not in COMPLAINT_OUTCOMES:
        raise invalid("outcome", f"'{outcome}' is not breach or no_breach")
