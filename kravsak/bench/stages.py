"""The run's sizes and resources, and the main job's own stages: ingest through ``CollectionApp``
and publish with ``run_publisher`` (projection and rebuild: ``kravsak.bench.project``)."""

from __future__ import annotations

import resource
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consumers.kafka_access import client_args
from consumers.publisher import PublisherOptions, publisher_lag, run_publisher
from consumers.topics import case_events_spec, ensure_topics_at, schemas_spec
from kravsak.bench import domain as bench_domain
from kravsak.bench.figures import per_event_us
from kravsak.bench.report import progress_bar
from kravsak.bench.scratch import app_for, create_event_store, delete_topics, drop_event_store, drop_schemas
from kravsak.bench.workload import EVENTS_PER_CLAIM
from kravsak.settings import Settings


@dataclass(frozen=True)
class Sizes:
    small: int = 10_000
    """Events of the ingest, publish-small and projection comparisons, and the growth's first point."""
    large: int = 100_000
    """Events of the growth's second point, the publish figure and the largest rebuild candidate."""
    uow_batch: int = 500
    e2e_rate: float = 500.0
    e2e_seconds: float = 20.0
    e2e_warm_up_seconds: float = 3.0
    """Load offered before the measured ``e2e_seconds``: the processes' first batches of each kind (their
    statements prepared, caches filled) are reported apart as the cold start, not in the steady p99."""
    e2e_debtors: int = 500
    profile_commands: int = 500
    profile_messages: int = 2000
    time_box_s: float = 30.0
    """Longest run of a one-commit-per-event baseline (its rate does not depend on its length)."""


QUICK = Sizes(
    small=2_000,
    large=6_000,
    e2e_seconds=5.0,
    e2e_warm_up_seconds=1.0,
    profile_commands=200,
    profile_messages=500,
    time_box_s=15,
)


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

        admin = KafkaAdminClient(**client_args(self.settings.kafka_bootstrap), client_id="kravsak-bench")
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


def measure_ingest(settings: Settings, resources: Resources, events: int, batch: int) -> dict[str, Any]:
    schema = resources.schema(f"ingest{events}")
    app = app_for(settings, schema)
    try:
        result: dict[str, Any] = bench_domain.measure(claims_for(events), app, batch=batch)
    finally:
        app.close()
    result.update(schema=schema, batch=batch, us_per_event=per_event_us(result["seconds"], result["events"]))
    return result


def measure_ingest_writers(
    settings: Settings, resources: Resources, events: int, batch: int, processes: int = 2
) -> dict[str, Any]:
    """``measure_ingest``'s workload in ``processes`` writer processes over disjoint cases (``bench_domain.
    measure_writers``), on a store of its own."""
    schema = resources.schema(f"ingest{events}x{processes}")
    result: dict[str, Any] = bench_domain.measure_writers(
        claims_for(events), lambda: app_for(settings, schema), processes=processes, batch=batch
    )
    result.update(schema=schema, batch=batch, us_per_event=per_event_us(result["seconds"], result["events"]))
    return result


def _cpu_seconds() -> tuple[float, float]:
    """User and system CPU of this process and of its children that ended (the publisher's preparing process)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def measure_publish(settings: Settings, schema: str, topic: str) -> dict[str, Any]:
    """``run_publisher(once=True)`` from position 0 to lag 0 (topics made beforehand, so the time
    is the store → broker path; the producer's start and the schema records are in it). Beside the rate, the CPU
    per event of the publisher (this process: reading, sending, kafka-python's sender thread; the bench's progress
    threads are in it too, a few ms) and of its preparing process (ended when the publisher closes)."""
    options = PublisherOptions(topic=topic, schemas_topic=f"{topic}-schemas", pg_schema=schema)
    ensure_topics_at(settings.kafka_bootstrap, [case_events_spec(topic), schemas_spec(options.schemas_topic)])
    total = publisher_lag(settings.pg_dsn, name=topic, schema=schema)
    stop, done = threading.Event(), threading.Event()
    with progress_bar() as bar:
        task = bar.add_task(f"publishing {schema} to {topic}", total=total)

        def watch() -> None:
            while not done.wait(0.5):
                bar.update(task, completed=total - publisher_lag(settings.pg_dsn, name=topic, schema=schema))

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        began, cpu_began = time.perf_counter(), _cpu_seconds()
        try:
            report = run_publisher(settings, stop_event=stop, once=True, options=options)
        finally:
            done.set()
            watcher.join()
        seconds = time.perf_counter() - began
        own, child = (after - before for after, before in zip(_cpu_seconds(), cpu_began, strict=True))
    return {
        "events": report.published,
        "seconds": seconds,
        "events_per_s": report.published / seconds,
        "cpu_us_per_event": {
            "publisher": per_event_us(own, report.published),
            "prepare_process": per_event_us(child, report.published),
        },
        "compression": options.compression,
        "batch": options.batch_size,
        "topic": topic,
    }
