"""The creditors' letterheads: who sends, how to reach them, where to pay — dated, from YAML.

A letter for a creditor with no letterhead (or none in force on its sending day) is not rendered: a
letter without a valid account and contact is no lawful notice, so the dispatcher holds it and says
why (``kravsak letters status``).
"""

from __future__ import annotations

import os
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

DEFAULT_FILE = Path(__file__).resolve().parent / "letterheads.yaml"


class NoLetterhead(LookupError):
    """No letterhead for this creditor on this day."""


@dataclass(frozen=True, slots=True)
class Letterhead:
    office_name: str
    address: tuple[str, ...]
    postcode: str
    city: str
    phone: str
    email: str
    web: str
    hours: str
    complaints: str
    account: str | None  # NO kontonummer
    bankgiro: str | None  # SE bankgiro
    synthetic: bool


def _dated(values: dict[Any, dict[str, Any]], day: date, where: str) -> dict[str, Any]:
    starts = sorted(date.fromisoformat(str(k)) for k in values)
    i = bisect_right(starts, day) - 1
    if i < 0:
        raise NoLetterhead(f"{where}: nothing in force on {day}")
    by_date = {date.fromisoformat(str(k)): v for k, v in values.items()}
    return dict(by_date[starts[i]])


class Letterheads:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.offices: dict[str, Any] = dict(doc.get("offices") or {})
        self.creditors: dict[str, Any] = {str(k): v for k, v in (doc.get("creditors") or {}).items()}

    @classmethod
    def load(cls, path: Path | None = None) -> Letterheads:
        path = path or Path(os.environ.get("KRAVSAK_LETTERHEADS") or DEFAULT_FILE)
        return cls(yaml.safe_load(path.read_text(encoding="utf-8")) or {})

    def add_creditor(self, creditor: str, office: str, since: date, **payment: str) -> None:
        """For tests and tools: give a creditor an account under an existing office."""
        self.creditors[creditor] = {"office": office, "values": {since.isoformat(): payment}}

    def for_creditor(self, creditor: str, day: date) -> Letterhead:
        entry = self.creditors.get(creditor)
        if entry is None:
            raise NoLetterhead(f"no letterhead for creditor {creditor}")
        office = self.offices.get(str(entry["office"]))
        if office is None:
            raise NoLetterhead(f"creditor {creditor}: office {entry['office']} has no letterhead")
        pay = _dated(entry["values"], day, f"creditor {creditor}")
        o = _dated(office["values"], day, f"office {entry['office']}")
        return Letterhead(
            office_name=str(o["name"]),
            address=tuple(str(x) for x in o["address"]),
            postcode=str(o["postcode"]),
            city=str(o["city"]),
            phone=str(o["phone"]),
            email=str(o["email"]),
            web=str(o["web"]),
            hours=str(o["hours"]),
            complaints=" ".join(str(o["complaints"]).split()),
            account=pay.get("account"),
            bankgiro=pay.get("bankgiro"),
            synthetic=bool(office.get("synthetic", False)),
        )
