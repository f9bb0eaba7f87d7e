"""Date-keyed legal parameters, loaded from YAML files with their sources.

Each file in ``domain/rules/<jurisdiction>/parameters/`` holds one parameter::

    description: Late-payment interest rate, percent a year (forsinkelsesrenteloven § 3)
    unit: percent
    confirmed_until: 2026-06-30
    values:
      2025-07-01: {value: "12.25", source: "https://…", confidence: L}

The value in force on a day is the one with the latest start date on or before that day. A value
asked for past ``confirmed_until`` is still given (the latest known one), with a warning that an
operator must confirm it. Asking for a day before the first value is an error: the engine has no
law for that day.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

CONFIDENCE_LEVELS = frozenset({"H", "M", "L"})


class ParameterError(ValueError):
    """A parameter file is malformed, or a value is asked for a day the law does not cover."""


@dataclass(frozen=True, slots=True)
class ParameterValue:
    """One dated value of a parameter."""

    since: date
    value: Decimal
    source: str
    confidence: str


@dataclass(frozen=True, slots=True)
class InForce:
    """The value in force on a day, with the warning to carry when it is not confirmed."""

    name: str
    day: date
    value: Decimal
    since: date
    source: str
    confidence: str
    warning: str | None


SEGMENTS_KEPT = 4096
"""How many stretches a parameter remembers its segments for (then it starts afresh)."""


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of days ``start``..``end`` (both inclusive) with one value in force."""

    start: date
    end: date
    value: Decimal
    since: date
    warning: str | None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


class Parameter:
    """A legal parameter: dated values with sources."""

    def __init__(
        self, name: str, description: str, unit: str, confirmed_until: date, values: list[ParameterValue]
    ) -> None:
        if not values:
            raise ParameterError(f"{name}: a parameter needs at least one dated value")
        self.name = name
        self.description = description
        self.unit = unit
        self.confirmed_until = confirmed_until
        self.values = sorted(values, key=lambda v: v.since)
        self._starts = [v.since for v in self.values]
        self._segments: dict[tuple[date, date], tuple[Segment, ...]] = {}  # a bank file asks for few stretches

    def _index(self, day: date) -> int:
        i = bisect_right(self._starts, day) - 1
        if i < 0:
            raise ParameterError(
                f"{self.name}: no value in force on {day.isoformat()} "
                f"(the first known value starts {self._starts[0].isoformat()})"
            )
        return i

    def _warning(self, day: date, v: ParameterValue) -> str | None:
        if day <= self.confirmed_until:
            return None
        return (
            f"{self.name}: {day.isoformat()} is past confirmed_until {self.confirmed_until.isoformat()}; "
            f"using {v.value} (in force since {v.since.isoformat()}) until an operator confirms the value"
        )

    def on(self, day: date) -> InForce:
        v = self.values[self._index(day)]
        return InForce(self.name, day, v.value, v.since, v.source, v.confidence, self._warning(day, v))

    def value(self, day: date) -> Decimal:
        return self.values[self._index(day)].value

    def segments(self, start: date, end: date) -> list[Segment]:
        """Split ``start``..``end`` (inclusive) at every change of value and at confirmed_until (remembered:
        the values never change once loaded, and a run asks for the same stretches again and again)."""
        known = self._segments.get((start, end))
        if known is None:
            if len(self._segments) >= SEGMENTS_KEPT:
                self._segments.clear()
            known = self._segments[(start, end)] = tuple(self._split(start, end))
        return list(known)

    def _split(self, start: date, end: date) -> list[Segment]:
        if end < start:
            return []
        out: list[Segment] = []
        i = self._index(start)
        cursor = start
        while cursor <= end:
            v = self.values[i]
            next_change = self.values[i + 1].since if i + 1 < len(self.values) else None
            seg_end = end if next_change is None else min(end, next_change - timedelta(days=1))
            # split where a confirmed value turns into an unconfirmed one, so warnings are exact
            if cursor <= self.confirmed_until < seg_end:
                seg_end = self.confirmed_until
            out.append(Segment(cursor, seg_end, v.value, v.since, self._warning(seg_end, v)))
            cursor = seg_end + timedelta(days=1)
            if next_change is not None and cursor >= next_change:
                i += 1
        return out


def _as_date(raw: Any, *, where: str) -> date:
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise ParameterError(f"{where}: {raw!r} is not an ISO date") from None


def load_parameter(path: Path) -> Parameter:
    name = path.stem
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParameterError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ParameterError(f"{path}: expected a mapping with description, confirmed_until and values")
    for key in ("description", "confirmed_until", "values", "unit"):
        if key not in doc:
            raise ParameterError(f"{path}: missing field '{key}'")
    if not isinstance(doc["values"], dict) or not doc["values"]:
        raise ParameterError(
            f"{path}: a parameter needs at least one dated value: 'values' must map start "
            "dates to {value, source, confidence}"
        )
    values: list[ParameterValue] = []
    for since, spec in doc["values"].items():
        where = f"{path.name} value {since}"
        if not isinstance(spec, dict) or not {"value", "source", "confidence"} <= set(spec):
            raise ParameterError(f"{where}: needs value, source and confidence")
        if spec["confidence"] not in CONFIDENCE_LEVELS:
            raise ParameterError(f"{where}: confidence must be one of H, M, L")
        if not isinstance(spec["source"], str) or not spec["source"].strip():
            raise ParameterError(f"{where}: source must name where the value comes from")
        raw = spec["value"]
        if isinstance(raw, float):
            raise ParameterError(f'{where}: write the value as a string ("12.25"), never a float')
        if isinstance(raw, bool) or not isinstance(raw, (str, int)):
            raise ParameterError(f"{where}: value {raw!r} is not a number")
        try:
            number = Decimal(str(raw).strip())
        except InvalidOperation:
            raise ParameterError(f'{where}: value {raw!r} is not a number (use a dot: "12.25")') from None
        if not number.is_finite():
            raise ParameterError(f"{where}: value {raw!r} is not a finite number")
        values.append(ParameterValue(_as_date(since, where=where), number, spec["source"], spec["confidence"]))
    return Parameter(
        name,
        str(doc["description"]),
        str(doc["unit"]),
        _as_date(doc["confirmed_until"], where=f"{path.name} confirmed_until"),
        values,
    )


class ParameterSet:
    """All parameters of one jurisdiction, and a version string that changes with any file."""

    def __init__(self, folder: Path) -> None:
        files = sorted(folder.glob("*.yaml"))
        if not files:
            raise ParameterError(f"{folder}: no parameter files")
        self.folder = folder
        self.parameters = {p.name: p for p in (load_parameter(f) for f in files)}
        digest = hashlib.sha256()
        for f in files:
            digest.update(f.name.encode())
            digest.update(f.read_bytes())
        self.digest = digest.hexdigest()[:12]

    def __getitem__(self, name: str) -> Parameter:
        try:
            return self.parameters[name]
        except KeyError:
            raise ParameterError(f"unknown parameter '{name}' in {self.folder}") from None

    def on(self, name: str, day: date) -> InForce:
        return self[name].on(day)

    def value(self, name: str, day: date) -> Decimal:
        return self[name].value(day)
