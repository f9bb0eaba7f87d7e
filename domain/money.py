"""Money: ``Decimal`` amounts in a claim's currency, never float.

Rounding policy (one place, used everywhere):

* amounts entered by people and amounts stored in events are whole øre/öre (two decimals);
* intermediate interest segments are kept exact and only the *total* is rounded half-up to two
  decimals (version-1 decision "interest");
* court fees derived from the rettsgebyr are rounded *down* to whole kroner (rettsgebyrloven § 6a);
* notice fees derived from the inkassosats are rounded half-up to øre (1/20 of 750 = 37.50).
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Final

CENT: Final = Decimal("0.01")
ZERO: Final = Decimal("0.00")
CURRENCIES: Final = frozenset({"NOK", "SEK"})


class InvalidAmount(ValueError):
    """An amount that is not a non-negative decimal with at most two decimals."""


def to_cents(value: Decimal) -> Decimal:
    """Round half-up to two decimals (øre/öre)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def floor_krone(value: Decimal) -> Decimal:
    """Round down to whole kroner, shown with two decimals (court fees)."""
    return value.quantize(Decimal(1), rounding=ROUND_FLOOR).quantize(CENT)


def parse_amount(raw: object, *, field: str, allow_zero: bool = False) -> Decimal:
    """Parse a user-entered amount (``domain.inputs.parse_amount``: exact, at most two decimals, no
    exponent, at most ``MAX_AMOUNT``). Floats are refused: money is never a float."""
    from domain.errors import CommandRefused
    from domain.inputs import parse_amount as checked

    try:
        return checked(field, raw, allow_zero=allow_zero)
    except CommandRefused as refused:
        raise InvalidAmount(refused.message) from None


def fmt(amount: Decimal) -> str:
    """The contract's string form: two decimals, no exponent."""
    return f"{to_cents(amount):.2f}"


def minor_units(amount: Decimal) -> int:
    """Øre/öre as an integer (the wire format's ``long``)."""
    return int(to_cents(amount) * 100)
