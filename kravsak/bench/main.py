"""`make bench`: the main job's figures, each measured in one run next to its baseline, as a ratio.

Run: ``python -m kravsak.bench [--quick] [--budget-minutes 14] [--out bench/results]``.

Stages (``bench/README.md`` says how to read each figure and the JSON):

1. **ingest**: the generated Norwegian workload, 10 000 events, through ``CollectionApp`` on
   PostgreSQL in ``unit_of_work`` batches (``kravsak.bench.domain.measure``), next to a plain
   eventsourcing ``Application`` saving one minimal event per command for as many events (or 30 s);
   beside it the same workload in ``WRITERS`` processes over disjoint cases (``measure_writers``), and the store
   path's floor: as many one-field events saved 500 at a time without the domain (``measure_store_floor``).
   Then the workload again at 100 000 events (growth).
2. **publish**: the 10 000-event store onto Kafka with ``run_publisher`` (store → broker
   acknowledgement, the publisher's start included), next to a raw producer sending the publisher's own records
   for the same events; then the 100 000-event store (the topic for the projection's growth) and the raw producer
   on its records: the figure is judged there (ADR 0040); then that store again by 1 and by 2 publisher processes
   over partition ranges (scale out publish, ``kravsak.bench.scale``).
3. **project**: the three read models from Kafka (``kravsak.bench.project.measure_projection``),
   next to eventsourcing's own ``ProjectionRunner`` following the 10 000-event store's
   notification log and applying the same three projections (or 30 s). Then at 100 000 events.
4. **end-to-end**: 500 commands/s offered for 20 s with the publisher and a projector as processes
   of their own; latency from a command's save to its ledger row reaching its position, split at
   the broker; the peak RSS of both processes.
5. **rebuild**: ``consumers.projector.rebuild`` of all three projections, on the largest topic the
   time budget allows; events/s and the time 1 000 000 events would take.
6. **bounds**: for every missed target, a short cProfile of that stage (top 5 functions).

Everything lives in PostgreSQL schemas ``bench_<tag>_…`` / ``kravsak_<projection>_bench_<tag>_…`` and
Kafka topics ``bench-<tag>-…``; all of them are dropped at the end, after a failure or Ctrl-C too.
The result goes to ``bench/results/<date>.json`` and a table on stdout.

This module runs the stages in order within the time budget (``Bench``). The stages are in
``stages`` (sizes, resources, ingest, publish), ``project`` (projection, rebuild), ``end_to_end``;
their baselines in ``baselines``; the profiles of missed targets in ``profile``; targets, ratios
and the result's shape in ``figures``; the progress bar and the tables in ``report``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import psycopg

from kravsak import logs
from kravsak.bench.baselines import (
    measure_eventsourcing_projection,
    measure_plain_ingest,
    measure_raw_producer,
    measure_store_floor,
)
from kravsak.bench.end_to_end import measure_end_to_end
from kravsak.bench.figures import (
    RESULTS_DIR,
    ROOT,
    TARGETS,
    Figure,
    extrapolate,
    fmt_count,
    fmt_number,
    per_event_us,
    ratio,
    result_document,
    result_path,
)
from kravsak.bench.profile import profile_growing_store, profile_ingest, profile_projection, profile_publish
from kravsak.bench.project import measure_projection, measure_rebuild
from kravsak.bench.report import console, print_report, progress_bar
from kravsak.bench.scale import measure_publish_scale_out, measure_scale_out
from kravsak.bench.stages import QUICK, Resources, Sizes, measure_ingest, measure_ingest_writers, measure_publish
from kravsak.settings import Settings, load_settings


def machine_info(settings: Settings) -> dict[str, Any]:
    def package(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    ram_kb = next((int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal:")), 0)
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "")
    with psycopg.connect(settings.pg_dsn) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return {
        "cores": os.cpu_count(), "cpu": model or platform.processor(), "ram_gib": round(ram_kb / 1024**2, 1),
        "os": platform.platform(), "python": platform.python_version(),
        "versions": {name: package(name) for name in ("kravsak", "eventsourcing", "kafka-python", "fastavro",
                                                      "psycopg", "rich")}
        | {"postgresql": row[0] if row else None,
           "kafka": "external" if settings.kafka_is_external else settings.kafka_version},
        "git_commit": git("rev-parse", "HEAD"), "git_dirty": bool(git("status", "--porcelain")),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python_loop_s_at_start": python_loop_seconds(),
    }  # fmt: skip


def machine_at_end(machine: dict[str, Any]) -> dict[str, Any]:
    """``machine`` (``machine_info`` at a run's start) with the load average and the speed at its end."""
    machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    machine["python_loop_s_at_end"] = python_loop_seconds()
    return machine


def python_loop_seconds(repeats: int = 3) -> float:
    """The machine's speed as one Python thread sees it: the best of ``repeats`` loops of 10⁷ additions in a
    function, in seconds. Machines of the same kind differed by ×2 on such a loop from one day to the next, and
    every figure with them: runs are compared by it, and by CPU per event (ADR 0043)."""
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        total = 0
        for i in range(10_000_000):
            total += i
        best = min(best, time.perf_counter() - began)
    return round(best, 3)


SKIPPABLE = ("api", "intake")
WRITERS = 2
"""Writer processes of the ingest's second figure, one per core of the issue's 2-core machine (ADR 0030)."""
"""Stages of other concerns that also run on their own."""


def _publish_cpu(publish: dict[str, Any]) -> str:
    """The publisher's CPU per event and its preparing process's: on two cores each must stay under the raw
    producer's wall time per event for the publisher to keep up with it."""
    cpu = publish["cpu_us_per_event"]
    return f"publisher {cpu['publisher']:.0f} µs + preparing {cpu['prepare_process']:.0f} µs"


def _appender_shown(raw: dict[str, Any]) -> str:
    """The same records through the publisher's own send path (its ``RecordAppender``, ADR 0044), when measured."""
    appender = raw.get("appender")
    if not appender:
        return ""
    return (
        f"\nthe publisher's own append: {fmt_number(appender['events_per_s'])} events/s, "
        f"{appender['cpu_us_per_event']:.0f} µs"
    )


class Bench:
    """The stages in order; each result lands in ``raw`` as it comes, the figures at the end."""

    def __init__(self, settings: Settings, sizes: Sizes, budget_s: float, skip: frozenset[str] = frozenset()) -> None:
        self.settings, self.sizes, self.budget_s, self.skip = settings, sizes, budget_s, skip
        self.resources = Resources(settings)
        self.began = time.monotonic()
        self.notes: list[str] = []
        self.raw: dict[str, Any] = {}
        self.stages: list[dict[str, Any]] = []

    def elapsed(self) -> float:
        return time.monotonic() - self.began

    def say(self, text: str) -> None:
        """Start a stage: its name, when, and how busy the machine was (it is shared)."""
        self.stages.append({"stage": text, "at_s": round(self.elapsed(), 1), "load_1min": round(os.getloadavg()[0], 2)})
        console.rule(f"[bold]{len(self.stages)}. {text}[/]  [dim]{self.elapsed():.0f} s[/]", align="left")

    def run(self) -> list[Figure]:
        s, r, settings, raw = self.sizes, self.resources, self.settings, self.raw
        self.say(f"ingest: kravsak, {fmt_count(s.small)} events")
        small = raw["ingest_small"] = measure_ingest(settings, r, s.small, s.uow_batch)
        self.say(f"ingest: kravsak in {WRITERS} writer processes over disjoint cases, {fmt_count(s.small)} events")
        writers = raw["ingest_writers"] = measure_ingest_writers(settings, r, s.small, s.uow_batch, WRITERS)
        self.say(f"ingest baseline: plain eventsourcing Application, {fmt_count(small['events'])} events")
        plain = raw["ingest_plain"] = measure_plain_ingest(settings, r, small["events"], s.time_box_s)
        self.say(f"ingest floor: the store path without the domain, {fmt_count(small['events'])} events")
        floor = raw["ingest_floor"] = measure_store_floor(settings, r, small["events"], s.uow_batch)
        self.say(f"ingest growth: kravsak, {fmt_count(s.large)} events")
        large = raw["ingest_large"] = measure_ingest(settings, r, s.large, s.uow_batch)

        topic_small, topic_large = r.topic("small"), r.topic("large")
        r.topics += [f"{topic_small}-schemas", f"{topic_large}-schemas"]
        self.say(f"publish: {small['schema']} → {topic_small}")
        publish = raw["publish_small"] = measure_publish(settings, small["schema"], topic_small)
        self.say("publish baseline: raw producer, the publisher's records of the same events")
        producer = raw["publish_raw"] = measure_raw_producer(settings, small["schema"], r.topic("raw"))
        self.say(f"publish {large['schema']} → {topic_large}")
        publish_large = raw["publish_large"] = measure_publish(settings, large["schema"], topic_large)
        self.say("publish baseline at that size: raw producer, the publisher's records of the same events")
        producer_large = raw["publish_raw_large"] = measure_raw_producer(settings, large["schema"], r.topic("rawl"))
        self.say(f"scale-out: 1 and 2 publisher processes (partition ranges) on {large['schema']}")
        publish_scale = raw["scale_out_publish"] = measure_publish_scale_out(settings, r, large["schema"])

        suffix_small, suffix_large = r.suffix("small"), r.suffix("large")
        self.say(f"project: Kafka runner, {fmt_count(publish['events'])} events")
        project_small = raw["project_small"] = self._project(topic_small, suffix_small)
        self.say(f"project baseline: eventsourcing ProjectionRunner on {small['schema']}")
        es = raw["project_eventsourcing"] = measure_eventsourcing_projection(
            settings, small["schema"], r.suffix("es"), s.time_box_s
        )
        self.say(f"project growth: Kafka runner, {fmt_count(publish_large['events'])} events")
        project_large = raw["project_large"] = self._project(topic_large, suffix_large)

        self.say(f"scale-out: 1 and 2 projector processes in one group on {topic_large}")
        scale = raw["scale_out"] = measure_scale_out(settings, r, topic_large)

        self.say(f"end-to-end: {s.e2e_rate:g} commands/s for {s.e2e_seconds:g} s, publisher and projector processes")
        e2e = raw["end_to_end"] = measure_end_to_end(settings, r, s)

        candidates = [(topic_large, suffix_large, project_large), (topic_small, suffix_small, project_small)]
        topic, suffix, live = self._rebuild_candidate(candidates)
        self.say(f"rebuild: all three projections from {fmt_count(live['records'])} events of {topic}")
        rebuilt = raw["rebuild"] = self._rebuild(topic, suffix, live["records"])

        from kravsak.bench import api as api_stage  # its own module; it imports this one
        from kravsak.bench import intake as intake_stage  # its own module; it imports this one

        edges: list[Figure] = []
        if "api" not in self.skip:
            self.say("api: bulk invoice intake and single-command latency through the HTTP API")
            edges += api_stage.figures(raw.setdefault("api", api_stage.measure(settings, quick=s == QUICK)))
        if "intake" not in self.skip:
            self.say("intake: bank files (OCR giro, camt.054) imported into the event store")
            edges += intake_stage.figures(raw.setdefault("intake", intake_stage.measure(settings, quick=s == QUICK)))
        if self.skip:
            self.notes.append(f"stages left out (--skip): {', '.join(sorted(self.skip))}")

        figures = [
            self._ingest_figure(small, plain, writers, floor),
            self._publish_figure(publish, producer, publish_large, producer_large),
            self._project_figure(project_small, es),
            self._e2e_figure(e2e),
            self._rebuild_figure(rebuilt, live),
            self._growth_figure("growth_ingest", "ingest", small, large, "seconds", "events"),
            self._growth_figure("growth_project", "project", project_small, project_large, "apply_seconds", "records"),
            self._scale_figure(scale),
            self._publish_scale_figure(publish_scale),
            *self._memory_figures(e2e["memory"]),
            *edges,
        ]
        if plain["time_boxed"] or es["time_boxed"]:
            self.notes.append(
                f"one-commit-per-event baselines stop after {s.time_box_s:g} s: ingest baseline "
                f"{fmt_count(plain['events'])} of {fmt_count(plain['of_events'])} events, projection baseline "
                f"{fmt_count(es['events'])} of {fmt_count(es['of_events'])} (the log's first events; the set-up's "
                "debtor registrations come first)"
            )
        self._bounds(figures, small["schema"], topic_small)
        return figures

    def _project(self, topic: str, suffix: str) -> dict[str, Any]:
        with progress_bar() as bar:
            task = bar.add_task(f"projecting {topic} (ledger, limitation, audit)", total=None)
            result = measure_projection(self.settings, topic, suffix, progress=lambda k: bar.advance(task, k))
        result["us_per_event"] = per_event_us(result["apply_seconds"], result["records"])
        return result

    def _rebuild_candidate(
        self, candidates: Sequence[tuple[str, str, dict[str, Any]]]
    ) -> tuple[str, str, dict[str, Any]]:
        """The largest topic whose rebuild fits the budget, estimated from its live projection rate
        (the three rebuilt together read the topic once: taken as 0.7 × the live rate, to be safe)."""
        left = max(self.budget_s - self.elapsed() - 120, 0.0)  # 120 s: the profiles, the clean-up, the table
        estimates = [live["records"] / (0.7 * live["events_per_s"]) + 10 for _, _, live in candidates]
        chosen = next((i for i, e in enumerate(estimates) if e <= left), len(candidates) - 1)
        self.raw["rebuild_choice"] = {
            "rebuild_topic_events": candidates[chosen][2]["records"],
            "rebuild_estimated_seconds": round(estimates[chosen]),
            "budget_left_seconds": round(left),
        }
        if chosen:
            self.notes.append(
                f"rebuild measured at {fmt_count(candidates[chosen][2]['records'])} events: at "
                f"{fmt_count(candidates[0][2]['records'])} it was estimated at {estimates[0]:.0f} s, with "
                f"{left:.0f} s of the budget left"
            )
        return candidates[chosen]

    def _rebuild(self, topic: str, suffix: str, events: int) -> dict[str, Any]:
        with progress_bar() as bar:
            task = bar.add_task("rebuilding ledger, limitation, audit (together, from offset 0)", total=events)
            result: dict[str, Any] = measure_rebuild(
                self.settings, topic, suffix, progress=lambda k: bar.advance(task, k)
            )
        result.update(
            events=events,
            events_per_s=events / result["rebuild_seconds"],
            extrapolated_seconds_for_1m=extrapolate(result["rebuild_seconds"], events),
        )
        return result

    # -- figures -------------------------------------------------------------------------------

    def _ingest_figure(
        self, small: dict[str, Any], plain: dict[str, Any], writers: dict[str, Any], floor: dict[str, Any]
    ) -> Figure:
        """Beside the baseline, the store path's floor (``measure_store_floor``): the rate with no domain at all,
        and the CPU per event the domain's commands add to it."""
        return Figure(
            "ingest",
            small["events_per_s"],
            "events/s",
            f"{fmt_number(small['events_per_s'])} events/s · {fmt_number(small['commands_per_s'])} commands/s\n"
            f"{fmt_count(small['events'])} events, CollectionApp, unit_of_work of {small['batch']}\n"
            f"{writers['processes']} writer processes: {fmt_number(writers['events_per_s'])} events/s\n"
            f"floor without the domain: {fmt_number(floor['events_per_s'])} events/s; CPU per event "
            f"{small['cpu_us_per_event']:.0f} µs, {floor['cpu_us_per_event']:.0f} of them the store path's",
            baseline=plain["events_per_s"],
            baseline_shown=f"{fmt_number(plain['events_per_s'])} events/s (= commands/s)\nplain Application, one "
            f"save per command, {fmt_count(plain['events'])} events",
            target=TARGETS["ingest"],
            details={
                "kravsak": small,
                "kravsak_writers": writers,  # the same workload in WRITERS processes over disjoint cases (ADR 0030)
                "store_floor": floor,  # eventsourcing and kravsak's store path without the domain (ADR 0043)
                "baseline": plain,
                "commands_ratio": ratio(small["commands_per_s"], plain["commands_per_s"]),
            },
        )

    def _publish_figure(
        self, small: dict[str, Any], raw_small: dict[str, Any], large: dict[str, Any], raw_large: dict[str, Any]
    ) -> Figure:
        """Judged at the larger size, against the raw producer on the same records (ADR 0040): at 10 000 the
        publisher's start (process, store, children, producer, schemas: ~0.16 s) is a third of its run, and the raw
        producer's 10 000 records fit in its 32 MB buffer, so it never waits for the broker there."""
        return Figure(
            "publish",
            large["events_per_s"],
            "events/s",
            f"{fmt_number(large['events_per_s'])} events/s\n{fmt_count(large['events'])} events, store → broker "
            f"ack, start included\n(at {fmt_count(small['events'])}: {fmt_number(small['events_per_s'])} events/s, "
            f"{ratio(small['events_per_s'], raw_small['events_per_s']) or 0:.2f} × raw)\n"
            f"CPU per event: {_publish_cpu(large)}",
            baseline=raw_large["events_per_s"],
            baseline_shown=f"{fmt_number(raw_large['events_per_s'])} events/s\nraw producer, the same "
            f"{fmt_count(raw_large['events'])} records (ceiling)\nits CPU: {raw_large['cpu_us_per_event']:.0f} µs "
            f"per event\n(at {fmt_count(raw_small['events'])}: {fmt_number(raw_small['events_per_s'])} events/s)"
            f"{_appender_shown(raw_large)}",
            target=TARGETS["publish"],
            judge_ratio=True,
            details={"kravsak": large, "baseline": raw_large, "kravsak_small": small, "baseline_small": raw_small},
        )

    def _project_figure(self, kafka: dict[str, Any], es: dict[str, Any]) -> Figure:
        return Figure(
            "project",
            kafka["events_per_s"],
            "events/s",
            f"{fmt_number(kafka['events_per_s'])} events/s\n{fmt_count(kafka['records'])} events via Kafka, "
            "3 projections, batches of 2 000",
            baseline=es["events_per_s"],
            baseline_shown=f"{fmt_number(es['events_per_s'])} events/s\neventsourcing ProjectionRunner, PostgreSQL "
            f"log, no Kafka,\none commit per event, {fmt_count(es['events'])} events",
            target=TARGETS["project"],
            details={"kravsak": kafka, "baseline": es},
        )

    def _e2e_figure(self, e2e: dict[str, Any]) -> Figure:
        lat = e2e["latency_ms"]
        shown = (
            f"p50 {fmt_number(lat['p50'])} ms · p99 {fmt_number(lat['p99'])} ms\n"
            f"{fmt_number(e2e['achieved_commands_per_s'])} of {fmt_number(e2e['offered_commands_per_s'])} "
            f"commands/s achieved, {e2e['seconds']:g}\u00a0s"
        )
        warm = e2e.get("warm_up")
        if warm and warm["latency_ms"]["p99"] is not None:
            shown += f"\nafter {warm['seconds']:g} s warm-up (its p99 {fmt_number(warm['latency_ms']['p99'])} ms)"
        p99 = lat["p99"]
        if e2e["commands_not_visible_within_60s"] or p99 is None:
            shown += f"\n{fmt_count(e2e['commands_not_visible_within_60s'])} commands not in the ledger 60 s later"
            p99 = 60_000.0  # at least the wait: the percentile over all commands is beyond it
        to_broker, to_ledger = e2e["save_to_broker_ms"], e2e["broker_to_ledger_ms"]
        achieved, offered = e2e["achieved_commands_per_s"], e2e["offered_commands_per_s"]
        short = achieved < 0.95 * offered
        return Figure(
            "end_to_end",
            p99,
            "ms p99",
            shown,
            baseline_shown=f"split at the broker (p50 / p99):\nsave → broker {fmt_number(to_broker['p50'])} / "
            f"{fmt_number(to_broker['p99'])} ms\nbroker → ledger {fmt_number(to_ledger['p50'])} / "
            f"{fmt_number(to_ledger['p99'])} ms",
            target=TARGETS["end_to_end"],
            missed_because=f"the writer achieved {achieved:g} of the {offered:g} commands/s offered" if short else None,
            details=e2e,
        )

    def _rebuild_figure(self, rebuilt: dict[str, Any], live: dict[str, Any]) -> Figure:
        live_1m = extrapolate(live["apply_seconds"], live["records"])
        return Figure(
            "rebuild",
            rebuilt["extrapolated_seconds_for_1m"],
            "s for 1 000 000 events",
            f"{fmt_count(rebuilt['events'])} events in {rebuilt['rebuild_seconds']:.0f} s = "
            f"{fmt_number(rebuilt['events_per_s'])} events/s\n→ 1 000 000 in "
            f"{rebuilt['extrapolated_seconds_for_1m'] / 60:.1f} min",
            baseline=live_1m,
            baseline_shown=f"live runner, same events: {fmt_number(live['events_per_s'])} events/s\n→ 1 000 000 in "
            f"{live_1m / 60:.1f} min",
            target=TARGETS["rebuild"],
            details=rebuilt,
        )

    @staticmethod
    def _growth_figure(
        name: str, what: str, small: dict[str, Any], large: dict[str, Any], seconds_key: str, events_key: str
    ) -> Figure:
        cost_small = per_event_us(small[seconds_key], small[events_key])
        cost_large = per_event_us(large[seconds_key], large[events_key])
        return Figure(
            name,
            cost_large,
            "µs/event",
            f"{what}: {fmt_number(cost_large)} µs/event\nat {fmt_count(large[events_key])} events",
            baseline=cost_small,
            baseline_shown=f"{fmt_number(cost_small)} µs/event\nat {fmt_count(small[events_key])} events",
            target=TARGETS[name],
            judge_ratio=True,
            details={"us_per_event": {str(small[events_key]): cost_small, str(large[events_key]): cost_large}},
        )

    @staticmethod
    def _scale_figure(scale: dict[str, Any]) -> Figure:
        one, two = scale["1"], scale["2"]
        return Figure(
            "scale_out_project",
            two["events_per_s"],
            "events/s",
            f"2 projector processes: {fmt_number(two['events_per_s'])} events/s\n{fmt_count(scale['records'])} "
            f"events, {scale['partitions']} partitions, one group",
            baseline=one["events_per_s"],
            baseline_shown=f"1 projector process: {fmt_number(one['events_per_s'])} events/s\nthe same events",
            details=scale,
        )

    @staticmethod
    def _publish_scale_figure(scale: dict[str, Any]) -> Figure:
        one, two = scale["1"], scale["2"]
        return Figure(
            "scale_out_publish",
            two["events_per_s"],
            "events/s",
            f"2 publisher processes: {fmt_number(two['events_per_s'])} events/s\n{fmt_count(scale['events'])} "
            f"events, partitions {' and '.join(two['ranges'])}, {fmt_number(two['cpu_us_per_event'])} µs CPU/event",
            baseline=one["events_per_s"],
            baseline_shown=f"1 publisher process: {fmt_number(one['events_per_s'])} events/s\nthe same events, "
            f"{fmt_number(one['cpu_us_per_event'])} µs CPU/event",
            details=scale,
        )

    @staticmethod
    def _memory_figures(memory: dict[str, dict[str, float]]) -> list[Figure]:
        return [
            Figure(
                f"memory_{who}",
                m.get("peak_mib"),
                "MiB peak RSS",
                f"{fmt_number(m.get('peak_mib'))} MiB peak RSS\n(VmHWM, end of the end-to-end run)",
                details=m,
            )
            for who, m in memory.items()
        ]

    # -- bounds --------------------------------------------------------------------------------

    def _bounds(self, figures: Sequence[Figure], small_schema: str, small_topic: str) -> None:
        """Short profiles of the stages that missed their targets, in the order of the table (the
        growth's last: it adds commands to the two stores)."""
        missed = {f.name: f for f in figures if f.met is False}
        if not missed:
            return
        self.say(f"bounds: short profiles of {', '.join(missed)}")
        s, r, settings = self.sizes, self.resources, self.settings
        profiles: dict[str, Callable[[], dict[str, Any]]] = {
            "ingest": lambda: profile_ingest(settings, r, s),
            "publish": lambda: profile_publish(settings, r, small_schema),
            "project": lambda: profile_projection(settings, r, small_topic, s, one_at_a_time=False),
            # the rebuild applies all three together, as the live runner does: its own fresh schemas
            "rebuild": lambda: profile_projection(
                settings, r, small_topic, s, one_at_a_time=False, label="profile_rebuild"
            ),
        }
        for name, figure in missed.items():
            if name in profiles:
                figure.bound = profiles[name]()
            elif name == "end_to_end":
                d = figure.details
                figure.bound = {
                    "measured": "latency split at the broker's LogAppendTime",
                    "save_to_broker_ms": d["save_to_broker_ms"],
                    "broker_to_ledger_ms": d["broker_to_ledger_ms"],
                    "saved_events_per_s": d["events_per_s"],
                    "achieved_commands_per_s": d["achieved_commands_per_s"],
                    "writer_delay_ms_p99": d["writer_delay_ms_p99"],
                    "note": "the larger share of the split names the stage that bounds the latency; the project "
                    "and publish bounds name its top functions",
                }
            elif name == "growth_ingest":
                small, large = self.raw["ingest_small"], self.raw["ingest_large"]
                at = {
                    str(run["events"]): profile_growing_store(
                        settings, run["schema"], run["claims"], s.profile_commands
                    )
                    for run in (small, large)
                }
                figure.bound = {"measured": "the same commands on the small and on the large store", "at": at}
            elif name.startswith("growth"):
                figure.bound = {"measured": "cost per event at both sizes", **figure.details}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kravsak.bench", description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run of every stage (~3 min)")
    parser.add_argument(
        "--budget-minutes",
        type=float,
        default=14.0,
        help="whole run's budget; the rebuild takes the largest topic that fits (default 14)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="folder of the result JSON")
    parser.add_argument(
        "--skip",
        nargs="*",
        choices=SKIPPABLE,
        default=[],
        help="leave out stages that run on their own (python -m kravsak.bench.api / .intake); noted in the result",
    )
    args = parser.parse_args(argv)
    logs.configure("console", level=os.environ.get("KRAVSAK_LOG_LEVEL", "WARNING"))
    settings = load_settings()
    sizes = QUICK if args.quick else Sizes()
    started = datetime.now(UTC)
    machine = machine_info(settings)
    bench = Bench(settings, sizes, args.budget_minutes * 60, skip=frozenset(args.skip))
    try:
        figures = bench.run()
    finally:
        console.rule(f"[bold]clean-up[/]  [dim]{bench.elapsed():.0f} s[/]", align="left")
        bench.notes += bench.resources.cleanup()
    machine_at_end(machine)
    document = result_document(
        started=started,
        wall_seconds=bench.elapsed(),
        machine=machine,
        figures=figures,
        sizes={
            **vars(sizes),
            "quick": args.quick,
            "budget_minutes": args.budget_minutes,
            **bench.raw.get("rebuild_choice", {}),
        },
        stages=bench.stages,
        notes=bench.notes,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    path = result_path(args.out, started.date())
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")
    print_report(document, figures, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
