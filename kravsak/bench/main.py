"""`make bench`: the main job's figures, each measured in one run next to its baseline, as a ratio.

Run: ``python -m kravsak.bench [--quick] [--budget-minutes 14] [--out bench/results]``.

Stages (``bench/README.md`` says how to read each figure and the JSON):

1. **ingest**: the generated Norwegian workload, 10 000 events, through ``CollectionApp`` on
   PostgreSQL in ``unit_of_work`` batches (``kravsak.bench.domain.measure``), next to a plain
   eventsourcing ``Application`` saving one minimal event per command for as many events (or 30 s).
   Then the workload again at 100 000 events (growth).
2. **publish**: the 10 000-event store onto Kafka with ``run_publisher`` (store → broker
   acknowledgement), next to a raw producer sending the publisher's own records for the same
   events; then the 100 000-event store (the topic for the projection's growth).
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
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import json
import math
import os
import platform
import pstats
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Recording, Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection, ProjectionRunner
from psycopg.rows import tuple_row
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from consumers.projector import (
    SCHEMAS_DIR,
    Applier,
    Decoder,
    Message,
    all_projections,
    cases_schema_for,
    ensure_projection,
    read_partition_range,
    stored_offsets,
)
from consumers.projector import Target as ProjectionTarget
from consumers.publisher import Publisher, PublisherOptions, max_notification_id, publisher_lag, run_publisher
from consumers.topics import case_events_spec, ensure_topics_at, schemas_spec
from consumers.wire.codec import SchemaStore, encode
from consumers.wire.envelope import PartyIndex, event_record
from domain.application import CollectionApp
from domain.claim import Claim, claim_id
from domain.errors import CommandRefused
from kravsak import logs
from kravsak.bench import domain as bench_domain
from kravsak.bench.project import drop_schemas, measure_projection, measure_rebuild
from kravsak.bench.publish import (
    CREDITOR,
    EVENTS_PER_CLAIM,
    _append_times,
    app_for,
    create_event_store,
    delete_topics,
    drop_event_store,
)
from kravsak.bench.workload import Command, execute, norwegian_claims, setup
from kravsak.pipeline import end_offsets
from kravsak.settings import Settings, load_settings
from projections.base import ProjectedEvent, schema_name
from projections.casefold import CaseFolder

ROOT = Path(__file__).resolve().parents[2]
RESULTS_DIR = ROOT / "bench" / "results"
RESULT_SCHEMA_VERSION = 1
MILLION = 1_000_000
console = Console(stderr=True)

# --- pure helpers (tests/unit/test_bench.py) ----------------------------------------------------


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
    "publish": Target(">=", 20_000, "events/s"),
    "project": Target(">=", 10_000, "events/s"),
    "end_to_end": Target("<", 500, "ms p99"),
    "rebuild": Target("<", 120, "s for 1 000 000 events"),
    "growth_ingest": Target("<=", 1.25, "× (flat)"),
    "growth_project": Target("<=", 1.25, "× (flat)"),
}
"""Growth has no target of its own ("it should stay flat"): 1.25 is this bench's reading of flat."""


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


def top_functions(stats: Mapping[Any, Any], total_seconds: float, n: int = 5) -> list[dict[str, Any]]:
    """The ``n`` functions with the most own time in a ``pstats.Stats.stats`` mapping
    ``{(file, line, name): (primitive calls, calls, own s, cumulative s, callers)}``."""
    ranked = sorted(stats.items(), key=lambda item: item[1][2], reverse=True)[:n]
    out = []
    for (filename, line, name), (_, calls, own, cumulative, _) in ranked:
        where = _short_path(filename)
        out.append({
            "function": f"{where}:{line}({name})" if line else name,
            "calls": calls,
            "own_s": round(own, 4),
            "cumulative_s": round(cumulative, 4),
            "share": round(own / total_seconds, 3) if total_seconds else None,
        })  # fmt: skip
    return out


AREAS = (
    ("psycopg", "psycopg (PostgreSQL)"),
    ("/kafka/", "kafka-python"),
    ("fastavro", "fastavro"),
    ("/eventsourcing/", "eventsourcing"),
    ("/domain/", "domain"),
    ("/projections/", "projections"),
    ("/consumers/", "consumers"),
    ("/kravsak/", "kravsak"),
)


def time_by_area(stats: Mapping[Any, Any], total_seconds: float) -> dict[str, float]:
    """Share of the own time per library or kravsak package, largest first (``~``: built-ins, e.g.
    sockets and locks; the rest is the standard library)."""
    shares: dict[str, float] = {}
    for (filename, _, _), (_, _, own, _, _) in stats.items():
        area = next((name for marker, name in AREAS if marker in filename), None)
        area = area or ("built-ins" if filename == "~" else "standard library")
        shares[area] = shares.get(area, 0.0) + own
    ranked = sorted(shares.items(), key=lambda kv: kv[1], reverse=True)
    return {area: round(own / total_seconds, 3) if total_seconds else 0.0 for area, own in ranked}


def _short_path(filename: str) -> str:
    for marker in ("site-packages/", "lib/python3.11/", str(ROOT) + "/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


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


def render_table(figures: Sequence[Figure], *, title: str) -> Table:
    table = Table(title=title, title_justify="left", show_lines=True)
    for column, justify in (
        ("figure", "left"),
        ("kravsak", "left"),
        ("baseline", "left"),
        ("ratio", "right"),
        ("target", "left"),
        ("", "center"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for f in figures:
        table.add_row(
            f.name.replace("_", " "),
            f.shown,
            f.baseline_shown,
            fmt_ratio(f.ratio),
            f.target.text() if f.target else "—",
            mark(f.met),
        )
    return table


# --- sizes and the run's resources --------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    small: int = 10_000
    """Events of the ingest, publish-small and projection comparisons, and the growth's first point."""
    large: int = 100_000
    """Events of the growth's second point, the publish figure and the largest rebuild candidate."""
    uow_batch: int = 500
    e2e_rate: float = 500.0
    e2e_seconds: float = 20.0
    e2e_debtors: int = 500
    profile_commands: int = 500
    profile_messages: int = 2000
    time_box_s: float = 30.0
    """Longest run of a one-commit-per-event baseline (its rate does not depend on its length)."""


QUICK = Sizes(small=2_000, large=6_000, e2e_seconds=5.0, profile_commands=200, profile_messages=500, time_box_s=15)


def claims_for(events: int) -> int:
    """Claims of the standard workload that make about ``events`` events."""
    return int(events / EVENTS_PER_CLAIM) + 1


class Resources:
    """Schemas, topics and consumer groups this run made, so ``cleanup`` drops exactly those."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tag = uuid.uuid4().hex[:8]
        self.schemas: list[str] = []
        self.suffixes: list[str] = []
        self.topics: list[str] = []
        self.groups: list[str] = []
        self.files: list[Path] = []

    def schema(self, what: str) -> str:
        name = f"bench_{self.tag}_{what}"
        self.schemas.append(name)
        create_event_store(self.settings.pg_dsn, name)
        return name

    def suffix(self, what: str) -> str:
        name = f"_bench_{self.tag}_{what}"
        self.suffixes.append(name)
        return name

    def topic(self, what: str) -> str:
        name = f"bench-{self.tag}-{what}"
        self.topics.append(name)
        return name

    def cleanup(self) -> list[str]:
        problems: list[str] = []
        # the groups first: which groups only read our topics is known only while the topics exist
        for step, action in (
            ("groups", self._delete_groups),
            ("schemas", self._drop_schemas),
            ("topics", self._delete_topics),
        ):
            try:
                action()
            except Exception as exc:  # noqa: BLE001 - report and go on with the rest of the clean-up
                problems.append(f"could not drop the bench's {step}: {type(exc).__name__}: {exc}")
        for path in self.files:
            path.unlink(missing_ok=True)
        return problems

    def _drop_schemas(self) -> None:
        for schema in self.schemas:
            drop_event_store(self.settings.pg_dsn, schema)
        for suffix in self.suffixes:
            drop_schemas(self.settings.pg_dsn, suffix)

    def _delete_topics(self) -> None:
        if self.topics:
            delete_topics(self.settings.kafka_bootstrap, self.topics)

    def _delete_groups(self) -> None:
        """Our own groups, and the groups that only ever read our topics (``measure_projection``
        names its group itself)."""
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap.split(","), client_id="kravsak-bench")
        try:
            ours = set(self.groups)
            candidates = [
                g["group_id"]
                for g in admin.list_groups()
                if g["group_id"].startswith("bench-") and g["group_id"] not in ours
            ]
            for group, offsets in (admin.list_group_offsets(candidates) if candidates else {}).items():
                if offsets and {tp.topic for tp in offsets} <= set(self.topics):
                    ours.add(group)
            existing = {g["group_id"] for g in admin.list_groups()}
            if ours & existing:
                admin.delete_groups(sorted(ours & existing))
        finally:
            admin.close()


# --- 1. ingest ----------------------------------------------------------------------------------


class Tally(Aggregate):
    """The smallest aggregate that records something: one event per command."""

    def __init__(self) -> None:
        self.total = 0

    @event("Counted")
    def count(self, amount: int) -> None:
        self.total += amount


class Tallies(Application[Any]):
    """A plain eventsourcing application: get, one event, save; one transaction per command."""

    def open_tally(self) -> Any:
        tally = Tally()
        self.save(tally)
        return tally.id

    def count(self, tally_id: Any, amount: int) -> None:
        tally: Tally = self.repository.get(tally_id)
        tally.count(amount)
        self.save(tally)


def measure_ingest(settings: Settings, resources: Resources, events: int, batch: int) -> dict[str, Any]:
    schema = resources.schema(f"ingest{events}")
    app = app_for(settings, schema)
    try:
        result: dict[str, Any] = bench_domain.measure(claims_for(events), app, batch=batch)
    finally:
        app.close()
    result.update(schema=schema, batch=batch, us_per_event=per_event_us(result["seconds"], result["events"]))
    return result


def measure_plain_ingest(settings: Settings, resources: Resources, events: int, time_box_s: float) -> dict[str, Any]:
    """``events`` commands of ``Tallies``, each its own save; a tally takes ~``EVENTS_PER_CLAIM``
    events as a claim does (the first creates it, the others load it first). One commit per
    command costs the same at any length of the log, so the run stops at ``time_box_s``."""
    schema = resources.schema("plain")
    app = Tallies(settings.eventsourcing_env(POSTGRES_SCHEMA=schema))
    per_tally = round(EVENTS_PER_CLAIM)
    done = 0
    try:
        with _progress() as bar:
            task = bar.add_task("plain Application, one save per command", total=events)
            tally = None
            began = time.perf_counter()
            deadline = began + time_box_s
            while done < events and time.perf_counter() < deadline:
                if done % per_tally == 0:
                    tally = app.open_tally()
                else:
                    app.count(tally, done)
                done += 1
                if done % 100 == 0:
                    bar.update(task, completed=done)
            seconds = time.perf_counter() - began
        stored = app.recorder.max_notification_id() or 0
    finally:
        app.close()
    return {
        "commands": done,
        "events": stored,
        "of_events": events,
        "time_boxed": done < events,
        "time_box_s": time_box_s,
        "seconds": seconds,
        "events_per_s": stored / seconds,
        "commands_per_s": done / seconds,
        "schema": schema,
        "events_per_aggregate": per_tally,
    }


# --- 2. publish ---------------------------------------------------------------------------------


def measure_publish(settings: Settings, schema: str, topic: str) -> dict[str, Any]:
    """``run_publisher(once=True)`` from position 0 to lag 0 (topics made beforehand, so the time
    is the store → broker path; the producer's start and the schema records are in it)."""
    options = PublisherOptions(topic=topic, schemas_topic=f"{topic}-schemas", pg_schema=schema)
    ensure_topics_at(settings.kafka_bootstrap, [case_events_spec(topic), schemas_spec(options.schemas_topic)])
    total = publisher_lag(settings.pg_dsn, name=topic, schema=schema)
    stop, done = threading.Event(), threading.Event()
    with _progress() as bar:
        task = bar.add_task(f"publishing {schema} to {topic}", total=total)

        def watch() -> None:
            while not done.wait(0.5):
                bar.update(task, completed=total - publisher_lag(settings.pg_dsn, name=topic, schema=schema))

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        began = time.perf_counter()
        try:
            report = run_publisher(settings, stop_event=stop, once=True, options=options)
        finally:
            done.set()
            watcher.join()
        seconds = time.perf_counter() - began
    return {
        "events": report.published,
        "seconds": seconds,
        "events_per_s": report.published / seconds,
        "compression": options.compression,
        "batch": options.batch_size,
        "topic": topic,
    }


def measure_raw_producer(settings: Settings, schema: str, topic: str) -> dict[str, Any]:
    """The ceiling: the publisher's own records (its ``_prepare``, untimed) sent by its own
    producer (``_new_producer``, ``_send``: same settings, one flush at the end) to ``topic``."""
    ensure_topics_at(settings.kafka_bootstrap, [case_events_spec(topic)])
    publisher = Publisher(settings, PublisherOptions(topic=topic, pg_schema=schema))
    publisher.app = app_for(settings, schema)
    try:
        with _progress() as bar:
            task = bar.add_task("encoding the records for the raw producer (untimed)", total=None)
            notifications = publisher.app.recorder.select_notifications(start=1, limit=10**9)
            bar.update(task, total=len(notifications))
            prepared = []
            for n in notifications:
                prepared.append(publisher._prepare(n))
                if len(prepared) % 1000 == 0:
                    bar.update(task, completed=len(prepared))
            bar.update(task, description="raw producer: sending the same bytes", completed=0, total=None)
            publisher.producer = publisher._new_producer()
            began = time.perf_counter()
            publisher._send(prepared)
            seconds = time.perf_counter() - began
    finally:
        publisher.close()
    size = sum(len(p.value) for p in prepared)
    return {
        "events": len(prepared),
        "seconds": seconds,
        "events_per_s": len(prepared) / seconds,
        "value_bytes": size,
        "topic": topic,
    }


# --- 3. project: the eventsourcing baseline -----------------------------------------------------


class ReadModelViews(PostgresTrackingRecorder):
    """The three read models as one eventsourcing materialised view: an event's rows and its
    tracking record in one transaction (the projections' own ``apply``, their own tables)."""

    last_applied_at = 0.0

    def apply(
        self,
        tracking: Tracking,
        projected: ProjectedEvent,
        before: Any,
        after: Any,
        targets: Sequence[ProjectionTarget],
    ) -> None:
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
            for t in targets:
                t.projection.apply(cur, projected, t.schema, before, after)
            self._insert_tracking(cur, tracking)  # type: ignore[arg-type]  # any row factory will do
        self.last_applied_at = time.perf_counter()


class ReadModelsProjection(Projection[ReadModelViews]):
    """Each stored event → the publisher's record (envelope + Avro, so the projections see exactly
    what they see from Kafka) → the case fold (``CaseFolder``) → the three projections' ``apply``.
    The fold lives in memory: the baseline always starts at position 0."""

    suffix = ""

    def __init__(self, view: ReadModelViews) -> None:
        super().__init__(view)
        self.schemas = SchemaStore.from_directory(SCHEMAS_DIR)
        self.decode = Decoder(self.schemas)
        self.parties = PartyIndex()
        self.folder = CaseFolder()
        self.targets = [ProjectionTarget(p, schema_name(p.name, suffix=self.suffix)) for p in all_projections()]

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.parties.learn(domain_event)
        name, record = event_record(domain_event, position=tracking.notification_id, parties=self.parties)
        projected = self.decode(encode(record, self.schemas.latest(name)))
        before, after = self.folder.advance(projected)
        self.view.apply(tracking, projected, before, after, self.targets)


def measure_eventsourcing_projection(settings: Settings, schema: str, suffix: str, time_box_s: float) -> dict[str, Any]:
    """eventsourcing's ``ProjectionRunner`` from position 0 of ``schema``'s log until its tracking
    record reaches the head or ``time_box_s`` passes (one commit per event: the rate does not
    depend on how far it got); events/s from the runner's start to the last event applied."""
    with psycopg.connect(settings.pg_dsn) as conn:
        for p in all_projections():
            ensure_projection(conn, p, schema_name(p.name, suffix=suffix), cases_schema_for(suffix))
        head = max_notification_id(conn, schema)
    projection_class = type("KravsakReadModels", (ReadModelsProjection,), {"suffix": suffix})
    env = settings.eventsourcing_env(POSTGRES_SCHEMA=schema)
    with _progress() as bar:
        task = bar.add_task("eventsourcing ProjectionRunner (PostgreSQL log, no Kafka)", total=head)
        began = time.perf_counter()
        with ProjectionRunner(
            application_class=CollectionApp, projection_class=projection_class, view_class=ReadModelViews, env=env
        ) as runner:
            deadline = time.monotonic() + time_box_s
            while (done := runner.view.max_tracking_id(runner.app_name) or 0) < head:
                if time.monotonic() > deadline:
                    break
                runner.run_forever(timeout=0.2)  # re-raises the runner's error
                bar.update(task, completed=done)
        done = runner.view.max_tracking_id(runner.app_name) or 0  # the runner's threads have stopped
        seconds = runner.view.last_applied_at - began
        runner.view.datastore.close()
    return {
        "events": done,
        "of_events": head,
        "time_boxed": done < head,
        "time_box_s": time_box_s,
        "seconds": seconds,
        "events_per_s": done / seconds,
        "transactions": done,
        "schema": schema,
        "suffix": suffix,
    }


# --- 4. end-to-end ------------------------------------------------------------------------------


class _SavingApp(CollectionApp):
    """``CollectionApp`` that keeps the recordings of its last save (same tables: same name)."""

    name = CollectionApp.name
    last_recordings: list[Recording[Any]] = []

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[Any]]:
        recordings = super().save(*objs, **kwargs)
        if recordings:
            self.last_recordings = recordings
        return recordings


class LedgerWatch(threading.Thread):
    """Polls ``kravsak_ledger<suffix>.claims`` for the cases with commands in flight; a command is
    visible when its case's row holds a position at or after the command's last event."""

    def __init__(self, dsn: str, schema: str, interval_s: float = 0.01) -> None:
        super().__init__(name="ledger-watch", daemon=True)
        self.dsn, self.schema, self.interval_s = dsn, schema, interval_s
        self.pending: dict[str, list[tuple[int, float]]] = {}
        self.seen: list[tuple[int, float, float]] = []  # (position, saved at, visible at), epoch s
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def expect(self, case_id: str, position: int, saved_at: float) -> None:
        with self.lock:
            self.pending.setdefault(case_id, []).append((position, saved_at))

    def in_flight(self) -> int:
        with self.lock:
            return sum(len(v) for v in self.pending.values())

    def run(self) -> None:
        try:
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                query = f'SELECT case_id, position FROM "{self.schema}".claims WHERE case_id = ANY(%s)'
                while not self.stopping.is_set():
                    with self.lock:
                        cases = list(self.pending)
                    if cases:
                        asked = time.time()  # the snapshot: rows committed before it are visible
                        rows = conn.execute(query, (cases,)).fetchall()
                        with self.lock:
                            for case_id, position in rows:
                                waiting = self.pending.get(case_id, [])
                                ready = [w for w in waiting if w[0] <= position]
                                self.seen.extend((p, s, asked) for p, s in ready)
                                rest = [w for w in waiting if w[0] > position]
                                if rest:
                                    self.pending[case_id] = rest
                                else:
                                    self.pending.pop(case_id, None)
                    self.stopping.wait(self.interval_s)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            self.error = exc


def peak_rss_mib(pid: int) -> dict[str, float]:
    """VmHWM (peak resident set) and VmRSS of a live process, MiB, from ``/proc/<pid>/status``."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out["peak_mib" if key == "VmHWM" else "rss_mib"] = round(int(rest.split()[0]) / 1024, 1)
    return out


def _projected_to(dsn: str, suffix: str, topic: str, ends: Mapping[int, int]) -> bool:
    try:
        with psycopg.connect(dsn) as conn, conn.cursor() as cur:
            for p in all_projections():
                got = stored_offsets(cur, schema_name(p.name, suffix=suffix), topic)
                if any(got.get(part, 0) < end for part, end in ends.items()):
                    return False
    except psycopg.errors.UndefinedTable:
        return False
    return True


def _wait_for(
    condition: Callable[[], bool],
    what: str,
    timeout_s: float,
    procs: Sequence[subprocess.Popen[bytes]],
    logs_at: Sequence[Path],
) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        for proc, log_file in zip(procs, logs_at, strict=True):
            if proc.poll() is not None:
                tail = log_file.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} ({what}):\n{tail}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout_s:.0f} s")
        time.sleep(0.2)


def measure_end_to_end(settings: Settings, resources: Resources, sizes: Sizes) -> dict[str, Any]:
    schema, topic, suffix = resources.schema("e2e"), resources.topic("e2e"), resources.suffix("e2e")
    group = f"bench-{resources.tag}-e2e"
    resources.groups.append(group)
    resources.topics.append(f"{topic}-schemas")
    spec = case_events_spec(topic)
    # LogAppendTime: the broker's own clock per record splits the latency at the broker
    ensure_topics_at(
        settings.kafka_bootstrap,
        [
            replace(spec, configs={**spec.configs, "message.timestamp.type": "LogAppendTime"}),
            schemas_spec(f"{topic}-schemas"),
        ],
    )
    app = _SavingApp(settings.eventsourcing_env(POSTGRES_SCHEMA=schema))
    with app.unit_of_work():
        setup(app, CREDITOR, sizes.e2e_debtors, date(2025, 1, 1))
    env = {
        **os.environ,
        "KRAVSAK_PG_SCHEMA": schema,
        "KRAVSAK_PUBLISHER_TOPIC": topic,
        "KRAVSAK_PUBLISHER_SCHEMAS_TOPIC": f"{topic}-schemas",
        "KRAVSAK_PROJECTOR_TOPIC": topic,
        "KRAVSAK_PROJECTOR_GROUP": group,
        "KRAVSAK_PROJECTOR_SCHEMA_SUFFIX": suffix,
        "KRAVSAK_PROJECTOR_SESSION_TIMEOUT_MS": "10000",
        "KRAVSAK_LOG_FORMAT": "json",
        "KRAVSAK_LOG_LEVEL": "WARNING",
    }
    procs: list[subprocess.Popen[bytes]] = []
    log_files: list[Path] = []
    for module in ("consumers.publisher", "consumers.projector_main"):
        log_file = Path(tempfile.gettempdir()) / f"kravsak-bench-{resources.tag}-{module.split('.')[-1]}.log"
        resources.files.append(log_file)
        log_files.append(log_file)
        with log_file.open("wb") as out:
            procs.append(subprocess.Popen([sys.executable, "-m", module], env=env, stdout=out, stderr=out, cwd=ROOT))
    watch = LedgerWatch(settings.pg_dsn, schema_name("ledger", suffix=suffix))
    try:
        with _progress() as bar:
            task = bar.add_task("starting the publisher and the projector (processes)", total=None)
            started = time.monotonic()
            _wait_for(
                lambda: publisher_lag(settings.pg_dsn, name=topic, schema=schema) == 0,
                "publishing the set-up",
                90,
                procs,
                log_files,
            )
            ends = end_offsets(settings.kafka_bootstrap, topic)
            _wait_for(
                lambda: _projected_to(settings.pg_dsn, suffix, topic, ends),
                "projecting the set-up",
                90,
                procs,
                log_files,
            )
            ready_s = time.monotonic() - started
            watch.start()
            bar.update(task, description=f"offering {sizes.e2e_rate:g} commands/s", total=sizes.e2e_seconds)
            load = _offer_load(app, watch, sizes, lambda s: bar.update(task, completed=min(s, sizes.e2e_seconds)))
            bar.update(task, description="waiting for the last commands to reach the ledger", total=None)
            drain_deadline = time.monotonic() + 60
            while watch.in_flight() and time.monotonic() < drain_deadline and watch.error is None:
                time.sleep(0.05)
            memory = {"publisher": peak_rss_mib(procs[0].pid), "projector": peak_rss_mib(procs[1].pid)}
    finally:
        watch.stopping.set()
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        app.close()
    if watch.error is not None:
        raise watch.error
    watch.join(5)
    lost = watch.in_flight()
    latencies = [(visible - saved) * 1000 for _, saved, visible in watch.seen]
    appended = _append_times(settings.kafka_bootstrap, topic, {p for p, _, _ in watch.seen})
    to_broker = [(appended[p] - s) * 1000 for p, s, _ in watch.seen if p in appended]
    broker_to_ledger = [(v - appended[p]) * 1000 for p, _, v in watch.seen if p in appended]
    return {
        **load,
        "commands_visible": len(latencies),
        "commands_not_visible_within_60s": lost,
        "ready_seconds": round(ready_s, 1),
        "poll_interval_ms": watch.interval_s * 1000,
        "latency_ms": _spread(latencies),
        "save_to_broker_ms": _spread(to_broker),
        "broker_to_ledger_ms": _spread(broker_to_ledger),
        "memory": memory,
        "processes": ["python -m consumers.publisher", "python -m consumers.projector_main"],
    }


def _offer_load(app: _SavingApp, watch: LedgerWatch, sizes: Sizes, progress: Callable[[float], None]) -> dict[str, Any]:
    """Commands at ``e2e_rate`` a second, scheduled on the clock; every 20 ms tick saves the ones
    that are due in one ``unit_of_work``, at most 100 ms worth (a writer that cannot keep up falls
    behind its schedule: ``writer_delay_ms`` and the achieved rate say so; the latency counts
    from the save)."""
    commands = norwegian_claims(CREDITOR, 10**7, sizes.e2e_debtors)
    issued = refused = batches = events = 0
    behind_ms: list[float] = []
    began = time.time()
    while (elapsed := time.time() - began) < sizes.e2e_seconds:
        due = min(int(elapsed * sizes.e2e_rate) + 1 - issued, max(int(sizes.e2e_rate / 10), 1))
        if due > 0:
            batch: list[Command] = [next(commands) for _ in range(due)]
            with app.unit_of_work():
                for command in batch:
                    try:
                        execute(app, command)
                    except CommandRefused:
                        refused += 1
            saved = time.time()
            behind_ms.append((saved - began - issued / sizes.e2e_rate) * 1000)  # the batch's oldest command
            positions: dict[str, int] = {}
            events += len(app.last_recordings)
            for r in app.last_recordings:
                if isinstance(r.domain_event, Claim.Event):
                    case = str(r.domain_event.originator_id)
                    positions[case] = max(positions.get(case, 0), r.notification.id)
            app.last_recordings = []
            for command in batch:
                case = str(claim_id(app.namespace, command.kwargs["creditor"], command.kwargs["invoice"]))
                if case in positions:
                    watch.expect(case, positions[case], saved)
            issued += len(batch)
            batches += 1
        progress(elapsed)
        time.sleep(max(0.0, 0.02 - (time.time() - began - elapsed)))
    seconds = time.time() - began
    return {
        "offered_commands_per_s": sizes.e2e_rate,
        "seconds": round(seconds, 1),
        "commands": issued,
        "achieved_commands_per_s": round(issued / seconds, 1),
        "events": events,
        "events_per_s": round(events / seconds, 1),
        "refused": refused,
        "batches": batches,
        "writer_delay_ms_p99": round(percentile(behind_ms, 99), 1) if behind_ms else None,
    }


def _spread(values: Sequence[float]) -> dict[str, float | int | None]:
    if not values:
        return {"count": 0, "p50": None, "p95": None, "p99": None, "max": None}
    return {
        "count": len(values),
        "p50": round(percentile(values, 50), 1),
        "p95": round(percentile(values, 95), 1),
        "p99": round(percentile(values, 99), 1),
        "max": round(max(values), 1),
    }


# --- 6. bounds: short profiles of the stages that missed ---------------------------------------


@contextmanager
def profiled(out: dict[str, Any], what: str, follow: Sequence[str] = ()) -> Iterator[None]:
    """cProfile the block (this thread only); ``out`` gets the top 5 functions by own time, the
    own time by area, and the calls and cumulative time of the functions named in ``follow``."""
    profile = cProfile.Profile()
    began = time.perf_counter()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        stats: Any = pstats.Stats(profile)  # .stats and .total_tt are not in typeshed
        out.update(
            profiled=what,
            profile_seconds=round(time.perf_counter() - began, 2),
            top_functions=top_functions(stats.stats, stats.total_tt),
            time_by_area=time_by_area(stats.stats, stats.total_tt),
        )
        for name in follow:
            hits = [v for (_, _, fn), v in stats.stats.items() if fn == name]
            out[name] = {"calls": sum(h[1] for h in hits), "cumulative_s": round(sum(h[3] for h in hits), 4)}


def profile_ingest(settings: Settings, resources: Resources, sizes: Sizes) -> dict[str, Any]:
    schema = resources.schema("profile_ingest")
    app = app_for(settings, schema)
    bound: dict[str, Any] = {}
    try:
        claims = max(sizes.profile_commands // 3, 1)
        with app.unit_of_work():
            setup(app, CREDITOR, max(claims // 4, 1), date(2025, 1, 1))
        commands = list(norwegian_claims(CREDITOR, claims, max(claims // 4, 1)))[: sizes.profile_commands]
        with profiled(bound, f"{len(commands)} commands in one unit_of_work on PostgreSQL"):
            with app.unit_of_work():
                for command in commands:
                    execute(app, command)
    finally:
        app.close()
    return bound


def profile_growing_store(settings: Settings, schema: str, claims: int, count: int) -> dict[str, Any]:
    """``count`` more commands of the workload (the claims after the first ``claims``) on a store
    that already holds ``claims`` claims: the time per command and per aggregate load there."""
    app = app_for(settings, schema)
    more = (
        c for c in norwegian_claims(CREDITOR, claims + count, max(claims // 4, 1)) if int(c.kwargs["invoice"]) >= claims
    )
    commands = list(itertools.islice(more, count))
    out: dict[str, Any] = {}
    try:
        began = time.perf_counter()
        with profiled(out, f"{len(commands)} more commands on the store of {claims} claims", follow=["select_events"]):
            with app.unit_of_work():
                for command in commands:
                    execute(app, command)
        seconds = time.perf_counter() - began
    finally:
        app.close()
    loads = out["select_events"]
    out.update(
        ms_per_command=round(seconds / len(commands) * 1000, 3),
        store_reads_per_command=round(loads["calls"] / len(commands), 2),
        ms_per_store_read=round(loads["cumulative_s"] / loads["calls"] * 1000, 3) if loads["calls"] else None,
    )
    return out


def profile_publish(settings: Settings, resources: Resources, schema: str) -> dict[str, Any]:
    topic = resources.topic("profile-publish")
    resources.topics.append(f"{topic}-schemas")
    options = PublisherOptions(topic=topic, schemas_topic=f"{topic}-schemas", pg_schema=schema)
    ensure_topics_at(settings.kafka_bootstrap, [case_events_spec(topic), schemas_spec(options.schemas_topic)])
    bound: dict[str, Any] = {}
    with profiled(bound, f"run_publisher(once=True) over {schema}"):
        run_publisher(settings, stop_event=threading.Event(), once=True, options=options)
    return bound


def _first_messages(settings: Settings, topic: str, count: int) -> list[list[Message]]:
    batches, taken = [], 0
    for batch in read_partition_range(settings.kafka_bootstrap, topic, batch=count):
        batches.append(batch[: count - taken])
        taken += len(batches[-1])
        if taken >= count:
            break
    return batches


def profile_projection(
    settings: Settings, resources: Resources, topic: str, sizes: Sizes, *, one_at_a_time: bool
) -> dict[str, Any]:
    """The runner's ``Applier`` over the topic's first messages: all three projections in one
    transaction (the live runner), or each projection alone in turn (what ``rebuild`` does)."""
    batches = _first_messages(settings, topic, sizes.profile_messages)
    count = sum(len(b) for b in batches)
    suffix = resources.suffix("profile_rebuild" if one_at_a_time else "profile_project")
    cases = cases_schema_for(suffix)
    targets = [ProjectionTarget(p, schema_name(p.name, suffix=suffix)) for p in all_projections()]
    decoder = Decoder(SchemaStore.from_directory(SCHEMAS_DIR))
    bound: dict[str, Any] = {}
    with psycopg.connect(settings.pg_dsn) as conn:
        for t in targets:
            ensure_projection(conn, t.projection, t.schema, cases)
        groups = [[t] for t in targets] if one_at_a_time else [targets]
        what = "each projection alone (as rebuild)" if one_at_a_time else "all three in one transaction"
        with profiled(bound, f"Applier over the first {count} messages of {topic}, {what}"):
            for group in groups:
                applier = Applier(conn, group, decoder, cases_schema=cases)
                for batch in batches:
                    applier.apply_batch(batch)
    return bound


# --- the run ------------------------------------------------------------------------------------


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
    }  # fmt: skip


class Bench:
    """The stages in order; each result lands in ``raw`` as it comes, the figures at the end."""

    def __init__(self, settings: Settings, sizes: Sizes, budget_s: float) -> None:
        self.settings, self.sizes, self.budget_s = settings, sizes, budget_s
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
        self.say(f"ingest baseline: plain eventsourcing Application, {fmt_count(small['events'])} events")
        plain = raw["ingest_plain"] = measure_plain_ingest(settings, r, small["events"], s.time_box_s)
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

        suffix_small, suffix_large = r.suffix("small"), r.suffix("large")
        self.say(f"project: Kafka runner, {fmt_count(publish['events'])} events")
        project_small = raw["project_small"] = self._project(topic_small, suffix_small)
        self.say(f"project baseline: eventsourcing ProjectionRunner on {small['schema']}")
        es = raw["project_eventsourcing"] = measure_eventsourcing_projection(
            settings, small["schema"], r.suffix("es"), s.time_box_s
        )
        self.say(f"project growth: Kafka runner, {fmt_count(publish_large['events'])} events")
        project_large = raw["project_large"] = self._project(topic_large, suffix_large)

        self.say(f"end-to-end: {s.e2e_rate:g} commands/s for {s.e2e_seconds:g} s, publisher and projector processes")
        e2e = raw["end_to_end"] = measure_end_to_end(settings, r, s)

        candidates = [(topic_large, suffix_large, project_large), (topic_small, suffix_small, project_small)]
        topic, suffix, live = self._rebuild_candidate(candidates)
        self.say(f"rebuild: all three projections from {fmt_count(live['records'])} events of {topic}")
        rebuilt = raw["rebuild"] = self._rebuild(topic, suffix, live["records"])

        from kravsak.bench import api as api_stage  # its own module; it imports this one

        self.say("api: bulk invoice intake and single-command latency through the HTTP API")
        api = raw["api"] = api_stage.measure(settings, quick=s == QUICK)

        figures = [
            self._ingest_figure(small, plain),
            self._publish_figure(publish, producer, publish_large),
            self._project_figure(project_small, es),
            self._e2e_figure(e2e),
            self._rebuild_figure(rebuilt, live),
            self._growth_figure("growth_ingest", "ingest", small, large, "seconds", "events"),
            self._growth_figure("growth_project", "project", project_small, project_large, "apply_seconds", "records"),
            *self._memory_figures(e2e["memory"]),
            *api_stage.figures(api),
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
        with _progress() as bar:
            task = bar.add_task(f"projecting {topic} (ledger, limitation, audit)", total=None)
            result = measure_projection(self.settings, topic, suffix, progress=lambda k: bar.advance(task, k))
        result["us_per_event"] = per_event_us(result["apply_seconds"], result["records"])
        return result

    def _rebuild_candidate(
        self, candidates: Sequence[tuple[str, str, dict[str, Any]]]
    ) -> tuple[str, str, dict[str, Any]]:
        """The largest topic whose rebuild fits the budget, estimated from its live projection rate
        (a rebuild reads the topic once per projection: about 0.7 × the live rate, measured)."""
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
        with _progress() as bar:
            task = bar.add_task("rebuilding ledger, limitation, audit (each from offset 0)", total=3 * events)
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

    def _ingest_figure(self, small: dict[str, Any], plain: dict[str, Any]) -> Figure:
        return Figure(
            "ingest",
            small["events_per_s"],
            "events/s",
            f"{fmt_number(small['events_per_s'])} events/s · {fmt_number(small['commands_per_s'])} commands/s\n"
            f"{fmt_count(small['events'])} events, CollectionApp, unit_of_work of {small['batch']}",
            baseline=plain["events_per_s"],
            baseline_shown=f"{fmt_number(plain['events_per_s'])} events/s (= commands/s)\nplain Application, one "
            f"save per command, {fmt_count(plain['events'])} events",
            target=TARGETS["ingest"],
            details={
                "kravsak": small,
                "baseline": plain,
                "commands_ratio": ratio(small["commands_per_s"], plain["commands_per_s"]),
            },
        )

    def _publish_figure(self, publish: dict[str, Any], raw: dict[str, Any], large: dict[str, Any]) -> Figure:
        return Figure(
            "publish",
            publish["events_per_s"],
            "events/s",
            f"{fmt_number(publish['events_per_s'])} events/s\n{fmt_count(publish['events'])} events, store → broker "
            f"ack\n(at {fmt_count(large['events'])}: {fmt_number(large['events_per_s'])} events/s)",
            baseline=raw["events_per_s"],
            baseline_shown=f"{fmt_number(raw['events_per_s'])} events/s\nraw producer, the same "
            f"{fmt_count(raw['events'])} records (ceiling)",
            target=TARGETS["publish"],
            details={"kravsak": publish, "baseline": raw, "kravsak_large": large},
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
            f"commands/s achieved, {e2e['seconds']:g} s"
        )
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
            "rebuild": lambda: profile_projection(settings, r, small_topic, s, one_at_a_time=True),
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


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def print_report(document: Mapping[str, Any], figures: Sequence[Figure], path: Path) -> None:
    out = Console(width=None if sys.stdout.isatty() else 150)
    m = document["machine"]
    title = (
        f"kravsak bench {document['date']} · {m['cores']} cores, {m['ram_gib']} GiB, Python {m['python']} · "
        f"commit {m['git_commit'][:10]}{' (dirty)' if m['git_dirty'] else ''} · load average "
        f"{m['load_average_at_start'][0]} → {m['load_average_at_end'][0]} · {document['wall_seconds'] / 60:.1f} min"
    )
    out.print(render_table(figures, title=title))
    for f in figures:
        if f.bound and f.bound.get("top_functions"):
            out.print(render_bound(f))
        elif f.bound and f.name == "end_to_end":
            b = f.bound
            out.print(
                f"bound of end to end: save → broker p50/p99 {fmt_number(b['save_to_broker_ms']['p50'])}/"
                f"{fmt_number(b['save_to_broker_ms']['p99'])} ms, broker → ledger p50/p99 "
                f"{fmt_number(b['broker_to_ledger_ms']['p50'])}/{fmt_number(b['broker_to_ledger_ms']['p99'])} ms; "
                f"the writer achieved {fmt_number(b['achieved_commands_per_s'])} commands/s "
                f"({fmt_number(b['saved_events_per_s'])} events/s)"
            )
        elif f.bound and f.name == "growth_ingest":
            sizes = ", ".join(
                f"at {fmt_count(int(events))} events {b['ms_per_command']} ms/command, "
                f"{b['store_reads_per_command']} store reads/command, {b['ms_per_store_read']} ms/read"
                for events, b in f.bound["at"].items()
            )
            out.print(f"bound of growth ingest ({f.bound['measured']}): {sizes}")
    for note in document["notes"]:
        out.print(f"note: {note}")
    out.print(f"written: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def render_bound(figure: Figure) -> Table:
    bound = figure.bound or {}
    areas = ", ".join(f"{area} {share * 100:.0f} %" for area, share in list(bound["time_by_area"].items())[:4])
    table = Table(
        title=f"bound of {figure.name.replace('_', ' ')}: {bound['profiled']} ({bound['profile_seconds']} s "
        f"profiled)\nown time by area: {areas}; top 5 functions by own time:",
        title_justify="left",
    )
    for column in ("function", "calls", "own s", "cumulative s", "share"):
        table.add_column(column, justify="left" if column == "function" else "right")
    for row in bound["top_functions"]:
        share = f"{row['share'] * 100:.0f} %" if row["share"] is not None else "—"
        table.add_row(row["function"], str(row["calls"]), f"{row['own_s']:.3f}", f"{row['cumulative_s']:.3f}", share)
    return table


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
    args = parser.parse_args(argv)
    logs.configure("console", level=os.environ.get("KRAVSAK_LOG_LEVEL", "WARNING"))
    settings = load_settings()
    sizes = QUICK if args.quick else Sizes()
    started = datetime.now(UTC)
    machine = machine_info(settings)
    bench = Bench(settings, sizes, args.budget_minutes * 60)
    try:
        figures = bench.run()
    finally:
        console.rule(f"[bold]clean-up[/]  [dim]{bench.elapsed():.0f} s[/]", align="left")
        bench.notes += bench.resources.cleanup()
    machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
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
