"""Field types of the API's JSON: money as decimal strings (never a JSON number), ISO dates as strings,
booleans only as true/false — each refused with the field named and the rule it breaks."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, StrictBool, WithJsonSchema

from domain.money import InvalidAmount, parse_amount


def _money(value: Any) -> Decimal:
    if not isinstance(value, str):
        raise ValueError('money is a decimal string such as "100.00", never a JSON number')
    try:
        return parse_amount(value, field="amount")
    except InvalidAmount as e:
        raise ValueError(str(e).split(": ", 1)[-1]) from None


def _day(value: Any) -> date:
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError("a date is an ISO date string such as 2025-03-15")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO date (YYYY-MM-DD)") from None


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
InvoiceNo = Annotated[str, Field(min_length=1, max_length=64, description="the creditor's invoice number")]
DebtorRef = Annotated[str, Field(min_length=1, max_length=64, description="the office's reference of the debtor")]
Office = Annotated[str, Field(min_length=1, max_length=64, description="the collection office")]
Word = Annotated[str, Field(min_length=1, max_length=64)]


class Body(BaseModel):
    """A request body: unknown fields are refused, so a misspelt optional field is never silently ignored."""

    model_config = ConfigDict(extra="forbid")
