"""Money: ``Decimal`` amounts in a claim's currency, never float.

Rounding policy (one place, used everywhere):

* amounts entered by people and amounts stored in events are whole øre/öre (two decimals);
* intermediate interest segments are kept exact and only the *total* is rounded half-up to two
  decimals (version-1 decision "interest");
* court fees derived from the rettsgebyr are rounded *down* to whole kroner (rettsgebyrloven § 6a);
* notice fees derived from the inkassosats are rounded half-up to øre (1/20 of 750 = 37.50).
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
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
    """Parse a user-entered amount. Floats are refused: money is never a float."""
    if isinstance(raw, float) or isinstance(raw, bool):
        raise InvalidAmount(f'{field}: money must be a decimal string such as "100.00", not {raw!r}')
    try:
        amount = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise InvalidAmount(f"{field}: {raw!r} is not a decimal amount") from None
    if not amount.is_finite():
        raise InvalidAmount(f"{field}: {raw!r} is not a finite amount")
    if amount != amount.quantize(CENT):
        raise InvalidAmount(f"{field}: {raw!r} has more than two decimals (whole øre/öre only)")
    if amount < 0 or (amount == 0 and not allow_zero):
        raise InvalidAmount(f"{field}: {raw!r} must be {'zero or ' if allow_zero else ''}greater than zero")
    return amount.quantize(CENT)


def fmt(amount: Decimal) -> str:
    """The contract's string form: two decimals, no exponent."""
    return f"{to_cents(amount):.2f}"


def minor_units(amount: Decimal) -> int:
    """Øre/öre as an integer (the wire format's ``long``)."""
    return int(to_cents(amount) * 100)
