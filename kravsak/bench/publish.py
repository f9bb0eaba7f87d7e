"""Publisher benchmarks against the running stack, each in a PostgreSQL schema and topics of its own.

``python -m kravsak.bench.publish throughput [--events 100000]``
    Stores the events first (the domain workload run in memory, its stored events copied into a
    fresh event-store schema in order), then times ``run_publisher(once=True)`` from position 0
    to lag 0: events/s from the store to acknowledged on Kafka.

``python -m kravsak.bench.publish latency [--rate 200] [--seconds 30]``
    Runs the publisher as its own process (``python -m kravsak.services publisher``, as in production)
    while a writer saves commands through ``CollectionApp`` at a steady rate of events/s. Per event
    it compares the wall-clock time ``save()`` returned with the time the broker appended the
    record (the topic uses ``message.timestamp.type=LogAppendTime``; with ``acks=all`` on one
    replica the acknowledgement follows the append at once) and reports p50/p95/p99/max.

``python -m kravsak.bench.publish pair [--events 100000] [--reps 3]``
    Stores the workload once through ``CollectionApp`` (as ``make bench`` does), then ``reps`` times: the
    publisher from position 0 to lag 0 (``make bench``'s ``measure_publish``) and right after it the raw producer on
    the publisher's own records (``measure_raw_producer``), each to topics of their own. Prints each pair's rates,
    ratio and CPU per event: on a machine whose speed varies from minute to minute, pairs measured back to back
    compare code where single figures do not (ADR 0041).

All drop their schema and topics afterwards (``--keep`` keeps them).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.persistence import Recording, StoredEvent

from consumers.kafka_access import client_args
from domain.application import CollectionApp
from kravsak import logs
from kravsak.bench.report import progress_bar
from kravsak.bench.scratch import app_for, copy_events, create_event_store, delete_topics, drop_event_store
from kravsak.bench.workload import CREDITOR, EVENTS_PER_CLAIM, execute, norwegian_claims, setup, workload_notifications
from kravsak.settings import Settings, load_settings

# --- publisher and raw producer, pair by pair ----------------------------------------------------


@dataclass(frozen=True)
class Pair:
    events: int
    publisher: float
    """events/s of ``run_publisher(once=True)`` from position 0 to lag 0, its start included."""
    raw: float
    """events/s of the raw producer on the publisher's records, right after."""
    cpu_publisher: float
    cpu_children: float
    cpu_raw: float


def measure_pairs(settings: Settings, events: int, reps: int, *, keep: bool = False) -> Iterator[Pair]:
    """``reps`` pairs on one store of about ``events`` workload events (``make bench``'s stages, back to back)."""
    from kravsak.bench import domain as bench_domain
    from kravsak.bench.baselines import measure_raw_producer
    from kravsak.bench.stages import Resources, claims_for, measure_publish

    resources = Resources(settings)
    try:
        schema = resources.schema("pair")
        app = app_for(settings, schema)
        try:
            bench_domain.measure(claims_for(events), app, batch=500)
        finally:
            app.close()
        for n in range(reps):
            topic = resources.topic(f"pair{n}")
            resources.topics.append(f"{topic}-schemas")  # measure_publish's schemas topic
            published = measure_publish(settings, schema, topic)
            raw = measure_raw_producer(settings, schema, resources.topic(f"raw{n}"))
            cpu = published["cpu_us_per_event"]
            yield Pair(
                published["events"], published["events_per_s"], raw["events_per_s"],
                cpu["publisher"], cpu["prepare_process"], raw["cpu_us_per_event"],
            )  # fmt: skip
    finally:
        if not keep:
            resources.cleanup()


# --- throughput --------------------------------------------------------------------------------


@dataclass
class Throughput:
    events: int
    store_seconds: float
    publish_seconds: float
    compression: str | None

    @property
    def events_per_s(self) -> float:
        return self.events / self.publish_seconds


def measure_throughput(settings: Settings, events: int, *, keep: bool = False, batch: int = 2000) -> Throughput:
    from consumers.publisher import PublisherOptions, publisher_lag, run_publisher

    tag = uuid.uuid4().hex[:8]
    schema, topic = f"bench_{tag}", f"bench-case-events-{tag}"
    options = PublisherOptions(topic=topic, schemas_topic=f"{topic}-schemas", pg_schema=schema, batch_size=batch)
    claims = max(int(events / EVENTS_PER_CLAIM), 1)
    with progress_bar() as progress:
        task = progress.add_task("domain workload in memory", total=None)
        notifications = workload_notifications(claims)[:events]
        began = time.perf_counter()
        create_event_store(settings.pg_dsn, schema)
        app = app_for(settings, schema)
        progress.update(task, description=f"storing in schema {schema}", total=len(notifications), completed=0)
        copy_events(app, notifications, progress=lambda n: progress.advance(task, n))
        app.close()
        stored = time.perf_counter() - began
        progress.update(task, description=f"publishing to {topic}", completed=0)
        stop = threading.Event()
        result: dict[str, Any] = {}

        def publish() -> None:
            try:
                result["report"] = run_publisher(settings, stop_event=stop, once=True, options=options)
            except BaseException as exc:  # shown by the main thread
                result["error"] = exc

        began = time.perf_counter()
        worker = threading.Thread(target=publish, name="publisher")
        worker.start()
        while worker.is_alive():
            worker.join(0.25)
            lag = publisher_lag(settings.pg_dsn, name=topic, schema=schema)
            progress.update(task, completed=len(notifications) - lag)
        seconds = time.perf_counter() - began
    try:
        if "error" in result:
            raise result["error"]
        return Throughput(len(notifications), stored, seconds, options.compression)
    finally:
        if not keep:
            drop_event_store(settings.pg_dsn, schema)
            delete_topics(settings.kafka_bootstrap, [topic, f"{topic}-schemas"])


# --- latency -----------------------------------------------------------------------------------


class TimedApp(CollectionApp):
    """`CollectionApp` that notes when each event's save() returned (same tables: same name)."""

    name = CollectionApp.name

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.saved_at: dict[int, float] = {}

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[Any]]:
        recordings = super().save(*objs, **kwargs)
        now = time.time()
        for recording in recordings:
            self.saved_at[recording.notification.id] = now
        return recordings


@dataclass
class Latency:
    events: int
    seconds: float
    delays_ms: list[float]

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.delays_ms)
        return ordered[min(int(len(ordered) * p / 100), len(ordered) - 1)]


def measure_latency(
    settings: Settings, rate: float, seconds: float, *, writer: str = "store", keep: bool = False
) -> Latency:
    """Save → broker-append delay per event at a steady `rate` of events/s for `seconds`.

    `writer="store"`: each event of the workload (made in memory beforehand) is appended in its own
    transaction through the recorder, as `save()` does after the domain logic: cheap enough to hold
    the rate on a small machine. `writer="app"`: the writer runs the commands through
    `CollectionApp` (domain logic, aggregate loads and saves included); on two cores that caps the
    rate at a few hundred events/s.
    """
    from consumers.topics import case_events_spec, ensure_topics_at, schemas_spec

    tag = uuid.uuid4().hex[:8]
    schema, topic = f"bench_{tag}", f"bench-case-events-{tag}"
    spec = case_events_spec(topic)
    ensure_topics_at(
        settings.kafka_bootstrap,
        [
            replace(spec, configs={**spec.configs, "message.timestamp.type": "LogAppendTime"}),
            schemas_spec(f"{topic}-s"),
        ],
    )
    create_event_store(settings.pg_dsn, schema)
    app = TimedApp(settings.eventsourcing_env(POSTGRES_SCHEMA=schema))
    debtors = 500
    if writer == "app":
        setup(app, CREDITOR, debtors, date(2025, 1, 1))
        commands = norwegian_claims(CREDITOR, 10**7, debtors)

        def write_next() -> None:
            execute(app, next(commands))

    else:
        premade = workload_notifications(max(int(rate * seconds / EVENTS_PER_CLAIM * 1.2), 10))
        parties = next(i for i, n in enumerate(premade) if not n.topic.endswith(".Registered"))
        copy_events(app, premade[:parties])  # the creditor and debtors: before the clock starts
        pending = iter(premade[parties:])

        def write_next() -> None:
            n = next(pending)
            ids = app.recorder.insert_events([StoredEvent(n.originator_id, n.originator_version, n.topic, n.state)])
            now = time.time()
            for notification_id in ids or ():
                app.saved_at[notification_id] = now

    app.saved_at.clear()  # the set-up is not part of the steady load
    env = {
        **os.environ,
        "KRAVSAK_PG_SCHEMA": schema,
        "KRAVSAK_PUBLISHER_TOPIC": topic,
        "KRAVSAK_PUBLISHER_SCHEMAS_TOPIC": f"{topic}-s",
        "KRAVSAK_LOG_FORMAT": "json",
    }
    log_file = Path(tempfile.gettempdir()) / f"kravsak-bench-publisher-{tag}.log"
    with log_file.open("wb") as out:
        publisher = subprocess.Popen(
            [sys.executable, "-m", "kravsak.services", "publisher"], env=env, stdout=out, stderr=out
        )
    try:
        # let the publisher start and catch up with the set-up before the clock starts
        _wait_for_lag_zero(settings, topic, schema, 60, need_position=True)
        began = time.monotonic()
        with progress_bar() as progress:
            task = progress.add_task(f"saving ~{rate:g} events/s ({writer} writer)", total=seconds)
            while (elapsed := time.monotonic() - began) < seconds:
                due = began + len(app.saved_at) / rate
                if due > time.monotonic():
                    time.sleep(due - time.monotonic())
                write_next()
                progress.update(task, completed=min(elapsed, seconds))
            written = time.monotonic() - began
            progress.update(task, description="waiting for the publisher to catch up", completed=seconds)
            _wait_for_lag_zero(settings, topic, schema, 60)
        publisher.terminate()
        publisher.wait(30)
        appended = _append_times(settings.kafka_bootstrap, topic, set(app.saved_at))
        delays = [(appended[n] - app.saved_at[n]) * 1000 for n in app.saved_at]
        return Latency(len(app.saved_at), written, delays)
    finally:
        if publisher.poll() is None:
            publisher.kill()
        app.close()
        if not keep:
            drop_event_store(settings.pg_dsn, schema)
            delete_topics(settings.kafka_bootstrap, [topic, f"{topic}-s"])
            log_file.unlink(missing_ok=True)


def _wait_for_lag_zero(
    settings: Settings, topic: str, schema: str, timeout_s: float, *, need_position: bool = False
) -> None:
    from consumers.publisher import publisher_lag, read_position

    def started() -> bool:
        with psycopg.connect(settings.pg_dsn, autocommit=True) as conn:
            try:
                return read_position(conn, topic, schema) > 0
            except psycopg.errors.UndefinedTable:
                return False

    deadline = time.monotonic() + timeout_s
    while publisher_lag(settings.pg_dsn, name=topic, schema=schema) > 0 or (need_position and not started()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the publisher did not catch up within {timeout_s:g} s")
        time.sleep(0.1)


def _append_times(bootstrap: str, topic: str, positions: set[int]) -> dict[int, float]:
    """Broker append time (s since the epoch) of each wanted notification position on the topic."""
    from kafka import KafkaConsumer, TopicPartition

    from consumers.publisher import SCHEMAS_DIR
    from consumers.wire.codec import SchemaStore, decode

    store = SchemaStore.from_directory(SCHEMAS_DIR)
    consumer = KafkaConsumer(**client_args(bootstrap), enable_auto_commit=False, group_id=None)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(partitions)
        found: dict[int, float] = {}
        deadline = time.monotonic() + 60
        while any(consumer.position(tp) < ends[tp] for tp in partitions) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    position = decode(record.value, writer_lookup=store.by_fingerprint)["notification_position"]
                    if position in positions:
                        found.setdefault(position, record.timestamp / 1000)
        return found
    finally:
        consumer.close()


# --- command line ------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kravsak.bench.publish", description=__doc__.split("\n")[0])
    parser.add_argument("what", nargs="?", choices=["throughput", "latency", "pair", "all"], default="all")
    parser.add_argument("--reps", type=int, default=3, help="publisher and raw producer pairs (pair)")
    parser.add_argument("--events", type=int, default=100_000, help="events to publish (throughput)")
    parser.add_argument("--batch", type=int, default=2000, help="notifications per publisher round (throughput)")
    parser.add_argument("--rate", type=float, default=200.0, help="events/s the writer saves (latency)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the steady load (latency)")
    parser.add_argument(
        "--writer", choices=["store", "app"], default="store",
        help="latency: append stored events one per transaction (store) or run commands through CollectionApp (app)",
    )  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the schema and topics")
    args = parser.parse_args(argv)
    logs.configure("console", level=os.environ.get("KRAVSAK_LOG_LEVEL", "WARNING"))
    settings = load_settings()
    if args.what in ("throughput", "all"):
        t = measure_throughput(settings, args.events, keep=args.keep, batch=args.batch)
        print(
            f"throughput: {t.events} events published in {t.publish_seconds:.1f} s = {t.events_per_s:,.0f} events/s "
            f"(batch {args.batch}, compression {t.compression or 'none'}; storing them took {t.store_seconds:.1f} s)"
        )
    if args.what == "pair":
        for n, pair in enumerate(measure_pairs(settings, args.events, args.reps, keep=args.keep), start=1):
            print(
                f"pair {n}: publisher {pair.publisher:,.0f} events/s, raw producer {pair.raw:,.0f} events/s: "
                f"x{pair.publisher / pair.raw:.3f}; CPU per event publisher {pair.cpu_publisher:.1f} + preparing "
                f"{pair.cpu_children:.1f} us, raw {pair.cpu_raw:.1f} us ({pair.events} events)",
                flush=True,
            )
    if args.what in ("latency", "all"):
        lat = measure_latency(settings, args.rate, args.seconds, writer=args.writer, keep=args.keep)
        print(
            f"latency ({args.writer} writer): {lat.events} events saved at {lat.rate:.0f} events/s for "
            f"{lat.seconds:.0f} s; save -> broker "
            f"append: p50 {lat.percentile(50):.1f} ms, p95 {lat.percentile(95):.1f} ms, "
            f"p99 {lat.percentile(99):.1f} ms, max {max(lat.delays_ms):.1f} ms, "
            f"mean {statistics.fmean(lat.delays_ms):.1f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
