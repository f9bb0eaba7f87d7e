"""`make bench-large` (issue 15 point 7): the growth figures at 1 000 000 events beside 10 000, on CPU per event."""

from __future__ import annotations

import os

from kravsak.bench.end_to_end import cpu_seconds_of
from kravsak.bench.large import growth_figure, rebuild_figure, rebuild_fits


def stage(events: int, seconds: float, cpu_us: float) -> dict[str, float]:
    return {"events": events, "seconds": seconds, "cpu_us_per_event_with_children": cpu_us}


def test_growth_is_judged_on_the_cpu_per_event_at_the_large_size_over_the_small() -> None:
    figure = growth_figure("ingest", stage(10_000, 2.0, 200.0), stage(1_000_000, 400.0, 240.0), "events")

    assert figure.value == 240.0 and figure.baseline == 200.0
    assert figure.ratio == 1.2 and figure.met is True  # flat: at most ×1.25
    assert figure.details["wall_ratio"] == 2.0  # the wall clock's reading, shown beside it


def test_the_projection_s_growth_is_its_cpu_per_record_over_the_applying_not_the_runner_s_start() -> None:
    def projected(records: int, apply_s: float, apply_cpu_us: float, whole_cpu_us: float) -> dict[str, float]:
        return {
            "records": records,
            "apply_seconds": apply_s,
            "apply_cpu_us_per_record": apply_cpu_us,
            "cpu_us_per_event_with_children": whole_cpu_us,
        }

    # 10 000 records: 100 µs each while applying, 114 with the runner's start; a million: 130 either way
    figure = growth_figure(
        "project", projected(10_000, 1.0, 100.0, 114.0), projected(10**6, 130.0, 130.0, 130.1), "records"
    )

    assert figure.value == 130.0 and figure.baseline == 100.0
    assert figure.ratio == 1.3 and figure.met is False


def test_cost_per_event_that_grows_by_half_is_not_flat() -> None:
    figure = growth_figure("publish", stage(10_000, 1.0, 100.0), stage(1_000_000, 100.0, 150.0), "events")

    assert figure.met is False


def test_the_rebuild_is_measured_only_when_its_estimate_fits_the_budget() -> None:
    fits, estimate = rebuild_fits(1_000_000, 1_000.0, budget_s=20 * 60)  # 1 M at 0.7 × 1 000/s: 23.8 min

    assert fits is False and round(estimate) == 1429
    assert rebuild_fits(1_000_000, 3_000.0, budget_s=20 * 60)[0] is True
    assert rebuild_fits(10, 0.0, budget_s=60)[0] is False


def test_a_rebuild_left_out_says_why_and_has_no_value() -> None:
    figure = rebuild_figure(None, {"records": 1_000_000, "apply_seconds": 600.0}, "over the budget")

    assert figure.value is None and figure.met is None
    assert "over the budget" in figure.shown


def test_a_processes_cpu_is_read_from_proc() -> None:
    spent = cpu_seconds_of(os.getpid())
    sum(i * i for i in range(300_000))

    assert 0 < spent <= cpu_seconds_of(os.getpid())
