"""Projection benchmark against the running stack: Kafka → the three read models in PostgreSQL.

Run: ``python -m kravsak.bench.project [N] [--keep]`` (N events, default 100 000).

Makes N events with the standard workload (``kravsak.bench.workload``) in an in-memory ``CollectionApp``,
produces them to a fresh topic of 12 partitions, then measures

- **projection**: one runner (``ProjectionRunner``, all three projections in one transaction per
  batch) from offset 0 until caught up. ``events_per_s`` counts from the first batch, so the
  consumer group join is not in it; ``wall_seconds`` includes it;
- **rebuild**: ``rebuild_together()`` of the three from offset 0 (aside, then switch); its first pass runs
  in one worker process per core on a topic of ≥ 20 000 records per worker (``default_processes``,
  ADR 0034).

Everything lives in schemas with a suffix of its own; they and the topic are dropped afterwards
unless ``--keep``.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from consumers.projector import Applier, BatchResult, Message, ProjectionRunner, RunnerOptions, rebuild_together
from domain.application import CollectionApp
from kravsak import logs
from kravsak.bench.report import progress_bar
from kravsak.bench.scratch import PROJECTIONS, create_topic, delete_topics, drop_schemas, encoded_events, produce
from kravsak.bench.workload import EVENTS_PER_CLAIM, workload_app
from kravsak.settings import Settings, load_settings


def produce_app_events(
    app: CollectionApp,
    bootstrap: str,
    topic: str,
    *,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Produce the app's first ``limit`` events (default all) to ``topic``; returns how many."""
    return produce(bootstrap, topic, encoded_events(app, limit=limit), progress=progress)


# --- measurements ------------------------------------------------------------------------------


class _TimedApplier(Applier):
    """Notes when the first batch arrived and when the last one was committed (the clock's time and this process's
    CPU time at both), and reports each batch's size."""

    first_batch_at: float | None = None
    last_batch_at: float | None = None
    first_batch_cpu: float | None = None
    last_batch_cpu: float | None = None
    on_batch: Callable[[int], None] | None = None
    records = 0

    def apply_batch(
        self, messages: Sequence[Message], *, meanwhile: Callable[[], Sequence[Any]] | None = None
    ) -> BatchResult:
        if self.first_batch_at is None and messages:
            self.first_batch_at, self.first_batch_cpu = time.perf_counter(), time.process_time()
        result = super().apply_batch(messages, meanwhile=meanwhile)
        if not result.gaps:
            self.records += len(messages)
            self.last_batch_at, self.last_batch_cpu = time.perf_counter(), time.process_time()
        if self.on_batch is not None:
            self.on_batch(len(messages))
        return result


def measure_projection(
    settings: Settings,
    topic: str,
    suffix: str,
    *,
    batch: int = 2000,
    progress: Callable[[int], None] | None = None,
    timeout_s: float = 1800,
) -> dict[str, float]:
    options = RunnerOptions(
        topic=topic,
        group=f"bench-projector-{uuid.uuid4().hex[:8]}",
        schema_suffix=suffix,
        batch_size=batch,
        projections=PROJECTIONS,  # the three the figure was defined on
    )
    runner = ProjectionRunner(settings.pg_dsn, settings.kafka_bootstrap, options)
    timed = _TimedApplier(
        runner.conn,
        runner.targets,
        runner.applier.decode,
        folder=runner.folder,
        cases_schema=runner.applier.cases_schema,
    )
    timed.on_batch = progress
    runner.applier = timed
    stop = threading.Event()
    timer = threading.Timer(timeout_s, stop.set)
    timer.start()
    started = time.perf_counter()
    try:
        report = runner.run(stop, until_caught_up=True)
    finally:
        timer.cancel()
        runner.close()
    ended = time.perf_counter()
    if stop.is_set():
        raise TimeoutError(f"the runner did not catch up within {timeout_s:.0f} s")
    first = timed.first_batch_at or started
    last = timed.last_batch_at or ended  # its commit: every record projected (the baseline's end is the same)
    records = timed.records
    # the CPU over the same window: the runner's start (connections, tables, joining the group) is not a cost per record
    apply_cpu = (timed.last_batch_cpu or 0.0) - (timed.first_batch_cpu or 0.0)
    return {
        "records": records,
        "applied": report.applied,
        "parked": report.parked,
        "wall_seconds": ended - started,
        "apply_seconds": last - first,
        "events_per_s": records / (last - first) if last > first else 0.0,
        "apply_cpu_seconds": round(apply_cpu, 3),
        "apply_cpu_us_per_record": round(apply_cpu / records * 1e6, 1) if records else 0.0,
    }


def measure_rebuild(
    settings: Settings, topic: str, suffix: str, progress: Callable[[int], None] | None = None
) -> dict[str, float]:
    """``rebuild_together`` of the three projections: one pass over the topic feeding all three (in one
    worker process per core), then each caught up to its live offsets and switched in."""
    began = time.perf_counter()
    rebuild_together(
        settings.pg_dsn, settings.kafka_bootstrap, PROJECTIONS, topic=topic, schema_suffix=suffix, progress=progress
    )
    return {"rebuild_seconds": time.perf_counter() - began, "passes_over_the_topic": 1}


def measure(n: int, settings: Settings | None = None, *, keep: bool = False, partitions: int = 12) -> dict[str, Any]:
    settings = settings or load_settings()
    tag = uuid.uuid4().hex[:8]
    topic, suffix = f"bench-project-{tag}", f"_bench_{tag}"
    result: dict[str, Any] = {"events": n, "partitions": partitions, "topic": topic, "schema_suffix": suffix}
    try:
        with progress_bar() as bar:
            task = bar.add_task("domain workload in memory", total=int(n / EVENTS_PER_CLAIM) + 1)
            app = workload_app(n, progress=lambda k: bar.advance(task, k))
            bar.update(task, description=f"producing to {topic}", total=n, completed=0)
            create_topic(settings.kafka_bootstrap, topic, partitions)
            began = time.perf_counter()
            produced = produce_app_events(
                app, settings.kafka_bootstrap, topic, limit=n, progress=lambda k: bar.advance(task, k)
            )
            result["produce_seconds"] = time.perf_counter() - began
            bar.update(task, description="projecting (ledger, limitation, audit)", total=produced, completed=0)
            result.update(measure_projection(settings, topic, suffix, progress=lambda k: bar.advance(task, k)))
            bar.update(task, description="rebuilding the projections together", total=produced, completed=0)
            result.update(measure_rebuild(settings, topic, suffix, progress=lambda k: bar.advance(task, k)))
            result["rebuild_events_per_s"] = produced / result["rebuild_seconds"]
    finally:
        if not keep:
            drop_schemas(settings.pg_dsn, suffix)
            delete_topics(settings.kafka_bootstrap, [topic])
    return result


def main(argv: Sequence[str] | None = None) -> int:
    logs.configure("console", level="WARNING")  # the progress bar and the figures, not the runner's log lines
    args = list(sys.argv[1:] if argv is None else argv)
    numbers = [a for a in args if not a.startswith("-")]
    n = int(numbers[0]) if numbers else 100_000
    result = measure(n, keep="--keep" in args)
    for key, value in result.items():
        print(f"{key}={value:.1f}" if isinstance(value, float) else f"{key}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
