"""`make bench-large`: the growth point at 1 000 000 events (issue 15 point 7), beside 10 000 in the same run.

Run: ``python -m kravsak.bench.large [--events 1000000] [--small 10000] [--rebuild-budget-minutes 20]``.

Each size goes the main job's whole way on the local stack, with the stages of ``python -m kravsak.bench``:
ingest through ``CollectionApp`` (``measure_ingest``: units of work of 500), publish with
``run_publisher(once=True)`` (``measure_publish``), project with the Kafka runner (``measure_projection``,
ledger, limitation and audit). Then the three projections of the large topic are rebuilt together
(``measure_rebuild``) — measured, not extrapolated — when the estimate from the live rate fits the rebuild's
budget; else a note says so.

Beside each stage's wall rate it takes the CPU of this process and of its reaped children (the publisher's
preparing child) per event: on a shared machine the wall rates move with the load, the CPU per event much less,
so the growth figures (large ÷ small, ≤ ×1.25 is "flat") are taken on both and the CPU one is the one to read.
PostgreSQL's and the broker's own CPU are not in it.

It writes ``bench/results/<date>-large.json`` (the shape of ``python -m kravsak.bench``'s) and drops what it made.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kravsak import logs
from kravsak.bench.figures import (
    RESULTS_DIR,
    TARGETS,
    Figure,
    fmt_count,
    fmt_number,
    per_event_us,
    result_document,
)
from kravsak.bench.main import machine_at_end, machine_info
from kravsak.bench.project import measure_projection, measure_rebuild
from kravsak.bench.report import console, print_report, progress_bar
from kravsak.bench.stages import Resources, measure_ingest, measure_publish
from kravsak.settings import Settings, load_settings

STAGES = ("ingest", "publish", "project")


def cpu_seconds() -> float:
    """User and system CPU of this process and of its children that were waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed_cpu(measure: Callable[[], dict[str, Any]], events_key: str) -> dict[str, Any]:
    """``measure()``'s result with ``cpu_seconds`` and ``cpu_us_per_event`` (over ``result[events_key]``)."""
    before = cpu_seconds()
    result = measure()
    spent = cpu_seconds() - before
    result["cpu_seconds"] = round(spent, 2)
    result["cpu_us_per_event_with_children"] = round(per_event_us(spent, result[events_key]), 1)
    return result


def rebuild_fits(records: int, live_events_per_s: float, budget_s: float) -> tuple[bool, float]:
    """Whether rebuilding ``records`` is expected within ``budget_s`` (the three together run at about the live
    runner's rate; 0.7 of it, to be safe, as the main bench estimates), and the estimate in seconds."""
    if live_events_per_s <= 0:
        return False, float("inf")
    estimate = records / (0.7 * live_events_per_s)
    return estimate <= budget_s, estimate


def growth_figure(stage: str, small: dict[str, Any], large: dict[str, Any], events_key: str) -> Figure:
    """Cost per event at the large size over the small one: CPU per event is the figure, wall µs beside it. The
    projection's CPU is taken over the window its wall time is (first batch to last commit): the runner's start,
    ~0.14 s, is 14 µs a record at 10 000 records and nothing at a million, and would flatter the ratio."""
    cpu_key = "apply_cpu_us_per_record" if stage == "project" else "cpu_us_per_event_with_children"
    cpu_small, cpu_large = small[cpu_key], large[cpu_key]
    seconds_key = "apply_seconds" if stage == "project" else "seconds"
    wall_small = per_event_us(small[seconds_key], small[events_key])
    wall_large = per_event_us(large[seconds_key], large[events_key])
    target = TARGETS.get(f"growth_{stage}", TARGETS["growth_ingest"])
    return Figure(
        f"growth_{stage}",
        cpu_large,
        "CPU µs/event",
        f"{stage} at {fmt_count(large[events_key])} events:\n{fmt_number(cpu_large)} CPU µs/event, "
        f"{fmt_number(wall_large)} wall µs/event\n({fmt_number(large[events_key] / large[seconds_key])} events/s, "
        f"{large[seconds_key] / 60:.1f} min)",
        baseline=cpu_small,
        baseline_shown=f"at {fmt_count(small[events_key])} events:\n{fmt_number(cpu_small)} CPU µs/event, "
        f"{fmt_number(wall_small)} wall µs/event\n(wall ratio ×{wall_large / wall_small:.2f})",
        target=target,
        judge_ratio=True,
        details={"small": small, "large": large, "wall_ratio": round(wall_large / wall_small, 3)},
    )


def rebuild_figure(rebuilt: dict[str, Any] | None, live: dict[str, Any], note: str) -> Figure:
    live_seconds = live["apply_seconds"]
    if rebuilt is None:
        return Figure(
            "rebuild_large",
            None,
            "s",
            f"not measured: {note}",
            baseline=live_seconds,
            baseline_shown=f"live runner: {fmt_count(live['records'])} events in {live_seconds / 60:.1f} min",
            details={"note": note},
        )
    seconds = rebuilt["rebuild_seconds"]
    return Figure(
        "rebuild_large",
        seconds,
        "s",
        f"{fmt_count(live['records'])} events rebuilt in {seconds / 60:.1f} min\n"
        f"({fmt_number(live['records'] / seconds)} events/s, measured)",
        baseline=live_seconds,
        baseline_shown=f"live runner, the same events:\n{live_seconds / 60:.1f} min",
        target=TARGETS["rebuild"] if live["records"] >= 1_000_000 else None,
        details=rebuilt,
    )


class LargeBench:
    def __init__(self, settings: Settings, small: int, large: int, rebuild_budget_s: float) -> None:
        self.settings, self.small, self.large, self.rebuild_budget_s = settings, small, large, rebuild_budget_s
        self.resources = Resources(settings)
        self.began = time.monotonic()
        self.stages: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.raw: dict[str, dict[str, Any]] = {}

    def say(self, text: str) -> None:
        elapsed = time.monotonic() - self.began
        self.stages.append({"stage": text, "at_s": round(elapsed, 1), "load_1min": round(os.getloadavg()[0], 2)})
        console.rule(f"[bold]{len(self.stages)}. {text}[/]  [dim]{elapsed:.0f} s[/]", align="left")

    def size(self, events: int) -> dict[str, Any]:
        """Ingest, publish and project ``events`` events; each stage's result with its CPU."""
        r, settings = self.resources, self.settings
        self.say(f"ingest: {fmt_count(events)} events through CollectionApp")
        ingest = timed_cpu(lambda: measure_ingest(settings, r, events, 500), "events")
        topic = r.topic(f"large{events}")
        r.topics.append(f"{topic}-schemas")
        self.say(f"publish: {fmt_count(ingest['events'])} events → {topic}")
        publish = timed_cpu(lambda: measure_publish(settings, ingest["schema"], topic), "events")
        self.say(f"project: {fmt_count(publish['events'])} events (ledger, limitation, audit)")
        suffix = r.suffix(f"large{events}")

        def project() -> dict[str, Any]:
            with progress_bar() as bar:
                task = bar.add_task(f"projecting {topic}", total=publish["events"])
                return measure_projection(settings, topic, suffix, progress=lambda k: bar.advance(task, k))

        projected = timed_cpu(project, "records")
        return {"ingest": ingest, "publish": publish, "project": projected, "topic": topic, "suffix": suffix}

    def rebuild(self, at: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
        live = at["project"]
        fits, estimate = rebuild_fits(live["records"], live["events_per_s"], self.rebuild_budget_s)
        if not fits:
            note = (
                f"the rebuild of {fmt_count(live['records'])} events was estimated at {estimate / 60:.0f} min from the "
                f"live rate, over the budget of {self.rebuild_budget_s / 60:.0f} min (--rebuild-budget-minutes)"
            )
            self.notes.append(note)
            return None, note
        self.say(f"rebuild: ledger, limitation, audit together from {fmt_count(live['records'])} events")

        def rebuild() -> dict[str, Any]:
            with progress_bar() as bar:
                task = bar.add_task("rebuilding (together, from offset 0)", total=live["records"])
                result: dict[str, Any] = measure_rebuild(
                    self.settings, at["topic"], at["suffix"], progress=lambda k: bar.advance(task, k)
                )
            result["events"] = live["records"]
            result["estimated_seconds"] = round(estimate)
            return result

        return timed_cpu(rebuild, "events"), f"estimated {estimate / 60:.1f} min"

    def run(self) -> list[Figure]:
        small = self.raw["small"] = self.size(self.small)
        large = self.raw["large"] = self.size(self.large)
        rebuilt, note = self.rebuild(large)
        if rebuilt is not None:
            self.raw["rebuild"] = rebuilt
        keys = {"ingest": "events", "publish": "events", "project": "records"}
        return [
            *(growth_figure(stage, small[stage], large[stage], keys[stage]) for stage in STAGES),
            rebuild_figure(rebuilt, large["project"], note),
        ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kravsak.bench.large", description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="the large point (default 1 000 000)")
    parser.add_argument("--small", type=int, default=10_000, help="the small point (default 10 000)")
    parser.add_argument(
        "--rebuild-budget-minutes",
        type=float,
        default=20.0,
        help="rebuild the large topic when its estimate fits (default 20)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="folder of the result JSON")
    args = parser.parse_args(argv)
    logs.configure("console", level=os.environ.get("KRAVSAK_LOG_LEVEL", "WARNING"))
    settings = load_settings()
    started = datetime.now(UTC)
    machine = machine_info(settings)
    bench = LargeBench(settings, args.small, args.events, args.rebuild_budget_minutes * 60)
    try:
        figures = bench.run()
    finally:
        console.rule("[bold]clean-up[/]", align="left")
        bench.notes += bench.resources.cleanup()
    machine_at_end(machine)
    document = result_document(
        started=started,
        wall_seconds=time.monotonic() - bench.began,
        machine=machine,
        figures=figures,
        sizes={
            "small": args.small,
            "large": args.events,
            "uow_batch": 500,
            "rebuild_budget_minutes": args.rebuild_budget_minutes,
        },
        stages=bench.stages,
        notes=bench.notes,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{started.date().isoformat()}-large.json"
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")
    print_report(document, figures, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
