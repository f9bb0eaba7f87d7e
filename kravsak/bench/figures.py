"""The bench's figures: targets and verdicts, ratios to a baseline, percentiles, how a number is
written, and the shape of the result document (``bench/results/<date>.json``). Pure; tested in
``tests/unit/test_bench.py``."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parents[2]


RESULTS_DIR = ROOT / "bench" / "results"


RESULT_SCHEMA_VERSION = 1


MILLION = 1_000_000


@dataclass(frozen=True)
class Target:
    """A figure's target on the reference machine (2 cores), e.g. ``>= 20 000 events/s``."""

    op: Literal[">=", "<", "<="]
    value: float
    unit: str

    def met(self, measured: float | None) -> bool | None:
        if measured is None or math.isnan(measured):
            return None
        if self.op == ">=":
            return measured >= self.value
        if self.op == "<=":
            return measured <= self.value
        return measured < self.value

    def text(self) -> str:
        op = {">=": "≥", "<=": "≤", "<": "<"}[self.op]
        return f"{op} {fmt_number(self.value)} {self.unit}".rstrip()

    def as_json(self) -> dict[str, Any]:
        return {"op": self.op, "value": self.value, "unit": self.unit}


TARGETS: dict[str, Target] = {
    "ingest": Target(">=", 20_000, "events/s"),
    "publish": Target(">=", 0.9, "× the raw producer"),
    "project": Target(">=", 10_000, "events/s"),
    "end_to_end": Target("<", 250, "ms p99"),
    "rebuild": Target("<", 120, "s for 1 000 000 events"),
    "growth_ingest": Target("<=", 1.25, "× (flat)"),
    "growth_project": Target("<=", 1.25, "× (flat)"),
}
"""The issue's targets (15). Publish is judged on its ratio to the raw producer of the same records. Growth has
no target of its own ("it should stay flat"): 1.25 is this bench's reading of flat. Scale-out has none either:
it says what a second process buys."""


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``p`` % of the values at or below it."""
    if not values:
        raise ValueError("no values to take a percentile of")
    if not 0 < p <= 100:
        raise ValueError(f"percentile {p} is not in (0, 100]")
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)), 1) - 1]


def ratio(value: float | None, baseline: float | None) -> float | None:
    """``value / baseline``; None when either is missing or the baseline is 0."""
    if value is None or baseline is None or baseline == 0:
        return None
    return value / baseline


def fmt_number(x: float | None) -> str:
    """20 000, 1 234.5, 12.3, 0.42: thousands grouped by a space, as the targets are written."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if abs(x) >= 100 or float(x).is_integer():
        return f"{x:,.0f}".replace(",", " ")
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def fmt_count(n: float | None) -> str:
    """A count of things: 100 000."""
    return "—" if n is None else f"{n:,.0f}".replace(",", " ")


def fmt_ratio(r: float | None) -> str:
    return "—" if r is None else f"×{r:.2f}" if r < 100 else f"×{r:,.0f}".replace(",", " ")


def mark(met: bool | None) -> str:
    return "–" if met is None else "✓" if met else "✗"


def per_event_us(seconds: float, events: float) -> float:
    return seconds / events * 1e6 if events else math.nan


def extrapolate(seconds: float, events: float, to_events: int = MILLION) -> float:
    """Seconds for ``to_events`` at the rate measured over ``events`` (linear: see growth)."""
    return seconds * to_events / events if events else math.nan


@dataclass
class Figure:
    """One row of the result: kravsak's value next to its baseline and target."""

    name: str
    value: float | None
    unit: str
    shown: str
    """The value as the table prints it (it may name more than one number)."""
    baseline: float | None = None
    baseline_shown: str = "—"
    target: Target | None = None
    judge_ratio: bool = False
    """The target applies to the ratio (growth: cost per event at the larger size over the smaller)."""
    missed_because: str | None = None
    """A condition of the target that the run did not meet (e.g. the offered load not achieved)."""
    details: dict[str, Any] = field(default_factory=dict)
    bound: dict[str, Any] | None = None

    @property
    def ratio(self) -> float | None:
        return ratio(self.value, self.baseline)

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        if self.missed_because:
            return False
        return self.target.met(self.ratio if self.judge_ratio else self.value)

    def as_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "unit": self.unit,
            "baseline": self.baseline,
            "ratio": self.ratio,
            "target": self.target.as_json() if self.target else None,
            "target_applies_to": "ratio" if self.judge_ratio else "value",
            "met": self.met,
            "missed_because": self.missed_because,
            "details": self.details,
            "bound": self.bound,
        }


def result_document(
    *,
    started: datetime,
    wall_seconds: float,
    machine: Mapping[str, Any],
    figures: Sequence[Figure],
    sizes: Mapping[str, Any],
    stages: Sequence[Mapping[str, Any]] = (),
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    """The JSON written to ``bench/results/<date>.json`` (shape described in ``bench/README.md``)."""
    return {
        "schema_version": RESULT_SCHEMA_VERSION,
        "date": started.date().isoformat(),
        "started_at": started.isoformat(timespec="seconds"),
        "wall_seconds": round(wall_seconds, 1),
        "machine": dict(machine),
        "sizes": dict(sizes),
        "figures": {f.name: f.as_json() for f in figures},
        "missed": [f.name for f in figures if f.met is False],
        "stages": [dict(stage) for stage in stages],
        "notes": list(notes),
    }


def result_path(directory: Path, day: date) -> Path:
    return directory / f"{day.isoformat()}.json"
