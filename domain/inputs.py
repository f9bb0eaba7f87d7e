"""Checks of a command's own arguments, decided without the claim they name: the domain's edge.

Each raises ``invalid_input`` naming the field and the rule — and never echoes free text back. One
function per kind of value, all here: amounts (``require_amount``, ``parse_amount``), identifiers
(``require_identifier``), free text (``require_text``), days (``require_day``, ``parse_day``), the
closed vocabularies (``jurisdiction``, ``debtor_kind``, ``check_notice`` …). ``check_arguments`` runs
the right one on every argument of an application command by its name (``ARGUMENT_KINDS``), so every
entry — the application, scenario files, the HTTP API, the CLI — refuses the same inputs the same way
before anything is stored.

The limits hold every type downstream (ADR 0023): ``MAX_AMOUNT`` in minor units is far inside Avro's
``long`` and a claim's sums stay inside the projections' ``numeric(16,2)``; identifiers fit the read
models' text columns (no NUL, which PostgreSQL's text refuses) and show as what they are (no
control or bidi-override characters, U+202E); days lie where the calendar arithmetic of limitation
and interest never leaves Python's ``date``.

The claim's command methods call the claim-level checks first; the application also calls them when
the invoice is unknown, because the contract reports ``invalid_input`` before ``unknown_invoice``
when both apply (FORMAT.md 1.1).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from domain.errors import invalid
from domain.records import DebtorKind, Installment, Jurisdiction, ObjectionOutcome
from domain.rules import Rules

MAX_AMOUNT: Final = Decimal("9999999999.99")
"""The largest amount a command may carry (just under ten thousand million kroner/kronor): ×100 it is
a 12-digit ``long``; ten thousand of them still fit a ``numeric(16,2)`` column (ADR 0023)."""
FIRST_DAY: Final = date(1900, 1, 1)
LAST_DAY: Final = date(2199, 12, 31)
"""Days a command may name: limitation (up to twenty years on) and interest stay inside ``date``."""
IDENTIFIER_LENGTH: Final = 64
KEY_LENGTH: Final = 600
"""Command ids, transaction ids, the person or service acting: keys made by machines (``<caller>/<key>``)."""
NAME_LENGTH: Final = 200
TEXT_LENGTH: Final = 4000
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_EXACT_DECIMAL = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_REFUSED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})
"""Control, format (bidi overrides U+202A–U+202E, U+2066–U+2069, zero-width), surrogate, private-use and
line/paragraph separators: nothing a person means in a name or a number."""
_TEXT_CONTROLS: Final = frozenset("\n\t")


def require_amount(field: str, amount: Decimal) -> None:
    """Money in a command: more than zero, in whole øre/öre, at most ``MAX_AMOUNT``."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise invalid(field, "must be a finite decimal amount")
    if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise invalid(field, f"{amount} must be an amount greater than zero in whole øre/öre")
    if amount > MAX_AMOUNT:
        raise invalid(field, f"an amount is at most {MAX_AMOUNT}")


def parse_amount(field: str, raw: object, *, allow_zero: bool = False) -> Decimal:
    """An amount as people type it: digits, an optional point and at most two decimals — no exponent
    (``1E+5``), no NaN/Infinity, no float — at most ``MAX_AMOUNT``."""
    if isinstance(raw, float | bool) or raw is None:
        raise invalid(field, f'money must be a decimal string such as "100.00", not {type(raw).__name__}')
    if isinstance(raw, int) and not -(10**15) < raw < 10**15:
        raise invalid(field, f"an amount is at most {MAX_AMOUNT}")
    text = str(raw).strip()
    if not _EXACT_DECIMAL.fullmatch(text):
        raise invalid(field, 'is not an exact decimal amount (digits, a point, at most two decimals: "1000.50")')
    whole, _, decimals = text.lstrip("+-").partition(".")
    if len(whole.lstrip("0")) > len(str(int(MAX_AMOUNT))):
        raise invalid(field, f"an amount is at most {MAX_AMOUNT}")
    if len(decimals.rstrip("0")) > 2:
        raise invalid(field, f"{text} has more than two decimals (whole øre/öre only)")
    amount = Decimal(text)
    if amount < 0 or (amount == 0 and not allow_zero):
        raise invalid(field, f"{text} must be {'zero or ' if allow_zero else ''}greater than zero")
    if amount > MAX_AMOUNT:
        raise invalid(field, f"an amount is at most {MAX_AMOUNT}")
    return amount.quantize(Decimal("0.01"))


def _refused_character(value: str, allowed: frozenset[str] = frozenset()) -> str | None:
    if value.isprintable():  # every refused category is unprintable: the common case in one call
        return None
    for ch in value:
        if ch not in allowed and unicodedata.category(ch) in _REFUSED_CATEGORIES:
            return f"U+{ord(ch):04X}"
    return None


def require_identifier(field: str, value: object, max_length: int = IDENTIFIER_LENGTH) -> str:
    """A number, code or reference (invoice, KID, command id, creditor, …): 1 to ``max_length``
    characters, no control or bidi-override characters, no spaces around it."""
    if not isinstance(value, str):
        raise invalid(field, f"must be text, not {type(value).__name__}")
    if not value.strip():
        raise invalid(field, "is required (empty)")
    if len(value) > max_length:
        raise invalid(field, f"is at most {max_length} characters (got {len(value)})")
    bad = _refused_character(value)
    if bad is not None:
        raise invalid(field, f"holds the control or formatting character {bad}")
    if value != value.strip():
        raise invalid(field, "has spaces before or after it")
    return value


def require_text(field: str, value: object, max_length: int = TEXT_LENGTH, *, required: bool = False) -> str:
    """Free text a person wrote (a reason, an objection, a name): at most ``max_length`` characters,
    lines and tabs allowed, no other control or bidi-override characters. Never echoed back."""
    if not isinstance(value, str):
        raise invalid(field, f"must be text, not {type(value).__name__}")
    if required and not value.strip():
        raise invalid(field, "is required (empty)")
    if len(value) > max_length:
        raise invalid(field, f"is at most {max_length} characters (got {len(value)})")
    bad = _refused_character(value.replace("\r\n", "\n"), _TEXT_CONTROLS)
    if bad is not None:
        raise invalid(field, f"holds the control or formatting character {bad}")
    return value


def require_day(field: str, value: object) -> date:
    """A calendar day (not a timestamp) between ``FIRST_DAY`` and ``LAST_DAY``."""
    if isinstance(value, datetime) or not isinstance(value, date):
        raise invalid(field, f"must be a calendar date, not {type(value).__name__}")
    if not FIRST_DAY <= value <= LAST_DAY:
        raise invalid(field, f"{value.isoformat()} lies outside {FIRST_DAY.isoformat()}..{LAST_DAY.isoformat()}")
    return value


def parse_day(field: str, raw: object) -> date:
    """A day as text: strictly ISO ``YYYY-MM-DD`` (``20250111`` and ``2025-W02-6`` are refused, though Python
    reads them) and a day of the calendar (``2024-02-30`` is not)."""
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return require_day(field, raw)
    text = str(raw).strip() if isinstance(raw, str) else None
    if text is None or not _ISO_DAY.fullmatch(text):
        raise invalid(field, "is not an ISO date (YYYY-MM-DD)")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise invalid(field, f"{text} is not an ISO date (no such day in the calendar)") from None
    return require_day(field, day)


def jurisdiction(raw: object) -> Jurisdiction:
    try:
        return Jurisdiction(str(raw))
    except ValueError:
        raise invalid("jurisdiction", "is not NO or SE") from None


def debtor_kind(raw: object) -> DebtorKind:
    try:
        return DebtorKind(str(raw))
    except ValueError:
        raise invalid("kind", "is not person or organisation") from None


def _installments(field: str, value: object) -> None:
    if not isinstance(value, Sequence):
        raise invalid(field, "is a list of instalments")
    for i, inst in enumerate(value):
        if not isinstance(inst, Installment):
            raise invalid(f"{field}[{i}]", "is an instalment (due, amount)")
        require_day(f"{field}[{i}].due", inst.due)
        require_amount(f"{field}[{i}].amount", inst.amount)


def _invoices(field: str, value: object) -> None:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise invalid(field, "is a list of invoice numbers")
    for i, invoice in enumerate(value):
        require_identifier(f"{field}[{i}]", invoice)


def _key(field: str, value: object) -> None:
    require_identifier(field, value, KEY_LENGTH)


def _reference(field: str, value: object) -> None:
    """A payer's reference as a bank delivered it: a KID, or free text that lands in suspense."""
    if not isinstance(value, str) or "\n" in value or "\t" in value:
        raise invalid(field, "is one line of text")
    require_text(field, value, IDENTIFIER_LENGTH * 2)


def _name(field: str, value: object) -> None:
    require_text(field, value, NAME_LENGTH, required=True)


def _amount(field: str, value: object) -> None:
    if not isinstance(value, Decimal):
        raise invalid(field, "must be a decimal amount")
    require_amount(field, value)


Check = Callable[[str, Any], object]
ARGUMENT_KINDS: Final[Mapping[str, Check]] = {
    **dict.fromkeys(
        (
            "creditor",
            "invoice",
            "office",
            "ref",
            "debtor_ref",
            "kid",
            "notice",
            "route",
            "channel",
            "claim_type",
            "designation",
            "outcome",
            "service",
            "message_id",
            "file_format",
            "kid_algorithm",
            "source",
            "national_id",
        ),
        require_identifier,
    ),  # fmt: skip
    **dict.fromkeys(("command_id", "transaction_id", "file_digest", "by", "refund_by", "payee_key"), _key),
    "reference": _reference,
    **dict.fromkeys(("reason", "text"), require_text),
    "name": _name,
    **dict.fromkeys(
        (
            "on",
            "due",
            "arose",
            "ordered",
            "deadline",
            "until",
            "received",
            "decided",
            "served",
            "died",
            "published",
            "execution_date",
            "start",
        ),
        require_day,
    ),  # fmt: skip
    "amount": _amount,
    "installments": _installments,
    "invoices": _invoices,
    "jurisdiction": lambda _, v: jurisdiction(v),
    "kind": lambda _, v: debtor_kind(v),
}
"""How each argument of an application command is checked, by its name (``None`` is the default and
always passes: the command decides what an absent value means)."""


def check_arguments(arguments: Mapping[str, Any]) -> None:
    """Every argument an application command was given, by ``ARGUMENT_KINDS``, in the order given."""
    for name, value in arguments.items():
        check = ARGUMENT_KINDS.get(name)
        if check is not None and value is not None:
            check(name, value)


WRITE_OFF_REASONS = frozenset({"time_barred", "deceased", "bankruptcy", "uneconomic", "other"})
REASON_CODES: Final = WRITE_OFF_REASONS | frozenset(
    {"credit note", "objection upheld", "surplus owed back", "belongs to no claim", "payment beyond the balance"}
)
"""Reasons the domain itself gives or offers to choose: they travel on the stream as they are. Any other
reason is text a person typed, and travels as ``NOTE`` (ADR 0023)."""
NOTE: Final = "note"


def reason_code(reason: str) -> str:
    """The code of a reason: itself when it is one of ``REASON_CODES``, else ``note`` (free text kept apart)."""
    return reason if reason in REASON_CODES else NOTE


COMPLAINT_OUTCOMES = frozenset({"breach", "no_breach"})
SERVICES = frozenset({"water", "childcare"})


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
        raise invalid("reason", f"is not one of {', '.join(sorted(WRITE_OFF_REASONS))}")


def check_reason(reason: str, what: str) -> None:
    if not reason.strip():
        raise invalid("reason", f"a {what} needs a reason")


def check_service(service: str) -> None:
    if service not in SERVICES:
        raise invalid("service", f"'{service}' is not one of {', '.join(sorted(SERVICES))}")


def check_complaint_outcome(outcome: str) -> None:
    if outcome not in COMPLAINT_OUTCOMES:
        raise invalid("outcome", f"'{outcome}' is not breach or no_breach")
