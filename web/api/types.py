"""Field types of the API's JSON: money as decimal strings (never a JSON number), ISO dates as strings,
booleans only as true/false — each refused with the field named and the rule it breaks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    WithJsonSchema,
)

from domain.errors import CommandRefused
from domain.inputs import parse_amount, parse_day, require_day, require_identifier, require_text

T = TypeVar("T")


def _edge(check: Callable[[], T]) -> T:
    """A check of ``domain.inputs`` as pydantic's ``ValueError`` (the field is named by pydantic)."""
    try:
        return check()
    except CommandRefused as refused:
        raise ValueError(refused.message.split(": ", 1)[-1]) from None


def _money(value: Any) -> Decimal:
    if not isinstance(value, str):
        raise ValueError('money is a decimal string such as "100.00", never a JSON number')
    return _edge(lambda: parse_amount("amount", value))


def _day(value: Any) -> date:
    if isinstance(value, date):
        return _edge(lambda: require_day("date", value))
    if not isinstance(value, str):
        raise ValueError("a date is an ISO date string such as 2025-03-15")
    return _edge(lambda: parse_day("date", value))


def _identifier(value: str) -> str:
    return _edge(lambda: require_identifier("value", value, len(value) or 1))


def _text(value: str) -> str:
    return _edge(lambda: require_text("text", value, len(value)))


Money = Annotated[
    Decimal,
    BeforeValidator(_money),
    PlainSerializer(lambda d: f"{d:.2f}", return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^\d+(\.\d{1,2})?$", "examples": ["1000.00"]}),
]
Day = Annotated[
    date,
    BeforeValidator(_day),
    PlainSerializer(lambda d: d.isoformat(), return_type=str),
    WithJsonSchema({"type": "string", "format": "date", "examples": ["2025-03-15"]}),
]
Flag = StrictBool
Municipality = Annotated[str, Field(pattern=r"^\d{4}$", description="four-digit municipality number")]
Identifier = AfterValidator(_identifier)
"""No control or bidi-override characters, no spaces around (``domain.inputs.require_identifier``)."""
InvoiceNo = Annotated[str, Field(min_length=1, max_length=64, description="the creditor's invoice number"), Identifier]
DebtorRef = Annotated[
    str, Field(min_length=1, max_length=64, description="the office's reference of the debtor"), Identifier
]
Office = Annotated[str, Field(min_length=1, max_length=64, description="the collection office"), Identifier]
Word = Annotated[str, Field(min_length=1, max_length=64), Identifier]
FreeText = AfterValidator(_text)
"""Lines and tabs, no other control or bidi-override characters (``domain.inputs.require_text``)."""


class Body(BaseModel):
    """A request body: unknown fields are refused, so a misspelt optional field is never silently ignored."""

    model_config = ConfigDict(extra="forbid")
