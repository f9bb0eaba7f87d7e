"""The bench's pure helpers: percentiles, ratios, target verdicts, formatting and the result's shape."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from kravsak.bench.figures import (
    TARGETS,
    Figure,
    Target,
    extrapolate,
    fmt_count,
    fmt_number,
    fmt_ratio,
    mark,
    per_event_us,
    percentile,
    ratio,
    result_document,
    result_path,
)
from kravsak.bench.profile import time_by_area, top_functions
from kravsak.bench.report import _speed, render_table

# --- percentiles ----------------------------------------------------------------------------------


def test_percentile_is_the_nearest_rank() -> None:
    values = list(range(1, 101))  # 1..100

    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100


def test_percentile_does_not_depend_on_the_order_of_the_values() -> None:
    assert percentile([30.0, 10.0, 20.0], 50) == 20.0


def test_percentile_of_one_value_is_that_value() -> None:
    assert percentile([7.5], 1) == 7.5
    assert percentile([7.5], 99) == 7.5


def test_p99_of_a_hundred_values_is_not_the_maximum() -> None:
    values = [1.0] * 99 + [1000.0]

    assert percentile(values, 99) == 1.0
    assert percentile(values, 100) == 1000.0


def test_p99_of_fewer_than_a_hundred_values_is_the_maximum() -> None:
    assert percentile([1.0, 2.0, 3.0, 500.0], 99) == 500.0


@pytest.mark.parametrize("p", [0, -1, 101])
def test_percentile_outside_0_to_100_is_refused(p: float) -> None:
    with pytest.raises(ValueError):
        percentile([1.0, 2.0], p)


def test_percentile_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)


# --- ratios and verdicts --------------------------------------------------------------------------


def test_ratio_is_the_value_over_its_baseline() -> None:
    assert ratio(30.0, 10.0) == 3.0
    assert ratio(5.0, 20.0) == 0.25


@pytest.mark.parametrize(("value", "baseline"), [(None, 1.0), (1.0, None), (1.0, 0.0)])
def test_ratio_without_a_usable_baseline_is_none(value: float | None, baseline: float | None) -> None:
    assert ratio(value, baseline) is None


def test_a_rate_target_is_met_at_its_value_and_above() -> None:
    target = Target(">=", 20_000, "events/s")

    assert target.met(20_000) is True
    assert target.met(25_000.5) is True
    assert target.met(19_999.9) is False


def test_a_latency_target_is_met_only_below_its_value() -> None:
    target = Target("<", 500, "ms p99")

    assert target.met(499.9) is True
    assert target.met(500) is False


def test_a_target_without_a_measurement_has_no_verdict() -> None:
    assert Target(">=", 1, "x").met(None) is None
    assert Target(">=", 1, "x").met(math.nan) is None


def test_target_text_names_the_comparison_the_value_and_the_unit() -> None:
    assert Target(">=", 20_000, "events/s").text() == "≥ 20 000 events/s"
    assert Target("<", 500, "ms p99").text() == "< 500 ms p99"
    assert Target("<=", 1.25, "× (flat)").text() == "≤ 1.25 × (flat)"


def test_the_targets_are_those_of_the_issue() -> None:
    assert TARGETS["ingest"].text() == "≥ 20 000 events/s"
    assert TARGETS["publish"].text() == "≥ 0.90 × the raw producer"
    assert TARGETS["project"].text() == "≥ 10 000 events/s"
    assert TARGETS["end_to_end"].met(249) and not TARGETS["end_to_end"].met(250)
    assert TARGETS["rebuild"].met(119) and not TARGETS["rebuild"].met(120)


def test_marks_are_a_tick_a_cross_or_a_dash() -> None:
    assert (mark(True), mark(False), mark(None)) == ("✓", "✗", "–")


# --- formatting -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "shown"),
    [(20_000, "20 000"), (1_234_567.8, "1 234 568"), (512.4, "512"), (42.25, "42.2"), (0.4242, "0.42"), (3.0, "3"),
     (None, "—"), (math.nan, "—")],
)  # fmt: skip
def test_numbers_are_grouped_by_spaces_with_few_decimals(x: float | None, shown: str) -> None:
    assert fmt_number(x) == shown


def test_counts_are_whole_and_grouped() -> None:
    assert fmt_count(100_000) == "100 000"
    assert fmt_count(None) == "—"


def test_ratios_are_shown_as_factors() -> None:
    assert fmt_ratio(2.8571) == "×2.86"
    assert fmt_ratio(0.04) == "×0.04"
    assert fmt_ratio(1234.0) == "×1 234"
    assert fmt_ratio(None) == "—"


def test_cost_per_event_is_in_microseconds() -> None:
    assert per_event_us(2.0, 1_000) == 2_000.0
    assert math.isnan(per_event_us(1.0, 0))


def test_a_rebuild_extrapolates_linearly_to_a_million_events() -> None:
    assert extrapolate(24.0, 200_000) == 120.0
    assert extrapolate(1.0, 10, to_events=100) == 10.0


# --- figures --------------------------------------------------------------------------------------


def test_a_figure_is_judged_on_its_value_against_its_target() -> None:
    figure = Figure("ingest", 633.0, "events/s", "633", baseline=221.0, target=TARGETS["ingest"])

    assert figure.ratio == pytest.approx(633 / 221)
    assert figure.met is False


def test_a_growth_figure_is_judged_on_its_ratio() -> None:
    flat = Figure("growth_project", 1_100.0, "µs/event", "", baseline=1_000.0, target=TARGETS["growth_project"],
                  judge_ratio=True)  # fmt: skip
    steep = Figure("growth_project", 2_000.0, "µs/event", "", baseline=1_000.0, target=TARGETS["growth_project"],
                   judge_ratio=True)  # fmt: skip

    assert flat.met is True
    assert steep.met is False


def test_a_condition_of_the_target_not_met_fails_the_figure_whatever_its_value() -> None:
    figure = Figure("end_to_end", 120.0, "ms p99", "", target=TARGETS["end_to_end"],
                    missed_because="the writer achieved 280 of the 500 commands/s offered")  # fmt: skip

    assert figure.met is False
    assert figure.as_json()["missed_because"].startswith("the writer achieved")


def test_a_figure_without_a_target_has_no_verdict() -> None:
    assert Figure("memory_publisher", 64.0, "MiB peak RSS", "64").met is None


def test_the_table_shows_each_figure_with_its_baseline_ratio_target_and_verdict() -> None:
    figures = [
        Figure("ingest", 633.0, "events/s", "633 events/s", baseline=221.0, baseline_shown="221 events/s",
               target=TARGETS["ingest"]),
        Figure("memory_projector", 73.4, "MiB peak RSS", "73.4 MiB"),
    ]  # fmt: skip
    out = StringIO()
    Console(file=out, width=200).print(render_table(figures, title="bench"))
    text = out.getvalue()

    assert "633 events/s" in text and "221 events/s" in text and "×2.86" in text
    assert "≥ 20 000 events/s" in text and "✗" in text
    assert "memory projector" in text


# --- profiles -------------------------------------------------------------------------------------


STATS = {
    ("/venv/lib/python3.11/site-packages/psycopg/connection.py", 479, "wait"): (10, 10, 0.6, 0.9, {}),
    ("/repo/domain/claim.py", 100, "pay"): (5, 5, 0.3, 1.0, {}),
    ("~", 0, "<method 'acquire' of '_thread.lock' objects>"): (2, 2, 0.1, 0.1, {}),
}


def test_top_functions_are_ranked_by_own_time_with_their_share() -> None:
    top = top_functions(STATS, total_seconds=1.0, n=2)

    assert [t["function"] for t in top] == ["psycopg/connection.py:479(wait)", "/repo/domain/claim.py:100(pay)"]
    assert top[0]["calls"] == 10 and top[0]["share"] == 0.6
    assert top[1]["cumulative_s"] == 1.0


def test_a_built_in_is_named_without_a_file() -> None:
    assert top_functions(STATS, 1.0)[2]["function"] == "<method 'acquire' of '_thread.lock' objects>"


def test_own_time_is_summed_by_library_or_package() -> None:
    areas = time_by_area(STATS, total_seconds=1.0)

    assert areas == {"psycopg (PostgreSQL)": 0.6, "domain": 0.3, "built-ins": 0.1}


# --- the result document --------------------------------------------------------------------------


def test_the_result_document_has_the_documented_shape() -> None:
    figures = [
        Figure("ingest", 633.0, "events/s", "", baseline=221.0, target=TARGETS["ingest"],
               details={"kravsak": {"events": 1922}}, bound={"top_functions": []}),
        Figure("memory_publisher", 64.0, "MiB peak RSS", ""),
    ]  # fmt: skip
    started = datetime(2026, 11, 23, 19, 0, tzinfo=UTC)
    stages = [{"stage": "ingest", "at_s": 0.0, "load_1min": 1.5}]
    document = result_document(started=started, wall_seconds=812.34, machine={"cores": 2}, figures=figures,
                               sizes={"small": 10_000}, stages=stages, notes=["a note"])  # fmt: skip

    assert set(document) == {"schema_version", "date", "started_at", "wall_seconds", "machine", "sizes", "figures",
                             "missed", "stages", "notes"}  # fmt: skip
    assert document["stages"] == stages
    assert document["date"] == "2026-11-23"
    assert document["wall_seconds"] == 812.3
    assert set(document["figures"]) == {"ingest", "memory_publisher"}
    assert set(document["figures"]["ingest"]) == {"value", "unit", "baseline", "ratio", "target", "target_applies_to",
                                                  "met", "missed_because", "details", "bound"}  # fmt: skip
    assert document["figures"]["ingest"]["target"] == {"op": ">=", "value": 20_000, "unit": "events/s"}
    assert document["figures"]["memory_publisher"]["target"] is None
    assert document["missed"] == ["ingest"]
    json.dumps(document)  # plain JSON all through


def test_the_result_file_is_named_by_the_day() -> None:
    assert result_path(Path("bench/results"), date(2026, 11, 23)) == Path("bench/results/2026-11-23.json")


def test_the_report_title_gives_the_machines_speed_where_the_run_measured_it() -> None:
    assert _speed({"python_loop_s_at_start": 0.5, "python_loop_s_at_end": 0.614}) == (
        " · 10⁷ Python additions in 0.50 → 0.61 s"
    )
    assert _speed({"python_loop_s_at_start": 0.5}) == ""  # a result from before the speed was measured


def test_a_run_ends_with_the_load_and_the_speed_at_its_end(monkeypatch: pytest.MonkeyPatch) -> None:
    from kravsak.bench import main

    monkeypatch.setattr(main, "python_loop_seconds", lambda: 0.61)
    machine = main.machine_at_end({"python_loop_s_at_start": 0.5})
    assert machine["python_loop_s_at_end"] == 0.61 and len(machine["load_average_at_end"]) == 3
    assert _speed(machine) == " · 10⁷ Python additions in 0.50 → 0.61 s"
